import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { DestinationHarness, type ProfileMerge } from '@tessera/destination-kit';
import { IdentityGraph, type IdentityRecord } from '@tessera/identity-graph';
import type { DeliveryItem } from '@tessera/queues';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { IdentityLineageReader } from '../../src/scheduled/identity-lineage.repository';
import { DeliverStage, type DeadLetter, type SettledItem } from '../../src/stages/deliver-stage.service';
import { RedisProfileVersionGuard } from '../../src/stages/redis-profile-version-guard';
import { mergingDestination } from '../support/merging-destination';

const merger = mergingDestination;

const BRANDS = [
  { id: 'sd', defaultCountry: 'GB' },
  { id: 'fl', defaultCountry: 'GB' },
];

// Merges checked against the real identity graph (both stores) just before the deliver stage sends them.
describe.each(STORE_DRIVERS)('DeliverStage: merges reversed before they are sent, on %s', (driver) => {
  let store: Store;
  let redis: Redis;
  let graph: IdentityGraph;
  let reader: IdentityLineageReader;
  let prefix: string;
  let sequence = 0;

  beforeAll(async () => {
    store = await openScratchStore(driver);
    redis = new Redis(TEST_REDIS_URL);
    graph = new IdentityGraph({ store, vault: new PiiVault([randomBytes(32)]), brands: BRANDS });
    reader = new IdentityLineageReader(store);
    prefix = uniqueRedisPrefix();
  }, 30_000);
  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await store.close();
    await redis.quit();
  });

  async function resolve(identifiers: IdentityRecord['identifiers'], brand = 'sd') {
    sequence += 1;
    return graph.resolveIdentities([
      {
        brand,
        eventTime: new Date(Date.UTC(2026, 1, 1, 0, 0, sequence)),
        eventSource: 'test',
        eventId: `evt-${driver}-${sequence}`,
        identifiers,
      },
    ]);
  }
  const customerOf = async (identifiers: IdentityRecord['identifiers'], brand = 'sd') =>
    (await resolve(identifiers, brand)).records[0]?.customerId ?? '';

  const mergeOf = (customerId: string, mergedCustomerId: string): ProfileMerge => ({
    customerId,
    mergedCustomerId,
    mergedWasGuest: false,
    basis: 'human',
    mergedAt: '2026-02-01T00:00:00.000Z',
  });

  /** A guest that became a member: the guest merged into the member, never reversed. */
  async function standingGuestMerge(tag: string): Promise<ProfileMerge> {
    const guest = await customerOf({ anonymous_id: `device-${tag}`, email: `${tag}@example.com` });
    const member = await customerOf({ anonymous_id: `device-${tag}`, customer_id: `C-${tag}` });
    expect(member).toBe(`C-${tag}`);
    return { ...mergeOf(member, guest), mergedWasGuest: true, basis: 'deterministic' };
  }

  /** Two brands' members merged by hand, then unmerged: the merged-away part lives on under a new id. */
  async function reversedHandMerge(tag: string): Promise<ProfileMerge> {
    const sd = await customerOf({ source_ids: { sd: `SD-${tag}` } });
    const fl = await customerOf({ source_ids: { fl: `FL-${tag}` } }, 'fl');
    const merged = await graph.merge({ customerIds: [sd, fl], actor: 'ops', reason: 'same person' });
    const [done] = merged.merges;
    await graph.unmerge({ lineageId: done?.lineageId ?? 0, actor: 'ops', reason: 'two people' });
    return mergeOf(done?.to ?? '', done?.from ?? '');
  }

  it('tells, in one statement, which merges still stand', async () => {
    const standing = await standingGuestMerge('a');
    const reversed = await reversedHandMerge('b');

    // A group customer id that was merged away keeps its own id when the merge is reversed.
    const older = await customerOf({ source_ids: { sd: 'SD-c' }, email: 'ana-c@example.com' });
    await customerOf({ customer_id: 'C-c', email: 'bruno-c@example.com' });
    const joined = await resolve({ email: 'ana-c@example.com', customer_id: 'C-c' });
    const [groupMerge] = joined.merges;
    expect(groupMerge).toMatchObject({ from: 'C-c', to: older });
    const beforeUnmerge = await reader.mergesStanding([mergeOf(older, 'C-c')]);
    await graph.unmerge({ lineageId: groupMerge?.lineageId ?? 0, actor: 'ops', reason: 'two people' });

    // The survivor merged, later, into an older third profile: the merge still stands there.
    const third = await customerOf({ customer_id: 'C-d' });
    const guest = await customerOf({ anonymous_id: 'device-d', email: 'd@example.com' });
    const member = await customerOf({ anonymous_id: 'device-d', source_ids: { sd: 'SD-d' } });
    const later = mergeOf(member, guest);
    await resolve({ source_ids: { sd: 'SD-d' }, customer_id: 'C-d' });
    expect(member).not.toBe(third);
    expect((await reader.survivors([member])).get(member)).toBe(third);

    expect(beforeUnmerge).toEqual([true]);
    expect(
      await reader.mergesStanding([
        standing,
        reversed,
        mergeOf(older, 'C-c'),
        later,
        mergeOf(standing.customerId, 'nobody'),
        standing,
      ]),
    ).toEqual([true, false, false, true, false, true]);
    expect(await reader.mergesStanding([])).toEqual([]);
  });

  it('drops an unmerged merge with the reason and sends only the standing one', async () => {
    const standing = await standingGuestMerge('e');
    const reversed = await reversedHandMerge('f');
    const harness = await DestinationHarness.start({ definition: merger, settings: {} });
    const records: SettledItem[] = [];
    const letters: DeadLetter[] = [];
    const requeued: DeliveryItem[] = [];
    const stage = new DeliverStage({
      runnerOf: () => harness.runner,
      record: async (entries) => void records.push(...entries),
      deadLetter: async (entries) => void letters.push(...entries),
      requeue: async (_id, items) => void requeued.push(...items),
      versions: new RedisProfileVersionGuard(redis, prefix),
      mergesStanding: (merges) => reader.mergesStanding(merges),
      authFailed: async () => false,
      authSucceeded: async () => undefined,
    });
    const item = (merge: ProfileMerge, key: string): DeliveryItem => ({
      operation: { operation: 'mergeProfiles', item: merge },
      itemKey: key,
      customerId: merge.customerId,
      receivedAt: new Date().toISOString(),
      attempts: 2, // it waited out a cooling-off period
    });
    try {
      const outcome = await stage.handle('merger-1', [item(standing, 'kept'), item(reversed, 'undone')]);

      expect(outcome).toMatchObject({ delivered: 1, undoneMerges: 1, deadLettered: 0, rejected: 0 });
      expect(harness.requests().map((request) => [request.path, request.body])).toEqual([
        ['/merges', [standing]],
      ]);
      expect(records.map((record) => [record.item.itemKey, record.status, record.detail])).toEqual([
        [
          'undone',
          'dropped',
          `merge undone: ${reversed.mergedCustomerId} no longer belongs to ${reversed.customerId}`,
        ],
        ['kept', 'delivered', undefined],
      ]);
      expect(letters).toEqual([]);
      expect(requeued).toEqual([]);
    } finally {
      await harness.close();
    }
  });
});
