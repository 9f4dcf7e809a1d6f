import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ThreadedPgliteStore } from './pglite-thread/threaded-pglite-store';
import { PostgresStore } from './postgres-store';
import { migrate } from './schema-migrations';
import type { Store } from './store';

export interface StoreLocation {
  /** PostgreSQL connection string; unset means the embedded PGlite. */
  databaseUrl?: string;
  /** The data folder; PGlite lives in its `pglite` sub-folder. */
  dataDir: string;
}

/** Opens the store the configuration names and brings its schema up to date. */
export async function openStore(location: StoreLocation): Promise<Store> {
  let store: Store;
  if (location.databaseUrl !== undefined) {
    store = new PostgresStore(location.databaseUrl);
  } else {
    const dir = join(location.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    store = await ThreadedPgliteStore.open(dir);
  }
  try {
    await migrate(store);
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}
