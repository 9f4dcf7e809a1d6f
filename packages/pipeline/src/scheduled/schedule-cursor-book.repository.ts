import type { Store } from '@tessera/store';

/**
 * Where each scheduled scan stopped (`schedule_cursors`), by name: a run picks up after the last row it
 * handled, so a crash repeats at most one page and a finished run is never redone.
 */
export class ScheduleCursorBook {
  constructor(
    private readonly store: Store,
    private readonly options: { now?: () => Date } = {},
  ) {}

  async get<T>(name: string): Promise<T | undefined> {
    const [row] = await this.store.query<{ cursor: T }>(
      'SELECT cursor FROM schedule_cursors WHERE name = $1',
      [name],
    );
    return row?.cursor;
  }

  async set(name: string, cursor: unknown): Promise<void> {
    if (cursor === undefined || cursor === null)
      throw new TypeError(`cursor of ${name} must be a JSON value`);
    await this.store.query(
      `INSERT INTO schedule_cursors (name, cursor, updated_at) VALUES ($1, $2::jsonb, $3)
       ON CONFLICT (name) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = EXCLUDED.updated_at`,
      [name, JSON.stringify(cursor), (this.options.now ?? (() => new Date()))()],
    );
  }
}
