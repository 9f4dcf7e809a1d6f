import { PGlite } from '@electric-sql/pglite';
import type { SqlExecutor, Store } from './store';

/**
 * The embedded driver: PGlite, persisted in a folder (or in memory when none is given). One process owns
 * the folder; PGlite runs one statement at a time, and a transaction holds it until it ends.
 */
export class PgliteStore implements Store {
  readonly driver = 'pglite';

  private constructor(private readonly db: PGlite) {}

  static async open(dataDir?: string): Promise<PgliteStore> {
    const db = dataDir === undefined ? new PGlite() : new PGlite(dataDir);
    await db.waitReady;
    return new PgliteStore(db);
  }

  async query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]> {
    const result = await this.db.query<Row>(text, params as unknown[] | undefined);
    return result.rows;
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) =>
      work({
        async query<Row>(text: string, params?: readonly unknown[]): Promise<Row[]> {
          return (await tx.query<Row>(text, params as unknown[] | undefined)).rows;
        },
        async execScript(sql: string): Promise<void> {
          await tx.exec(sql);
        },
      }),
    );
  }

  async execScript(sql: string): Promise<void> {
    await this.db.exec(sql);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
