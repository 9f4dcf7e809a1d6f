import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** The points mapping every test destination of the sports brand carries. */
export const POINTS_MAPPING = { mappings: { points: 'profile.?points_balance.orValue(0)' } };

/**
 * Writes the e2e tests' workspace file into `dataDir` and returns its path: the brand `sd` (Sports Direct), its
 * source `sd-loyalty` signed with `secret`, and one destination `sd-<type>` per entry, in the order given,
 * each with the points mapping.
 */
export function writeSportsWorkspace(
  dataDir: string,
  secret: string,
  destinations: readonly { type: string; settings: Record<string, unknown> }[],
): string {
  const workspaceFile = join(dataDir, 'workspace.json');
  writeFileSync(
    workspaceFile,
    JSON.stringify({
      brands: [{ id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' }],
      sources: [{ id: 'sd-loyalty', brand: 'sd', secrets: [secret] }],
      destinations: destinations.map(({ type, settings }) => ({
        id: `sd-${type}`,
        brand: 'sd',
        type,
        settings,
        mappings: POINTS_MAPPING,
      })),
    }),
  );
  return workspaceFile;
}
