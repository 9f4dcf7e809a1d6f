import { KeyRing } from '@tessera/crypto';
import type { DeliveryItem } from '@tessera/queues';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import Redis from 'ioredis';
import { RedisDeliveryWindow } from '../../src/stages/delivery-window';

const redis = new Redis(TEST_REDIS_URL);
const prefix = uniqueRedisPrefix();
const keyRing = new KeyRing([Buffer.alloc(32, 7)], 'queue-payload');
afterAll(async () => {
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});
beforeEach(() => deleteKeysWithPrefix(redis, prefix));

const upsert = (customerId: string, attempts = 0): DeliveryItem => ({
  operation: {
    operation: 'upsertProfiles',
    item: { customerId, version: 1, email: `${customerId}@example.com`, attributes: { tier: 'gold' } },
  },
  itemKey: `event-${customerId}`,
  customerId,
  receivedAt: '2026-12-07T10:00:00.000Z',
  attempts,
});
const segment = (customerId: string): DeliveryItem => ({
  operation: { operation: 'addToSegment', item: { customerId, segment: 'VIP' } },
  itemKey: `segment-${customerId}`,
  customerId,
  receivedAt: '2026-12-07T10:00:00.000Z',
  attempts: 0,
});
const policy = { windowMs: 2_000, thresholds: { upsertProfiles: 3, addToSegment: 1_000 } };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RedisDeliveryWindow (real Redis)', () => {
  const window = new RedisDeliveryWindow(redis, prefix, keyRing);

  it('asks for one flush at the end of the window, however many appends come before it', async () => {
    const first = await window.append('d1', [upsert('c1')], policy);
    const second = await window.append('d1', [upsert('c2')], policy);
    expect(first.added).toBe(1);
    expect(first.scheduleAt).toBeGreaterThanOrEqual(first.nowMs + 2_000);
    expect(first.scheduleAt).toBeLessThanOrEqual(first.nowMs + 2_001);
    expect(second.scheduleAt).toBeUndefined();
    expect(second.fullFlushId).toBeUndefined();
    // Items are ready at once: the window decides when the flush comes, not when an item may go.
    const take = await window.take('d1', 'job-1', 100);
    expect(take.items.map((item) => item.customerId)).toEqual(['c1', 'c2']);
    expect(take.items[0]).toEqual(upsert('c1'));
  });

  it('asks for an immediate flush when an operation reaches its batch size, once per take', async () => {
    await window.append('d1', [upsert('c1'), upsert('c2')], policy);
    const full = await window.append('d1', [upsert('c3')], policy);
    expect(full.fullFlushId).toBe('full-0');
    const again = await window.append('d1', [upsert('c4')], policy);
    expect(again.fullFlushId).toBeUndefined();
    await window.take('d1', 'job-1', 100);
    await window.append('d1', [upsert('c5'), upsert('c6')], policy);
    const next = await window.append('d1', [upsert('c7')], policy);
    expect(next.fullFlushId).toBe('full-1');
  });

  it('does not count items waiting out a delay towards a full batch (a merge cooling off for a day)', async () => {
    const parked = Array.from({ length: 5 }, (_, index) => upsert(`p${index}`, 1));
    await window.append('d1', parked, { ...policy, delayMs: 86_400_000 });
    const trickle = await window.append('d1', [upsert('c1')], policy);
    expect(trickle.fullFlushId).toBeUndefined();
    await window.append('d1', [upsert('c2')], policy);
    const third = await window.append('d1', [upsert('c3')], policy);
    expect(third.fullFlushId).toBe('full-0');
    // Taking the ready ones leaves the parked items uncounted: the next batch needs three ready ones again.
    expect((await window.take('d1', 'job-1', 100)).items).toHaveLength(3);
    await window.append('d1', [upsert('c4'), upsert('c5')], policy);
    expect((await window.append('d1', [upsert('c6')], policy)).fullFlushId).toBe('full-1');
    expect((await window.size('d1')).waiting).toBe(8);
  });

  it('does not add an item twice (a route job that ran again)', async () => {
    await window.append('d1', [upsert('c1'), segment('c1')], policy);
    const repeat = await window.append('d1', [upsert('c1')], policy);
    expect(repeat.added).toBe(0);
    expect((await window.size('d1')).waiting).toBe(2);
  });

  it('keeps contact points sealed at rest', async () => {
    await window.append('d1', [upsert('c1')], policy);
    const keys = await redis.keys(`${prefix}:window:*`);
    const values = await Promise.all(
      keys.map(async (key) =>
        (await redis.type(key)) === 'hash' ? JSON.stringify(await redis.hgetall(key)) : '',
      ),
    );
    expect(values.join('')).not.toContain('c1@example.com');
    expect(values.join('')).toContain('event-c1'); // the id, not the item, is in the clear
  });

  it('hands a re-run of the same job the items it took, and nothing new', async () => {
    await window.append('d1', [upsert('c1'), upsert('c2')], policy);
    const first = await window.take('d1', 'job-1', 100);
    await window.append('d1', [upsert('c3')], policy);
    const rerun = await window.take('d1', 'job-1', 100);
    expect(rerun.items.map((item) => item.customerId).sort()).toEqual(['c1', 'c2']);
    expect(first.items).toHaveLength(2);
    const other = await window.take('d1', 'job-2', 100);
    expect(other.items.map((item) => item.customerId)).toEqual(['c3']);
  });

  it('gives two concurrent flushes disjoint items, and caps a take, asking for more', async () => {
    await window.append(
      'd1',
      Array.from({ length: 10 }, (_, index) => upsert(`c${index}`)),
      policy,
    );
    const [a, b] = await Promise.all([window.take('d1', 'job-a', 6), window.take('d1', 'job-b', 6)]);
    const ids = [...a.items, ...b.items].map((item) => item.customerId);
    expect(ids).toHaveLength(10);
    expect(new Set(ids).size).toBe(10);
    const capped = [a, b].find((take) => take.items.length === 6);
    expect(capped?.moreFlushId).toMatch(/^more-\d+$/);
  });

  it('keeps a retry out of takes until its delay has passed, and schedules its flush then', async () => {
    const retry = await window.append('d1', [upsert('c1', 1)], { ...policy, delayMs: 300 });
    expect(retry.scheduleAt).toBeGreaterThanOrEqual(retry.nowMs + 300);
    expect(retry.scheduleAt).toBeLessThan(retry.nowMs + 2_000);
    const early = await window.take('d1', 'job-1', 100);
    expect(early.items).toHaveLength(0);
    expect(early.scheduleAt).toBe(retry.scheduleAt);
    await sleep(350);
    const due = await window.take('d1', 'job-2', 100);
    expect(due.items.map((item) => item.attempts)).toEqual([1]);
  });

  it('puts a failed flush back, and restores a take lost for good at a later take', async () => {
    await window.append('d1', [upsert('c1'), upsert('c2')], policy);
    await window.take('d1', 'job-1', 100);
    expect((await window.restore('d1', 'job-1', 0)).restored).toBe(2);
    expect((await window.size('d1')).waiting).toBe(2);

    const shortLived = new RedisDeliveryWindow(redis, prefix, keyRing, 100);
    await shortLived.take('d1', 'job-lost', 100);
    expect(await shortLived.size('d1')).toEqual({ waiting: 0, takesInFlight: 1 });
    await sleep(150);
    const later = await shortLived.take('d1', 'job-next', 100);
    expect(later.items.map((item) => item.customerId).sort()).toEqual(['c1', 'c2']);
  });

  it('forgets a settled take', async () => {
    await window.append('d1', [upsert('c1')], policy);
    await window.take('d1', 'job-1', 100);
    await window.settle('d1', 'job-1');
    expect(await window.size('d1')).toEqual({ waiting: 0, takesInFlight: 0 });
    expect((await window.take('d1', 'job-1', 100)).items).toHaveLength(0);
  });

  it('refuses an item sealed for another id (a payload moved between items)', async () => {
    await window.append('d1', [upsert('c1'), upsert('c2')], policy);
    const base = `${prefix}:window:{d1}:items`;
    const all = await redis.hgetall(base);
    const [firstId, secondId] = Object.keys(all) as [string, string];
    await redis.hset(base, firstId, all[secondId] as string);
    await expect(window.take('d1', 'job-1', 100)).rejects.toThrow(/unable to authenticate|Unsupported state/);
  });
});
