import type { IngestedEvent } from '@tessera/queues';
import type { PiiVault, Store } from '@tessera/store';
import { rawEventContext } from '../store/raw-event-log.repository';

/** How the console names a stored event: its CloudEvent source and id, and the registered source if known. */
export interface StoredEventReference {
  sourceId?: string;
  source: string;
  id: string;
}

/** A stored event, and the profile the resolve stage gave it (null: not resolved, or no usable identifier). */
export interface StoredEvent {
  ingested: IngestedEvent;
  resolved: boolean;
  customerId: string | null;
}

interface StoredRow {
  source_id: string;
  event_source: string;
  event_id: string;
  payload_ciphertext: string;
  payload_key_id: string;
  customer_id: string | null;
  resolved: boolean;
}

const COLUMNS = `r.source_id, r.event_source, r.event_id, r.payload_ciphertext, r.payload_key_id, r.customer_id,
  r.resolved_at IS NOT NULL AS resolved`;

/**
 * Reads single events back from the raw event log (`raw_events`), opened with the vault context the log
 * sealed them under. Read only.
 */
export class StoredEventReader {
  constructor(
    private readonly store: Store,
    private readonly vault: PiiVault,
  ) {}

  /** The events stored under this reference, newest first: several when registered sources share an event. */
  async find(reference: StoredEventReference): Promise<StoredEvent[]> {
    const rows =
      reference.sourceId === undefined
        ? await this.store.query<StoredRow>(
            // The key leads with source_id: walk its few distinct values down the primary key (one probe
            // each) rather than scanning the log for an event source and id.
            `WITH RECURSIVE sources (source_id) AS (
               SELECT min(source_id) FROM raw_events
               UNION ALL
               SELECT (SELECT min(r.source_id) FROM raw_events r WHERE r.source_id > s.source_id)
                 FROM sources s WHERE s.source_id IS NOT NULL)
             SELECT ${COLUMNS}
               FROM sources s
               JOIN raw_events r
                 ON r.source_id = s.source_id AND r.event_source = $1 AND r.event_id = $2
              ORDER BY r.received_at DESC`,
            [reference.source, reference.id],
          )
        : await this.store.query<StoredRow>(
            `SELECT ${COLUMNS}
               FROM raw_events r WHERE r.source_id = $1 AND r.event_source = $2 AND r.event_id = $3`,
            [reference.sourceId, reference.source, reference.id],
          );
    return rows.map((row) => ({
      ingested: JSON.parse(
        this.vault.decrypt(
          { ciphertext: row.payload_ciphertext, keyId: row.payload_key_id },
          rawEventContext({ sourceId: row.source_id, eventSource: row.event_source, eventId: row.event_id }),
        ),
      ) as IngestedEvent,
      resolved: row.resolved,
      customerId: row.customer_id,
    }));
  }
}
