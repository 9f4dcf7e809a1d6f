/** A data subject request: a copy of everything held on a person (access), or its deletion (erasure). */
export type DsrType = 'access' | 'erasure';

/**
 * `open` → `running` → `completed` | `failed` (a failed request can be run again). An erasure waiting for a
 * paused destination is `open` again, its result there `pending`, and runs on once the destination is resumed.
 */
export type DsrStatus = 'open' | 'running' | 'completed' | 'failed';

/** A contact point of the request, by blind index only. */
export interface DsrSubject {
  type: 'email' | 'phone';
  key: string;
}

export interface DsrIdentities {
  email?: string;
  phone?: string;
  customerId?: string;
}

export interface OpenDsrInput {
  type: DsrType;
  /** How the person identified themselves; stored as blind indexes and resolved customer ids only. */
  identities: DsrIdentities;
  /** `admin:<user>`, `system:<job>`, … */
  requestedBy: string;
  /** The brand the request came through (phone numbers without a country take its default). */
  brand?: string;
}

/**
 * What a destination answered to an erasure: `ok`, refused for good, to be retried, or failed by an error; or
 * `pending`: it holds the subject's data and has not been asked yet (it is paused: asked once resumed).
 */
export type DsrDestinationStatus = 'ok' | 'rejected' | 'retry' | 'error' | 'pending';

export interface DsrDestinationResult {
  destinationId: string;
  status: DsrDestinationStatus;
  detail: string | null;
  updatedAt: Date;
}

export interface DsrRequest {
  id: string;
  type: DsrType;
  status: DsrStatus;
  /** Blind indexes of every contact point linked to the subject. */
  subjectKeys: string[];
  /** The profiles the identities resolved to, with every profile merged into them. */
  customerIds: string[];
  requestedAt: Date;
  /** Our target: 72 hours after the request. The legal deadlines are in `detail.legalDeadlines`. */
  dueAt: Date;
  completedAt: Date | null;
  requestedBy: string;
  detail: Record<string, unknown>;
}

/** Our answer target, and the legal deadlines (GDPR art. 12(3): one month; CCPA: 45 days). */
export const DSR_TARGET_HOURS = 72;
export const DSR_LEGAL_DEADLINE_DAYS = { gdpr: 30, ccpa: 45 } as const;

export class DsrRequestError extends Error {}
