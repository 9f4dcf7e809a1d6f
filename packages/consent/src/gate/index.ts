export {
  allowedOperations,
  CONSENT_VERDICTS,
  decideConsent,
  decidingState,
  filterOperations,
  MESSAGE_TRIGGERING_OPERATIONS,
  SUPPRESSION_OPERATIONS,
  type ConsentDecisionInput,
  type ConsentVerdict,
  type FilteredOperations,
  type RefusedOperation,
} from './consent-decision';
export {
  ConsentGate,
  DEFAULT_CONSENT_CACHE_SIZE,
  DEFAULT_CONSENT_CACHE_TTL_MS,
  type ConsentDecisionWithState,
  type ConsentGateOptions,
  type ConsentRequest,
} from './consent-gate';
export {
  StoreConsentStateReader,
  type ConsentStateLoad,
  type ConsentStateReader,
} from './consent-state-reader';
export { LruCache } from './lru-cache';
