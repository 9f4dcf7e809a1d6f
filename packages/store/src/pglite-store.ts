import { PGlite } from '@electric-sql/pglite';
import { PgliteFolderLock } from './pglite-folder-lock';
import type { SqlExecutor, Store } from './store';

/**
 * The embedded driver: PGlite, persisted in a folder (or in memory when none is given). One process owns
 * the folder (`PgliteFolderLock`: a second open throws `StoreInUseError`); PGlite runs one statement at a
 * time, and a transaction holds it until it ends.
 */
export class PgliteStore implements Store {
  readonly driver = 'pglite';

  private constructor(
    private readonly db: PGlite,
    private readonly lock: PgliteFolderLock | undefined,
  ) {}

  /** `folderLock: false` when the caller holds the folder's lock already (the PGlite thread's owner does). */
  static async open(dataDir?: string, options: { folderLock?: boolean } = {}): Promise<PgliteStore> {
    const lock =
      dataDir !== undefined && options.folderLock !== false ? PgliteFolderLock.acquire(dataDir) : undefined;
    try {
      const db = dataDir === undefined ? new PGlite() : new PGlite(dataDir);
      await db.waitReady;
      return new PgliteStore(db, lock);
    } catch (error) {
      lock?.release();
      throw error;
    }
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

  async close(): Promise<void> {
    try {
      if (!this.db.closed) await this.db.close();
    } finally {
      this.lock?.release();
    }
  }
}
