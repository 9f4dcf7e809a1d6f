import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { DestinationHarness, ManualClock, type ProfileMerge } from '@tessera/destination-kit';
import { IdentityGraph } from '@tessera/identity-graph';
import type { DeliveryItem } from '@tessera/queues';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { DeliverStage, type SettledItem } from '../../src/stages/deliver-stage.service';
import { RETIRED_CONTACT_NOT_HELD } from '../../src/stages/merge-holdings';
import { RedisProfileVersionGuard } from '../../src/stages/redis-profile-version-guard';
import { DestinationSyncState } from '../../src/store/destination-sync-state.repository';
import { mergingDestination } from '../support/merging-destination';

const merger = mergingDestination;

const NOW = Date.parse('2026-03-10T12:00:00Z');

// "Holds both contacts": the merge goes only where the sync state says the ESP accepted the retired contact,
// with the ESP's ids of both; the cooling-off holds it back (retried when it ends, never sent early).
describe.each(STORE_DRIVERS)(
  'DeliverStage: merges where the destination holds the retired contact, on %s',
  (driver) => {
    let store: Store;
    let redis: Redis;
    let sync: DestinationSyncState;
    let graph: IdentityGraph;
    let prefix: string;
    let sequence = 0;

    beforeAll(async () => {
      store = await openScratchStore(driver);
      redis = new Redis(TEST_REDIS_URL);
      const vault = new PiiVault([randomBytes(32)]);
      sync = new DestinationSyncState(store, vault);
      graph = new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] });
      prefix = uniqueRedisPrefix();
    }, 30_000);
    afterAll(async () => {
      await deleteKeysWithPrefix(redis, prefix);
      await store.close();
      await redis.quit();
    });

    const empty = { attributes: {}, memberships: {}, subscriptions: {} };

    /** A member profile in the identity graph (sync state is kept only for customers the graph has). */
    async function customer(memberId: string): Promise<string> {
      sequence += 1;
      const resolved = await graph.resolveIdentities([
        {
          brand: 'sd',
          eventTime: new Date(NOW),
          eventSource: 'test',
          eventId: `evt-${driver}-${sequence}`,
          identifiers: { customer_id: `${memberId}-${driver}` },
        },
      ]);
      return resolved.records[0]?.customerId ?? '';
    }
    const mergeOf = (customerId: string, mergedCustomerId: string, mergedAt: number): ProfileMerge => ({
      customerId,
      mergedCustomerId,
      mergedWasGuest: false,
      basis: 'deterministic',
      mergedAt: new Date(mergedAt).toISOString(),
    });
    const item = (merge: ProfileMerge, key: string): DeliveryItem => ({
      operation: { operation: 'mergeProfiles', item: merge },
      itemKey: key,
      customerId: merge.customerId,
      receivedAt: new Date(NOW).toISOString(),
      attempts: 0,
    });

    async function bench(destinationId: string, clock: ManualClock) {
      const harness = await DestinationHarness.start({
        definition: merger,
        settings: {},
        runner: { clock },
      });
      const records: SettledItem[] = [];
      const requeued: { items: DeliveryItem[]; delayMs: number }[] = [];
      const stage = new DeliverStage({
        runnerOf: () => harness.runner,
        record: async (entries) => void records.push(...entries),
        deadLetter: async () => undefined,
        requeue: async (_id, items, delayMs) => void requeued.push({ items, delayMs }),
        versions: new RedisProfileVersionGuard(redis, `${prefix}${destinationId}:`),
        mergesStanding: async (merges) => merges.map(() => true),
        authFailed: async () => false,
        authSucceeded: async () => undefined,
        syncState: sync,
        now: () => clock.now(),
      });
      return { harness, records, requeued, stage };
    }

    it('sends a merge only where the retired contact is held, with both ESP ids, then forgets the retired one', async () => {
      const destinationId = `merger-held-${driver}`;
      const [K1, R1, K2] = [await customer('K1'), await customer('R1'), await customer('K2')];
      await sync.write(
        destinationId,
        new Map([
          [K1, { ...empty, externalId: 'esp-K1' }],
          [R1, { ...empty, externalId: 'esp-R1' }],
          [K2, { ...empty, externalId: 'esp-K2' }],
        ]),
      );
      const { harness, records, stage } = await bench(destinationId, new ManualClock(NOW));
      try {
        const held = mergeOf(K1 as string, R1 as string, NOW - 25 * 3_600_000);
        const notHeld = mergeOf(K2 as string, 'R2', NOW - 25 * 3_600_000);

        const outcome = await stage.handle(destinationId, [item(held, 'held'), item(notHeld, 'elsewhere')]);

        expect(outcome).toMatchObject({ delivered: 1, skipped: 1, retried: 0, deadLettered: 0 });
        expect(harness.requests().map((request) => request.body)).toEqual([
          [{ ...held, externalId: 'esp-K1', mergedExternalId: 'esp-R1' }],
        ]);
        expect(records.map((record) => [record.item.itemKey, record.status, record.detail])).toEqual([
          ['elsewhere', 'dropped', RETIRED_CONTACT_NOT_HELD],
          ['held', 'delivered', undefined],
        ]);
        const after = await sync.read(destinationId, [K1, R1, K2] as string[]);
        expect([...after.keys()].sort()).toEqual([K1, K2].sort());
      } finally {
        await harness.close();
      }
    });

    it('holds a merge until the cooling-off ends: put back for the time left, never sent early, then sent', async () => {
      const destinationId = `merger-cooling-${driver}`;
      const R3 = await customer('R3');
      await sync.write(destinationId, new Map([[R3, { ...empty, externalId: 'esp-R3' }]]));
      const clock = new ManualClock(NOW);
      const { harness, records, requeued, stage } = await bench(destinationId, clock);
      try {
        const fresh = mergeOf('K3', R3, NOW - 3_600_000);

        const first = await stage.handle(destinationId, [item(fresh, 'fresh')]);

        expect(first).toMatchObject({ delivered: 0, retried: 1 });
        expect(requeued.map((entry) => entry.delayMs)).toEqual([23 * 3_600_000]);
        expect(harness.requests()).toEqual([]);
        expect((await sync.read(destinationId, [R3])).has(R3)).toBe(true);

        clock.advance(23 * 3_600_000);
        const [again] = requeued[0]?.items ?? [];
        const second = await stage.handle(destinationId, [again as DeliveryItem]);

        expect(second).toMatchObject({ delivered: 1, retried: 0 });
        expect(harness.requests().map((request) => request.body)).toEqual([
          [{ ...fresh, mergedExternalId: 'esp-R3' }],
        ]);
        expect(records.at(-1)).toMatchObject({ status: 'delivered', attempts: 2 });
        expect((await sync.read(destinationId, [R3])).has(R3)).toBe(false);
      } finally {
        await harness.close();
      }
    });
  },
);
