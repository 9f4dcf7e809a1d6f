import { randomBytes } from 'node:crypto';
import { openScratchStore, PiiVault, type Store, type StoreDriver } from '@tessera/store';
import { IdentityGraph, type IdentityGraphOptions } from '../src';
import type { IdentityRecord, ResolutionResult } from '../src';

export interface GraphFixture {
  store: Store;
  graph: IdentityGraph;
  vault: PiiVault;
  close(): Promise<void>;
}

/** An identity graph on a fresh, migrated store of the given driver (the real PostgreSQL, or PGlite). */
export async function openGraph(
  driver: StoreDriver,
  options: Partial<Omit<IdentityGraphOptions, 'store' | 'vault'>> = {},
): Promise<GraphFixture> {
  const store = await openScratchStore(driver);
  const vault = new PiiVault([randomBytes(32)]);
  const graph = new IdentityGraph({
    store,
    vault,
    brands: [
      { id: 'sports-direct', defaultCountry: 'GB' },
      { id: 'group', defaultCountry: 'GB' },
      { id: 'flannels', defaultCountry: 'GB' },
    ],
    ...options,
  });
  return { store, graph, vault, close: () => store.close() };
}

let sequence = 0;
/** A record as the resolve stage builds one from an event. */
export function record(
  identifiers: IdentityRecord['identifiers'],
  overrides: Partial<Omit<IdentityRecord, 'identifiers'>> = {},
): IdentityRecord {
  sequence += 1;
  return {
    brand: 'group',
    eventTime: new Date(Date.UTC(2026, 0, 1, 0, 0, sequence)),
    eventSource: 'test',
    eventId: `evt-${sequence}`,
    identifiers,
    ...overrides,
  };
}

/** Every table's rows as text: what a database dump would show. */
export async function dumpAsText(store: Store): Promise<string> {
  const tables = await store.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const rows = await store.query(`SELECT * FROM ${table_name}`);
    parts.push(`${table_name}: ${JSON.stringify(rows)}`);
  }
  return parts.join('\n');
}

/** Empties the graph's tables between property-test runs (cheaper than a new store per run). */
export async function emptyGraph(store: Store): Promise<void> {
  await store.query(
    `TRUNCATE identity_identifiers, identity_edges, identity_rejected_edges, identity_blocked_pairs,
       identity_profiles, identity_match_keys, identity_lineage, identity_outbox, identity_review_pairs,
       identity_link_tokens, identity_bulk_batches RESTART IDENTITY CASCADE`,
  );
}

/** Every identifier's current customer id, keyed by type, scope and lookup key (row ids differ by order). */
export async function partition(store: Store): Promise<Record<string, string>> {
  const rows = await store.query<{ type: string; scope: string; lookup_key: string; customer_id: string }>(
    'SELECT type, scope, lookup_key, customer_id FROM identity_identifiers',
  );
  return Object.fromEntries(
    rows
      .map((row) => [`${row.type}|${row.scope}|${row.lookup_key}`, row.customer_id] as const)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

/** The customer id a resolution gave its `index`th record; a test that expects one fails plainly without. */
export function customerIdOf(result: ResolutionResult, index = 0): string {
  const customerId = result.records[index]?.customerId;
  if (customerId === undefined || customerId === null) {
    throw new Error(`record ${index} resolved to no customer id`);
  }
  return customerId;
}
