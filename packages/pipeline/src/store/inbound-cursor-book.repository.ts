import type { Store } from '@tessera/store';

/** Where each destination's inbound poll (unsubscribes, bounces) left off, so a restart resumes there. */
export class InboundCursorBook {
  constructor(private readonly store: Store) {}

  async get(destinationId: string): Promise<string | undefined> {
    const [row] = await this.store.query<{ cursor: string }>(
      'SELECT cursor FROM inbound_cursors WHERE destination_id = $1',
      [destinationId],
    );
    return row?.cursor;
  }

  /** When it was polled, too: a cursor that stops moving shows a poll that stopped. */
  async polledAt(destinationId: string): Promise<Date | undefined> {
    const [row] = await this.store.query<{ polled_at: Date }>(
      'SELECT polled_at FROM inbound_cursors WHERE destination_id = $1',
      [destinationId],
    );
    return row?.polled_at;
  }

  async set(destinationId: string, cursor: string, polledAt: Date): Promise<void> {
    await this.store.query(
      `INSERT INTO inbound_cursors (destination_id, cursor, polled_at) VALUES ($1, $2, $3)
       ON CONFLICT (destination_id) DO UPDATE SET cursor = EXCLUDED.cursor, polled_at = EXCLUDED.polled_at`,
      [destinationId, cursor, polledAt],
    );
  }
}
