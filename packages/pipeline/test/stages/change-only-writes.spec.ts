import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import {
  defineDestination,
  DestinationHarness,
  type ProfileUpsert,
  type SegmentMembership,
  type SubscriptionChange,
} from '@tessera/destination-kit';
import type { DeliveryItem } from '@tessera/queues';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { DeliverStage, type SettledItem } from '../../src/stages/deliver-stage.service';
import { RedisProfileVersionGuard } from '../../src/stages/redis-profile-version-guard';
import { DestinationSyncState } from '../../src/store/destination-sync-state.repository';

/** Posts each operation's items to /{operation}; the profile answer carries an ESP id per customer. */
const recorder = defineDestination<{ baseUrl: string; apiKey: string }>({
  type: 'recorder',
  name: 'Recorder',
  hosts: ['recorder.invalid'],
  settingsSchema: {
    type: 'object',
    properties: {
      baseUrl: { type: 'string', default: 'https://recorder.invalid' },
      apiKey: { type: 'string' },
    },
    required: ['apiKey'],
  },
  requestHeaders: (settings): Record<string, string> => ({ 'x-api-key': settings.apiKey }),
  testConnection: async () => undefined,
  operations: {
    upsertProfiles: {
      batchSize: 100,
      perform: async (items: ProfileUpsert[], { http }) => {
        await http.post('/upsertProfiles', items);
        return items.map((item) => ({
          status: 'ok' as const,
          externalId: `esp-${item.customerId}`,
          // Customers named N… are new to the ESP: it says it created them.
          ...(item.customerId.startsWith('N') ? { created: true } : {}),
          ...(item.phone === 'bad' ? { omittedFields: [{ field: '$phone', reason: 'invalid phone' }] } : {}),
        }));
      },
    },
    addToSegment: {
      batchSize: 100,
      perform: async (items: SegmentMembership[], { http }) => {
        await http.post('/addToSegment', items);
        return items.map(() => ({ status: 'ok' as const }));
      },
    },
    removeFromSegment: {
      batchSize: 100,
      perform: async (items: SegmentMembership[], { http }) => {
        await http.post('/removeFromSegment', items);
        return items.map(() => ({ status: 'ok' as const }));
      },
    },
    subscribe: {
      batchSize: 100,
      perform: async (items: SubscriptionChange[], { http }) => {
        await http.post('/subscribe', items);
        return items.map(() => ({ status: 'ok' as const }));
      },
    },
  },
});

let sequence = 0;
const at = (offsetMs: number) => new Date(Date.parse('2026-12-07T10:00:00Z') + offsetMs).toISOString();
function item(operation: DeliveryItem['operation'], receivedAt = at(0), force = false): DeliveryItem {
  sequence += 1;
  const customerId = (operation.item as { customerId: string }).customerId;
  return {
    operation,
    itemKey: `k${sequence}`,
    customerId,
    receivedAt,
    attempts: 0,
    ...(force ? { force } : {}),
  };
}
const upsert = (customerId: string, version: number, attributes: Record<string, unknown>, extra = {}) =>
  item({
    operation: 'upsertProfiles',
    item: { customerId, version, email: `${customerId}@example.com`, attributes, ...extra },
  });
const add = (customerId: string, segment: string, receivedAt?: string) =>
  item({ operation: 'addToSegment', item: { customerId, segment } }, receivedAt);
const remove = (customerId: string, segment: string, receivedAt?: string) =>
  item({ operation: 'removeFromSegment', item: { customerId, segment } }, receivedAt);

