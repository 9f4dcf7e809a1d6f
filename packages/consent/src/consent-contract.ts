/** Channels consent is given for. */
export type ConsentChannel = 'email' | 'sms' | 'mobile_push';
export const CONSENT_CHANNELS: readonly ConsentChannel[] = ['email', 'sms', 'mobile_push'];

export type ConsentDecision = 'granted' | 'withdrawn';
export type LegalBasis = 'consent' | 'soft_opt_in' | 'legitimate_interest';

/** The kind of contact point a consent is about (push consent is keyed by device). */
export type SubjectType = 'email' | 'phone' | 'device';

/**
 * Who a consent is about: a contact point, by type and blind index of its normalized value (the same index
 * the identity graph uses), never by person. `customerId` is recorded when known, for history and export;
 * it never moves consent (a merge carries no opt-in to another address or brand).
 */
export interface ConsentSubject {
  type: SubjectType;
  /** PiiVault.blindIndex(type, normalized value). */
  key: string;
  customerId?: string;
}

/** What a consent applies to. */
export interface ConsentScope {
  brand: string;
  channel: ConsentChannel;
  /** Default `marketing`. */
  purpose: string;
}

/** Where a ledger entry came from. */
export interface ConsentProvenance {
  /** The source system (a registered source id, or `esp:<destination id>`, or `console`). */
  source: string;
  noticeVersion?: string;
  /** A proof reference, e.g. a double-opt-in token or a form submission id. */
  proofRef?: string;
  proof?: Record<string, unknown>;
  /** When the member decided (ISO 8601). */
  capturedAt: string;
  /** When Tessera recorded it (ISO 8601). */
  receivedAt: string;
  /** Who recorded it: `source:<id>`, `esp:<destination id>`, `admin:<user>`. */
  actor: string;
}

/** One line of the append-only consent ledger. */
export interface ConsentEntry {
  subject: ConsentSubject;
  scope: ConsentScope;
  decision: ConsentDecision;
  legalBasis: LegalBasis;
  provenance: ConsentProvenance;
  /** Makes a retried input a no-op: the event's source + id, or the ESP's unsubscribe event id. */
  dedupeKey: string;
}

/** The current consent of one contact point for one scope, derived from the ledger. */
export interface ConsentState {
  subject: { type: SubjectType; key: string };
  scope: ConsentScope;
  decision: ConsentDecision;
  legalBasis: LegalBasis;
  capturedAt: string;
  /** Ledger id of the entry that decided it. */
  ledgerId: number;
}
