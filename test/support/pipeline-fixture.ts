import { waitFor as waitUntil } from '@tessera/testing';
import { PostgresStore, TEST_POSTGRES_URL } from '@tessera/store';

/** Waiting helper shared with the packages' tests (every 100 ms here: these wait on whole processes). */
export async function waitFor<T>(
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  what: string,
  ms = 20_000,
): Promise<T> {
  return waitUntil(read, done, what, { timeoutMs: ms, intervalMs: 100 });
}

/** A fresh database on the test PostgreSQL, for a process under test and the test to share; dropped after. */
export async function createScratchDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tessera_${label}_${process.pid}_${Date.now()}`;
  const admin = new PostgresStore(TEST_POSTGRES_URL, { maxConnections: 1 });
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.close();
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const dropper = new PostgresStore(TEST_POSTGRES_URL, { maxConnections: 1 });
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.close();
    },
  };
}
