import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { KeyRing } from '@tessera/crypto';
import type { CatalogEvent } from '@tessera/events';
import {
  deliverQueueName,
  JobQueue,
  QUEUE_PAYLOAD_KEY_PURPOSE,
  type DeliveryItem,
  type IngestedEvent,
  type QueueName,
} from '@tessera/queues';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { RedisErasureSweep } from '../../src/erasure/redis-erasure-sweep';
import { RedisDeliveryWindow } from '../../src/stages/delivery-window';
import { eventKeyOf, eventKeyString } from '../../src/stages/event-identity';
import { RedisProfileVersionGuard } from '../../src/stages/redis-profile-version-guard';

const event = (id: string, data: Record<string, unknown>): IngestedEvent => ({
  sourceId: 'loyalty',
  brand: 'sd',
  receivedAt: '2026-11-24T10:00:00.000Z',
  event: {
    specversion: '1.0',
    id,
    source: 'https://loyalty.example.com',
    type: 'points.updated',
    data,
  } as unknown as CatalogEvent,
});

const item = (customerId: string, key: string): DeliveryItem => ({
  operation: {
    operation: 'upsertProfiles',
    item: { customerId, version: 1, email: `${customerId}@example.com`, attributes: {} },
  },
  itemKey: key,
  customerId,
  receivedAt: '2026-11-24T10:00:00.000Z',
  attempts: 0,
});

// The sweep on the real Redis: jobs waiting and delayed, a delivery window and delivery stamps, as the pipeline
// leaves them; only the erased person's part goes.
describe('RedisErasureSweep', () => {
  const prefix = uniqueRedisPrefix();
  const redis = new Redis(TEST_REDIS_URL);
  const keyRing = new KeyRing([randomBytes(32)], QUEUE_PAYLOAD_KEY_PURPOSE);
  const resolve = new JobQueue('resolve', redis, prefix);
  const deliver = new JobQueue('deliver', redis, prefix, deliverQueueName('esp-1'));
  const window = new RedisDeliveryWindow(redis, prefix, keyRing);
  const versions = new RedisProfileVersionGuard(redis, prefix);
  /** The subject's email's "blind index", as the sweep is told to compute it. */
  const contactKeysOf = (_brand: string, data: Record<string, unknown>) =>
    typeof data['email'] === 'string' ? [`key:${data['email'].toLowerCase()}`] : [];
  const sweep = new RedisErasureSweep({
    redis,
    prefix,
    keyRing,
    queues: () => [resolve, deliver] as JobQueue<QueueName>[],
    window,
    versions,
    destinationIds: () => ['esp-1'],
    contactKeysOf,
    settleTimeoutMs: 2_000,
  });

  afterAll(async () => {
    await resolve.close();
    await deliver.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  it('rewrites mixed waiting jobs without the person, removes theirs alone, and empties windows and stamps of them', async () => {
    // By email only (not yet resolved), by customer id, and someone else.
    const byEmail = event('e1', { email: 'ZQ@example.com', delta: 1 });
    const byId = event('e2', { customer_id: 'C-ERASED', delta: 2 });
    const other = event('e3', { customer_id: 'C-OTHER', email: 'bob@example.com', delta: 3 });
    await resolve.add(
      'resolve.events',
      { count: 3, events: keyRing.sealJson([byEmail, byId, other], 'mixed') },
      'mixed',
    );
    await resolve.add('resolve.events', { count: 1, events: keyRing.sealJson([byId], 'theirs') }, 'theirs', {
      delayMs: 60_000,
    });
    await deliver.add(
      'deliver.items',
      { destinationId: 'esp-1', count: 1, items: keyRing.sealJson([item('C-ERASED', 'old')], 'legacy') },
      'legacy',
    );
    await window.append('esp-1', [item('C-ERASED', 'k1'), item('C-OTHER', 'k2')], {
      windowMs: 60_000,
      thresholds: {},
    });
    await versions.claim('esp-1', 'job-a', new Map([['C-ERASED', { version: 3, receivedAtMs: 1 }]]));
    await versions.claim('esp-1', 'job-a', new Map([['C-OTHER', { version: 1, receivedAtMs: 1 }]]));

    const outcome = await sweep.sweep({
      customerIds: new Set(['C-ERASED']),
      eventKeys: new Set(),
      contactKeys: new Set(['key:zq@example.com']),
    });

    expect(outcome).toMatchObject({ jobsRemoved: 2, jobsRewritten: 1, windowItemsRemoved: 1 });
    expect(outcome.eventKeys.map(eventKeyString).sort()).toEqual(
      [byEmail, byId].map((e) => eventKeyString(eventKeyOf(e))).sort(),
    );
    const mixed = await resolve.queue.getJob('mixed');
    expect(mixed?.data.count).toBe(1);
    expect(keyRing.openJson(mixed?.data.events, 'mixed')).toEqual([other]);
    expect(await resolve.queue.getJob('theirs')).toBeUndefined();
    expect(await deliver.queue.getJob('legacy')).toBeUndefined();
    const taken = await window.take('esp-1', 'flush-1', 100);
    expect(taken.items.map((entry) => entry.customerId)).toEqual(['C-OTHER']);
    expect([...(await versions.claimed('esp-1', ['C-ERASED', 'C-OTHER'])).keys()]).toEqual(['C-OTHER']);
    // Nothing of them is left readable in the queues' event streams either.
    const streams = await redis.xrange(resolve.queue.keys.events as string, '-', '+');
    expect(streams.map(([, fields]) => fields[fields.indexOf('jobId') + 1])).not.toContain('theirs');

    // Idempotent: a second run finds nothing.
    expect(
      await sweep.sweep({
        customerIds: new Set(['C-ERASED']),
        eventKeys: new Set(),
        contactKeys: new Set(['key:zq@example.com']),
      }),
    ).toMatchObject({ jobsRemoved: 0, jobsRewritten: 0, windowItemsRemoved: 0, eventKeys: [] });
  });
});
