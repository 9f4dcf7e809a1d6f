export {
  ConsentLedger,
  type AppendResult,
  type HistoryFilter,
  type LedgerEntry,
} from './consent-ledger.repository';
export {
  foldConsent,
  foldConsentStates,
  replayConsent,
  compareConsentEntries,
  consentScopeKey,
  groupByConsentScope,
  REGRANT_WITHOUT_PROOF,
  REGRANT_REPLAYED_PROOF,
  observedWithdrawalYields,
  type FoldableEntry,
  type RefusedEntry,
} from './consent-fold';
export {
  entriesFromConsentEvent,
  entriesFromInboundUnsubscribes,
  inboundDedupeKey,
  contactPoint as consentContactPoint,
  DEFAULT_PURPOSE,
  type InboundContext,
} from './consent-entries.mapper';
export {
  SuppressionList,
  ALL_BRANDS,
  type Suppression,
  type SuppressionInput,
  type SuppressionListFilter,
} from './suppression-list.repository';
export {
  AuditLog,
  writeAuditRows,
  type AuditInput,
  type AuditQuery,
  type AuditRecord,
} from './audit-log.repository';
export { isBlindIndex } from './blind-index';
export { type ConsentChangeListener, notifyConsentChange } from './consent-ledger.repository';
