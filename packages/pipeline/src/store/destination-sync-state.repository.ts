import stringify from 'safe-stable-stringify';
import type { PiiVault, SqlExecutor, Store } from '@tessera/store';

/** What a destination holds of one customer, as far as Tessera knows (an absent key: unknown). */
export interface SyncRecord {
  /** The ESP's own id of the contact. */
  externalId?: string;
  /** Attribute → keyed hash of the value the ESP accepted (`$email`, `$phone` for the contact points). */
  attributes: Record<string, string>;
  /** Segment, list or tag → whether the contact is in it. */
  memberships: Record<string, boolean>;
  /** True when `memberships` names every one the ESP holds (Tessera created the contact there). */
  membershipsComplete?: boolean;
  /** Channel → the subscription state the ESP holds. */
  subscriptions: Record<string, 'subscribed' | 'unsubscribed'>;
}

/** What a flush learned of one customer: merged into the stored record (keys not named are kept). */
export type SyncChange = Partial<SyncRecord>;

interface Row {
  customer_id: string;
  external_id: string | null;
  attribute_hashes: Record<string, string> | string;
  memberships: Record<string, boolean> | string;
  memberships_complete: boolean;
  subscriptions: Record<string, 'subscribed' | 'unsubscribed'> | string;
}

const json = <T>(value: T | string): T => (typeof value === 'string' ? (JSON.parse(value) as T) : value);

const COLUMNS = [
  'destination_id',
  'customer_id',
  'external_id',
  'attribute_hashes',
  'memberships',
  'memberships_complete',
  'subscriptions',
] as const;

/** Keyed attribute hashes are this long (64 bits): enough to tell a change, too short to be worth a guess. */
const HASH_LENGTH = 16;

/**
 * The sync state of every destination (`destination_sync_state`): what each ESP last accepted per customer.
 * Read once per flush for the flush's customers, written once per flush with what the ESP accepted.
 */
export class DestinationSyncState {
  constructor(
    private readonly store: Store,
    private readonly vault: PiiVault,
  ) {}

  /** The keyed hash of an attribute's value (JSON with sorted keys, so equal values hash equal). */
  hash(attribute: string, value: unknown): string {
    return this.vault.blindIndex(`sync:${attribute}`, stringify(value) ?? 'null').slice(0, HASH_LENGTH);
  }

  async read(destinationId: string, customerIds: readonly string[]): Promise<Map<string, SyncRecord>> {
    const records = new Map<string, SyncRecord>();
    if (customerIds.length === 0) return records;
    const rows = await this.store.query<Row>(
      `SELECT customer_id, external_id, attribute_hashes, memberships, memberships_complete, subscriptions
         FROM destination_sync_state WHERE destination_id = $1 AND customer_id = ANY($2::text[])`,
      [destinationId, [...new Set(customerIds)]],
    );
    for (const row of rows) {
      records.set(row.customer_id, {
        ...(row.external_id === null ? {} : { externalId: row.external_id }),
        attributes: json(row.attribute_hashes),
        memberships: json(row.memberships),
        ...(row.memberships_complete ? { membershipsComplete: true } : {}),
        subscriptions: json(row.subscriptions),
      });
    }
    return records;
  }

  /**
   * Merges what the ESP accepted into the stored records, one statement for the whole flush; customers the
   * identity graph no longer has (erased) are left out.
   */
  async write(
    destinationId: string,
    changes: ReadonlyMap<string, SyncChange>,
    executor: SqlExecutor = this.store,
  ): Promise<void> {
    if (changes.size === 0) return;
    const rows = [...changes].map(([customerId, change]) => [
      destinationId,
      customerId,
      change.externalId ?? null,
      JSON.stringify(change.attributes ?? {}),
      JSON.stringify(change.memberships ?? {}),
      change.membershipsComplete === true,
      JSON.stringify(change.subscriptions ?? {}),
    ]);
    // Only for customers the identity graph still has: a flush that ends after an erasure must not write the
    // erased person back (the erasure forgets the rows; a late write would bring them back).
    await executor.query(
      `INSERT INTO destination_sync_state (${COLUMNS.join(', ')})
       SELECT u.* FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::bool[], $7::jsonb[])
         AS u(${COLUMNS.join(', ')})
       WHERE EXISTS (SELECT 1 FROM identity_profiles p WHERE p.customer_id = u.customer_id)
       ON CONFLICT (destination_id, customer_id) DO UPDATE SET
         external_id = COALESCE(EXCLUDED.external_id, destination_sync_state.external_id),
         attribute_hashes = destination_sync_state.attribute_hashes || EXCLUDED.attribute_hashes,
         memberships = destination_sync_state.memberships || EXCLUDED.memberships,
         memberships_complete = destination_sync_state.memberships_complete OR EXCLUDED.memberships_complete,
         subscriptions = destination_sync_state.subscriptions || EXCLUDED.subscriptions,
         updated_at = now()`,
      COLUMNS.map((_, index) => rows.map((row) => row[index])),
    );
  }

  /** Forgets customers at one destination (their profile was deleted there) or, without one, everywhere. */
  async forget(customerIds: readonly string[], destinationId?: string): Promise<number> {
    if (customerIds.length === 0) return 0;
    const rows = await this.store.query<{ customer_id: string }>(
      destinationId === undefined
        ? `DELETE FROM destination_sync_state WHERE customer_id = ANY($1::text[]) RETURNING customer_id`
        : `DELETE FROM destination_sync_state WHERE customer_id = ANY($1::text[]) AND destination_id = $2
           RETURNING customer_id`,
      destinationId === undefined ? [[...customerIds]] : [[...customerIds], destinationId],
    );
    return rows.length;
  }
}
