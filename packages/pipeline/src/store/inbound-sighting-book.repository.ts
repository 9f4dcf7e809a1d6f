import type { Store } from '@tessera/store';

/** A contact point (blind index) and channel at one destination. */
export interface SightingKey {
  subjectKey: string;
  channel: string;
}

export interface Sighting extends SightingKey {
  seenAt: Date;
}

const keyOf = (key: SightingKey): string => `${key.subjectKey}\u0000${key.channel}`;

/**
 * When each polling ESP was last seen holding a contact point subscribed (`inbound_subscribed_sightings`): the
 * bound an opt-out the ESP reports without a change time is judged by (it overrides no grant captured after).
 */
export class InboundSightingBook {
  constructor(private readonly store: Store) {}

  /** Records sightings; a row only ever moves forward in time. */
  async record(destinationId: string, sightings: readonly Sighting[]): Promise<void> {
    if (sightings.length === 0) return;
    // One row per key (the latest), or the upsert would touch a row twice in one statement.
    const latest = new Map<string, Sighting>();
    for (const sighting of sightings) {
      const known = latest.get(keyOf(sighting));
      if (known === undefined || sighting.seenAt > known.seenAt) latest.set(keyOf(sighting), sighting);
    }
    const rows = [...latest.values()];
    await this.store.query(
      `INSERT INTO inbound_subscribed_sightings (destination_id, subject_key, channel, seen_at)
       SELECT $1, u.subject_key, u.channel, u.seen_at
         FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS u(subject_key, channel, seen_at)
       ON CONFLICT (destination_id, subject_key, channel) DO UPDATE
         SET seen_at = GREATEST(inbound_subscribed_sightings.seen_at, EXCLUDED.seen_at)`,
      [
        destinationId,
        rows.map((row) => row.subjectKey),
        rows.map((row) => row.channel),
        rows.map((row) => row.seenAt.toISOString()),
      ],
    );
  }

  /** The last sighting of each key at the destination (keys never seen are absent): one query. */
  async lastSeen(destinationId: string, keys: readonly SightingKey[]): Promise<Map<string, Date>> {
    const seen = new Map<string, Date>();
    if (keys.length === 0) return seen;
    const rows = await this.store.query<{ subject_key: string; channel: string; seen_at: Date | string }>(
      `SELECT subject_key, channel, seen_at FROM inbound_subscribed_sightings
        WHERE destination_id = $1 AND subject_key = ANY($2::text[])`,
      [destinationId, [...new Set(keys.map((key) => key.subjectKey))]],
    );
    for (const row of rows)
      seen.set(keyOf({ subjectKey: row.subject_key, channel: row.channel }), new Date(row.seen_at));
    return seen;
  }

  static key(key: SightingKey): string {
    return keyOf(key);
  }
}
