import { randomBytes } from 'node:crypto';
import { ThreadedPgliteStore } from './pglite-thread/threaded-pglite-store';
import { PostgresStore } from './postgres-store';
import { migrate } from './schema-migrations';
import type { Store, StoreDriver } from './store';

/** The PostgreSQL server tests and benchmarks use: the real one on loopback, trust auth. */
export const TEST_POSTGRES_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const STORE_DRIVERS: readonly StoreDriver[] = ['pglite', 'postgres'];

/**
 * A migrated, empty store for tests and benchmarks: PGlite in memory, or a fresh database on the real
 * PostgreSQL that is dropped again on close. Never a mock.
 */
export async function openScratchStore(driver: 'postgres'): Promise<PostgresStore>;
export async function openScratchStore(driver: StoreDriver): Promise<Store>;
export async function openScratchStore(driver: StoreDriver): Promise<Store> {
  if (driver === 'pglite') {
    const store = await ThreadedPgliteStore.open();
    await migrate(store);
    return store;
  }
  const admin = new PostgresStore(TEST_POSTGRES_URL, { maxConnections: 1 });
  const name = `tessera_scratch_${randomBytes(6).toString('hex')}`;
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  const store = new PostgresStore(url.toString());
  await migrate(store);
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    const dropper = new PostgresStore(TEST_POSTGRES_URL, { maxConnections: 1 });
    try {
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await dropper.close();
    }
  };
  return store;
}
