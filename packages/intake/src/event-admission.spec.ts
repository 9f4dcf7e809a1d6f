import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { KeyRing } from '@tessera/crypto';
import { QUEUE_PAYLOAD_KEY_PURPOSE, type IngestedEvent, type JobDataMap } from '@tessera/queues';
import { deleteKeysWithPrefix, queuedEvents, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import {
  AdmissionUnavailableError,
  RedisEventAdmission,
  type RedisEventAdmissionOptions,
} from './event-admission';

// Medium tier: the real Redis on loopback.
describe('RedisEventAdmission', () => {
  const masterKey = randomBytes(32);
  const keyRing = new KeyRing([masterKey], QUEUE_PAYLOAD_KEY_PURPOSE);
  let redis: Redis;
  let prefix: string;
  let admission: RedisEventAdmission;

  const ingested = (id: string, source = 'https://loyalty.example.com'): IngestedEvent => ({
    sourceId: 'loyalty',
    brand: 'sd',
    receivedAt: '2026-11-23T10:00:00.000Z',
    event: {
      specversion: '1.0',
      id,
      source,
      type: 'points.updated',
      data: { customer_id: 'C1', delta: 1, new_balance: 2 },
    },
  });

  const admissionWith = (limits: Pick<RedisEventAdmissionOptions, 'maxBatchEvents' | 'maxBatchBytes'>) =>
    new RedisEventAdmission({
      redis,
      prefix,
      keyRing,
      dedupeWindowSeconds: 3600,
      maxQueueDepth: 1000,
      ...limits,
    });

  beforeEach(async () => {
    redis = new Redis(TEST_REDIS_URL, { enableOfflineQueue: false, lazyConnect: true });
    await redis.connect();
    prefix = uniqueRedisPrefix();
    admission = admissionWith({});
  });

  afterEach(async () => {
    await admission.resolveQueue.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  it('coalesces concurrent requests into one sealed job, in order', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        admission.admit({ sourceId: 'loyalty', events: [ingested(`e${i}`)] }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 50 }, () => [true]));
    expect(await admission.resolveQueue.waitingCount()).toBe(1);
    expect((await queuedEvents(redis, prefix, masterKey)).map((e) => e.event.id)).toEqual(
      Array.from({ length: 50 }, (_, i) => `e${i}`),
    );
  });

  it('flushes at the batch size without waiting for the event loop turn', async () => {
    const small = admissionWith({ maxBatchEvents: 10 });
    const results = await Promise.all(
      Array.from({ length: 3 }, (_, r) =>
        small.admit({
          sourceId: 'loyalty',
          events: Array.from({ length: 10 }, (_, i) => ingested(`r${r}-${i}`)),
        }),
      ),
    );
    expect(results.flat().every(Boolean)).toBe(true);
    expect(await small.resolveQueue.waitingCount()).toBe(3);
    await small.resolveQueue.close();
  });

  it('flushes at the byte bound too, so one job never carries more than a few MiB', async () => {
    const small = admissionWith({ maxBatchBytes: 1000 });
    const results = await Promise.all(
      Array.from({ length: 3 }, (_, r) =>
        small.admit({ sourceId: 'loyalty', events: [ingested(`big-${r}`)], bytes: 1000 }),
      ),
    );
    expect(results).toEqual([[true], [true], [true]]);
    expect(await small.resolveQueue.waitingCount()).toBe(3);
    await small.resolveQueue.close();
  });

  it('keys dedupe by CloudEvents source and id: same id from another source is a different event', async () => {
    expect(
      await admission.admit({
        sourceId: 'loyalty',
        events: [ingested('same'), ingested('same', 'https://pos.example.com'), ingested('same')],
      }),
    ).toEqual([true, true, false]);
    const ttl = await redis.ttl(admission.eventKey('loyalty', 'https://loyalty.example.com', 'same'));
    expect(ttl).toBeGreaterThan(3590);
    expect(ttl).toBeLessThanOrEqual(3600);
  });

  it('a repeated webhook-id marks every event of the request a duplicate without marking them seen', async () => {
    expect(
      await admission.admit({ sourceId: 'loyalty', webhookId: 'msg-1', events: [ingested('a')] }),
    ).toEqual([true]);
    expect(
      await admission.admit({ sourceId: 'loyalty', webhookId: 'msg-1', events: [ingested('b')] }),
    ).toEqual([false]);
    // `b` was never delivered under another webhook-id, so it is still new.
    expect(
      await admission.admit({ sourceId: 'loyalty', webhookId: 'msg-2', events: [ingested('b')] }),
    ).toEqual([true]);
  });

  it('releases the ids it marked when the job cannot be added, so the retry is accepted, not a duplicate', async () => {
    const queue = admission.resolveQueue;
    const add = queue.add.bind(queue);
    let failNext = true;
    queue.add = (async (jobName: 'resolve.events', data: JobDataMap['resolve.events'], jobId: string) => {
      if (failNext) {
        failNext = false;
        throw new Error('connection lost');
      }
      return add(jobName, data, jobId);
    }) as typeof queue.add;
    await expect(
      admission.admit({ sourceId: 'loyalty', webhookId: 'msg-9', events: [ingested('lost')] }),
    ).rejects.toBeInstanceOf(AdmissionUnavailableError);
    expect(await redis.exists(admission.eventKey('loyalty', 'https://loyalty.example.com', 'lost'))).toBe(0);
    expect(await redis.exists(admission.webhookKey('loyalty', 'msg-9'))).toBe(0);
    expect(
      await admission.admit({ sourceId: 'loyalty', webhookId: 'msg-9', events: [ingested('lost')] }),
    ).toEqual([true]);
    expect((await queuedEvents(redis, prefix, masterKey)).map((e) => e.event.id)).toEqual(['lost']);
  });
});