describe.each(STORE_DRIVERS)('Change-only writes through the deliver stage on %s', (driver) => {
  const redis = new Redis(TEST_REDIS_URL);
  const prefix = uniqueRedisPrefix();
  let store: Store;
  let harness: DestinationHarness;
  let sync: DestinationSyncState;
  let stage: DeliverStage;
  let records: SettledItem[];

  beforeAll(async () => {
    store = await openScratchStore(driver);
    // The identity graph's profiles of the customers the specs deliver (the sync state keeps only theirs).
    await store.query(`INSERT INTO identity_profiles (customer_id) SELECT unnest($1::text[])`, [
      ['C1', 'C2', 'C3', 'C4', 'C5', 'N1', 'O1'],
    ]);
    sync = new DestinationSyncState(store, new PiiVault([randomBytes(32)]));
    harness = await DestinationHarness.start({
      definition: recorder,
      settings: { apiKey: 'k' },
      respond: () => ({ status: 200, body: {} }),
    });
  }, 30_000);
  afterAll(async () => {
    await harness.close();
    await store.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });
  beforeEach(() => {
    records = [];
    stage = new DeliverStage({
      runnerOf: () => harness.runner,
      record: async (entries) => void records.push(...entries),
      deadLetter: async () => undefined,
      requeue: async () => undefined,
      versions: new RedisProfileVersionGuard(redis, prefix),
      mergesStanding: async (merges) => merges.map(() => true),
      authFailed: async () => false,
      authSucceeded: async () => undefined,
      syncState: sync,
    });
  });
  const sent = (path: string) =>
    harness
      .requests()
      .filter((request) => request.path === path)
      .flatMap((request) => request.body as Record<string, unknown>[]);

  it('sends only the attributes that changed, and nothing when nothing did', async () => {
    await stage.handle('rec-1', [upsert('C1', 1, { tier: 'silver', points: 10, city: 'Leeds' })]);
    const second = await stage.handle('rec-1', [
      upsert('C1', 2, { tier: 'silver', points: 25, city: 'Leeds' }),
    ]);
    const third = await stage.handle('rec-1', [
      upsert('C1', 3, { tier: 'silver', points: 25, city: 'Leeds' }),
    ]);

    const bodies = sent('/upsertProfiles').filter((body) => body['customerId'] === 'C1');
    expect(bodies.map((body) => body['attributes'])).toEqual([
      { tier: 'silver', points: 10, city: 'Leeds' },
      { points: 25 },
    ]);
    // The ESP's id learned from the first answer travels with the next write.
    expect(bodies[1]).toMatchObject({ externalId: 'esp-C1', email: 'C1@example.com' });
    expect(second).toMatchObject({ delivered: 1, unchanged: 0 });
    expect(third).toMatchObject({ delivered: 1, unchanged: 1 });
    expect(records.at(-1)).toMatchObject({
      status: 'delivered',
      detail: 'unchanged: the destination holds it already',
    });
    const [state] = (await sync.read('rec-1', ['C1'])).values();
    expect(state?.externalId).toBe('esp-C1');
    expect(Object.keys(state?.attributes ?? {}).sort()).toEqual(['$email', 'city', 'points', 'tier']);
    // Keyed hashes only: no value the ESP holds is readable in the store.
    expect(JSON.stringify(state)).not.toMatch(/Leeds|silver|C1@example/);
  });

  it('sends a changed email even when no attribute changed; a forced write sends everything', async () => {
    await stage.handle('rec-1', [upsert('C2', 1, { tier: 'gold' })]);
    await stage.handle('rec-1', [
      item({
        operation: 'upsertProfiles',
        item: { customerId: 'C2', version: 2, email: 'new@example.com', attributes: { tier: 'gold' } },
      }),
    ]);
    await stage.handle('rec-1', [
      item(
        {
          operation: 'upsertProfiles',
          item: { customerId: 'C2', version: 3, email: 'new@example.com', attributes: { tier: 'gold' } },
        },
        at(0),
        true,
      ),
    ]);
    const bodies = sent('/upsertProfiles').filter((body) => body['customerId'] === 'C2');
    expect(bodies.map((body) => [body['email'], body['attributes']])).toEqual([
      ['C2@example.com', { tier: 'gold' }],
      ['new@example.com', {}],
      ['new@example.com', { tier: 'gold' }],
    ]);
  });

  it('does not remember a field the ESP refused, so the next write tries it again', async () => {
    await stage.handle('rec-1', [upsert('C3', 1, { tier: 'gold' }, { phone: 'bad' })]);
    const [state] = (await sync.read('rec-1', ['C3'])).values();
    expect(state?.attributes['$phone']).toBeUndefined();
    expect(records.at(-1)).toMatchObject({
      status: 'delivered',
      detail: 'delivered without $phone (invalid phone)',
    });
  });

  it('sends a membership change only when membership changed, the latest of a batch winning', async () => {
    const before = sent('/addToSegment').length + sent('/removeFromSegment').length;
    // Unknown membership: the removal is sent once, then known.
    await stage.handle('rec-1', [remove('C4', 'VIP')]);
    await stage.handle('rec-1', [remove('C4', 'VIP')]);
    // An add and a later removal in one window: only the removal stands (and it is known already).
    const outcome = await stage.handle('rec-1', [add('C4', 'VIP', at(0)), remove('C4', 'VIP', at(5))]);
    expect(outcome).toMatchObject({ superseded: 1, unchanged: 1 });
    await stage.handle('rec-1', [add('C4', 'VIP', at(10))]);
    await stage.handle('rec-1', [add('C4', 'VIP', at(20))]);

    const calls = [...sent('/removeFromSegment'), ...sent('/addToSegment')].slice(before);
    expect(sent('/removeFromSegment').filter((body) => body['customerId'] === 'C4')).toHaveLength(1);
    expect(sent('/addToSegment').filter((body) => body['customerId'] === 'C4')).toEqual([
      { customerId: 'C4', segment: 'VIP' },
    ]);
    expect(calls).toHaveLength(2);
    const [state] = (await sync.read('rec-1', ['C4'])).values();
    expect(state?.memberships).toEqual({ VIP: true });
  });

  it('sends no removal for a contact the ESP has just created (it is in nothing), and still sends its additions', async () => {
    await stage.handle('rec-1', [
      upsert('N1', 1, { tier: 'silver' }),
      remove('N1', 'VIP'),
      add('N1', 'Newsletter readers'),
    ]);
    await stage.handle('rec-1', [
      remove('N1', 'Gold'),
      upsert('O1', 1, { tier: 'silver' }),
      remove('O1', 'VIP'),
    ]);

    expect(sent('/removeFromSegment').filter((body) => body['customerId'] === 'N1')).toEqual([]);
    expect(sent('/addToSegment').filter((body) => body['customerId'] === 'N1')).toHaveLength(1);
    // A contact the ESP already had may be in anything: its removal goes.
    expect(sent('/removeFromSegment').filter((body) => body['customerId'] === 'O1')).toHaveLength(1);
    const state = await sync.read('rec-1', ['N1', 'O1']);
    expect(state.get('N1')).toMatchObject({
      membershipsComplete: true,
      memberships: { 'Newsletter readers': true },
    });
    expect(state.get('O1')?.membershipsComplete).toBeUndefined();
  });

  it('forgets a customer everywhere on erasure, and a flush ending after it writes nothing of them back', async () => {
    await stage.handle('rec-1', [upsert('C5', 1, { tier: 'gold' })]);
    expect(await sync.forget(['C5'])).toBe(1);
    expect((await sync.read('rec-1', ['C5'])).size).toBe(0);
    // The erasure deleted the profile; a flush still in flight then settles.
    await store.query(`DELETE FROM identity_profiles WHERE customer_id = 'C5'`);
    const late = await stage.handle('rec-1', [upsert('C5', 2, { tier: 'silver' }), add('C5', 'VIP')]);
    expect(late).toMatchObject({ delivered: 2 });
    expect((await sync.read('rec-1', ['C5'])).size).toBe(0);
  });
});
