import type { PiiVault, Store } from '@tessera/store';
import type { IngestedEvent } from '@tessera/queues';
import { rawEventContext, type RawEventKey } from './raw-event-log.repository';

const PAGE = 500;

interface UnresolvedRow {
  source_id: string;
  event_source: string;
  event_id: string;
  received_at: Date;
  payload_ciphertext: string;
  payload_key_id: string;
}

/**
 * The stored events that belong to no profile: those with no usable identifier, and those not resolved yet.
 * An erasure cannot find them by customer id, so it opens each and asks whether it carries the person.
 */
export class UnresolvedEvents {
  constructor(
    private readonly store: Store,
    private readonly vault: PiiVault,
  ) {}

  /** The keys of the unresolved events `carries` accepts, read a page at a time in the order received. */
  async keysMatching(carries: (event: IngestedEvent) => boolean): Promise<RawEventKey[]> {
    const found: RawEventKey[] = [];
    let after: UnresolvedRow | undefined;
    for (;;) {
      // (customer_id, received_at) is indexed: the null customer ids are read in the order received.
      const rows = await this.store.query<UnresolvedRow>(
        `SELECT source_id, event_source, event_id, received_at, payload_ciphertext, payload_key_id
           FROM raw_events
          WHERE customer_id IS NULL
            AND ($1::timestamptz IS NULL OR (received_at, source_id COLLATE "C", event_source COLLATE "C", event_id COLLATE "C")
                 > ($1::timestamptz, $2::text, $3::text, $4::text))
          ORDER BY received_at, source_id COLLATE "C", event_source COLLATE "C", event_id COLLATE "C"
          LIMIT $5`,
        [
          after?.received_at ?? null,
          after?.source_id ?? null,
          after?.event_source ?? null,
          after?.event_id ?? null,
          PAGE,
        ],
      );
      for (const row of rows) {
        const key = { sourceId: row.source_id, eventSource: row.event_source, eventId: row.event_id };
        const event = JSON.parse(
          this.vault.decrypt(
            { ciphertext: row.payload_ciphertext, keyId: row.payload_key_id },
            rawEventContext(key),
          ),
        ) as IngestedEvent;
        if (carries(event)) found.push(key);
      }
      if (rows.length < PAGE) return found;
      after = rows[rows.length - 1];
    }
  }
}
