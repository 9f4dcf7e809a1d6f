import type { SqlExecutor } from '@tessera/store';
import type {
  ConsentChannel,
  ConsentDecision,
  ConsentState,
  LegalBasis,
  SubjectType,
} from '../consent-contract';

/** What the gate needs from the store for a batch of contact points of one brand. */
export interface ConsentStateLoad {
  /** Every current state of those contact points for that brand (all channels and purposes). */
  states: ConsentState[];
  /** The contact points suppressed for that brand or for every brand (`'*'`). */
  suppressed: Set<string>;
}

export interface ConsentStateReader {
  load(subjectKeys: readonly string[], brand: string): Promise<ConsentStateLoad>;
}

interface ConsentStateRow {
  subject_key: string;
  brand: string;
  channel: string;
  purpose: string;
  subject_type: string;
  decision: string;
  legal_basis: string;
  captured_at: Date | string;
  ledger_id: number | string;
}

/**
 * Reads `consent_state` and `suppression_list`: one set-based query each for a whole batch of contact points
 * (two round trips, whatever the batch size).
 */
export class StoreConsentStateReader implements ConsentStateReader {
  constructor(private readonly store: SqlExecutor) {}

  async load(subjectKeys: readonly string[], brand: string): Promise<ConsentStateLoad> {
    if (subjectKeys.length === 0) return { states: [], suppressed: new Set() };
    const keys = [...new Set(subjectKeys)];
    const [rows, suppressedRows] = await Promise.all([
      this.store.query<ConsentStateRow>(
        `SELECT subject_key, brand, channel, purpose, subject_type, decision, legal_basis, captured_at, ledger_id
           FROM consent_state
          WHERE subject_key = ANY($1::text[]) AND brand = $2`,
        [keys, brand],
      ),
      this.store.query<{ subject_key: string }>(
        `SELECT DISTINCT subject_key FROM suppression_list
          WHERE subject_key = ANY($1::text[]) AND brand IN ($2, '*')`,
        [keys, brand],
      ),
    ]);
    return {
      states: rows.map((row) => ({
        subject: { type: row.subject_type as SubjectType, key: row.subject_key },
        scope: { brand: row.brand, channel: row.channel as ConsentChannel, purpose: row.purpose },
        decision: row.decision as ConsentDecision,
        legalBasis: row.legal_basis as LegalBasis,
        capturedAt:
          row.captured_at instanceof Date
            ? row.captured_at.toISOString()
            : new Date(row.captured_at).toISOString(),
        ledgerId: Number(row.ledger_id),
      })),
      suppressed: new Set(suppressedRows.map((row) => row.subject_key)),
    };
  }
}
