import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { openScratchStore, PiiVault, type Store } from '@tessera/store';
import { IdentityGraph, type IdentityRecord } from '../src';
import { emptyGraph, partition } from './graph-fixture';

// A small universe makes collisions (shared emails, two member ids of one brand, placeholders) frequent.
const memberIds = fc.constantFrom('SD1', 'SD2', 'SD3');
const customerIds = fc.constantFrom('C1', 'C2');
const emails = fc.constantFrom(
  'ana@example.com',
  'bruno@example.com',
  'family@example.com',
  'carla@example.com',
);
const phones = fc.constantFrom('07700 900001', '07700 900002', '+44 7700 900003');
const anonymousIds = fc.constantFrom('anon-1', 'anon-2', 'anon-3');
const placeholders = {
  email: fc.constantFrom('test@test.com', 'noemail@example.com', 'null', ' '),
  phone: fc.constantFrom('0000000000', '00000 000000', 'unknown'),
  customer_id: fc.constantFrom('null', 'undefined', '0', '-1', 'anonymous', 'guest'),
};

const identifiers = fc
  .record(
    {
      member_id: memberIds,
      customer_id: customerIds,
      email: emails,
      phone: phones,
      anonymous_id: anonymousIds,
    },
    { requiredKeys: [] },
  )
  .filter((value) => Object.keys(value).length > 0)
  .map((value) => (value.member_id === undefined ? value : { ...value, brand: 'sports-direct' }));

const records = fc.array(identifiers, { minLength: 1, maxLength: 8 }).chain((list) =>
  fc
    .uniqueArray(fc.integer({ min: 0, max: 10_000 }), { minLength: list.length, maxLength: list.length })
    .map((times) =>
      list.map((value, index): IdentityRecord => ({
        brand: 'sports-direct',
        eventTime: new Date(Date.UTC(2025, 0, 1) + times[index] * 60_000),
        eventSource: 'property',
        eventId: `e${index}`,
        identifiers: value,
      })),
    ),
);

/** Resolves records in batches of the given sizes, in the given order. */
async function resolveInBatches(
  graph: IdentityGraph,
  ordered: IdentityRecord[],
  batchSizes: number[],
): Promise<void> {
  let start = 0;
  let batch = 0;
  while (start < ordered.length) {
    const size = Math.max(1, batchSizes[batch++ % batchSizes.length]);
    await graph.resolveIdentities(ordered.slice(start, start + size));
    start += size;
  }
}

describe('identity resolution properties (PGlite, fast-check)', () => {
  let store: Store;
  let graph: IdentityGraph;
  beforeAll(async () => {
    store = await openScratchStore('pglite');
    graph = new IdentityGraph({ store, vault: new PiiVault([randomBytes(32)]) });
  });
  afterAll(() => store.close());

  it('does not depend on the order or batching in which events arrive', async () => {
    await fc.assert(
      fc.asyncProperty(
        records,
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
        fc.func(fc.integer()),
        async (list, batchesA, batchesB, shuffleKey) => {
          await emptyGraph(store);
          await resolveInBatches(graph, list, batchesA);
          const first = await partition(store);
          await emptyGraph(store);
          const shuffled = [...list].sort((a, b) => shuffleKey(a.eventId) - shuffleKey(b.eventId));
          await resolveInBatches(graph, shuffled.reverse(), batchesB);
          expect(await partition(store)).toEqual(first);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('never re-merges a reversed merge when the events are replayed', async () => {
    await fc.assert(
      fc.asyncProperty(records, fc.nat(), async (list, pick) => {
        await emptyGraph(store);
        const merges = [];
        for (const item of list) merges.push(...(await graph.resolveIdentities([item])).merges);
        const joins = merges.filter((merge) => !merge.rule.startsWith('rekey'));
        fc.pre(joins.length > 0);
        const merge = joins[pick % joins.length];
        const lineage = await store.query<{ reverted_by: number | null }>(
          'SELECT reverted_by FROM identity_lineage WHERE id = $1',
          [merge.lineageId],
        );
        fc.pre(lineage[0]?.reverted_by === null);
        await graph.unmerge({ lineageId: merge.lineageId, actor: 'property', reason: 'wrong merge' });
        await graph.resolveIdentities(list);
        await graph.resolveIdentities([...list].reverse());
        const apart = await store.query<{ together: boolean }>(
          `SELECT low.customer_id = high.customer_id AS together FROM identity_blocked_pairs b
             JOIN identity_identifiers low ON low.id = b.low_identifier
             JOIN identity_identifiers high ON high.id = b.high_identifier`,
        );
        expect(apart.length).toBeGreaterThan(0);
        expect(apart.every((row) => !row.together)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('never lets a placeholder value join two profiles', async () => {
    const placeholderRecords = fc.array(
      fc.record({
        member_id: fc.string({ minLength: 1, maxLength: 6 }).map((value) => `M${value.replace(/\s/g, '')}`),
        email: placeholders.email,
        phone: placeholders.phone,
        customer_id: placeholders.customer_id,
      }),
      { minLength: 2, maxLength: 6 },
    );
    await fc.assert(
      fc.asyncProperty(placeholderRecords, async (list) => {
        await emptyGraph(store);
        const result = await graph.resolveIdentities(
          list.map((value, index) => ({
            brand: 'sports-direct',
            eventTime: new Date(Date.UTC(2025, 0, 1, 0, index)),
            identifiers: { ...value, brand: 'sports-direct' },
          })),
        );
        const distinctMembers = new Set(list.map((value) => value.member_id.trim()));
        const distinctProfiles = new Set(result.records.map((resolved) => resolved.customerId));
        expect(distinctProfiles.size).toBe(distinctMembers.size);
        const stored = await store.query<{ type: string }>('SELECT DISTINCT type FROM identity_identifiers');
        expect(stored).toEqual([{ type: 'member' }]);
        expect(result.merges).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });
});
