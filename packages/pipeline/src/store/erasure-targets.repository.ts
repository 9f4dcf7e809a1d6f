import type { Store } from '@tessera/store';

/**
 * Which destinations hold a person's data, for an erasure's fan-out: those with a sync state row of one of
 * their customer ids (what the ESP last accepted), or a delivery of theirs in the delivery log (it reached the
 * ESP). A destination with neither was never sent the person and is not asked to delete them.
 */
export class ErasureTargets {
  constructor(private readonly store: Store) {}

  async holding(customerIds: readonly string[]): Promise<Set<string>> {
    if (customerIds.length === 0) return new Set();
    const rows = await this.store.query<{ destination_id: string }>(
      `SELECT destination_id FROM destination_sync_state WHERE customer_id = ANY($1::text[])
       UNION
       SELECT destination_id FROM delivery_log WHERE customer_id = ANY($1::text[]) AND status = 'delivered'`,
      [[...new Set(customerIds)]],
    );
    return new Set(rows.map((row) => row.destination_id));
  }
}
