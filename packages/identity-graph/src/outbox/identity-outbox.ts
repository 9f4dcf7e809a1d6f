import type { MembershipMergedData, MembershipSplitData } from '@tessera/events';
import type { Store } from '@tessera/store';

/** A graph change waiting to be published, as the event catalog's `data` for its type. */
export type OutboxEvent =
  | { id: number; type: 'membership.merged'; eventId: string; data: MembershipMergedData; createdAt: Date }
  | { id: number; type: 'membership.split'; eventId: string; data: MembershipSplitData; createdAt: Date };

/**
 * The identity graph's transactional outbox: `membership.merged` and `membership.split` events are written in
 * the same transaction as the change they announce, and the pipeline publishes them from here, so none is
 * lost between a commit and a queue. Each has a stable event id (`tessera-lineage-<id>`), so publishing
 * twice after a crash is a duplicate the consumers already drop.
 */
export class IdentityOutbox {
  constructor(private readonly store: Store) {}

  /** The oldest unpublished events, at most `limit`. */
  async pending(limit = 500): Promise<OutboxEvent[]> {
    const rows = await this.store.query<{
      id: number;
      type: OutboxEvent['type'];
      event_id: string;
      data: MembershipMergedData & MembershipSplitData;
      created_at: Date;
    }>(
      `SELECT id, type, event_id, data, created_at FROM identity_outbox
        WHERE published_at IS NULL ORDER BY id LIMIT $1`,
      [Math.max(1, Math.min(limit, 10_000))],
    );
    return rows.map((row) => ({
      id: row.id,
      type: row.type,
      eventId: row.event_id,
      data: row.data,
      createdAt: row.created_at,
    }));
  }

  /** Marks events published; returns how many were still unpublished. */
  async markPublished(ids: number[]): Promise<number> {
    if (ids.length === 0) return 0;
    const rows = await this.store.query<{ id: number }>(
      `UPDATE identity_outbox SET published_at = now()
        WHERE id = ANY($1::bigint[]) AND published_at IS NULL RETURNING id`,
      [ids],
    );
    return rows.length;
  }
}
