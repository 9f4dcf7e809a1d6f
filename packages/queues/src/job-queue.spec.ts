import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { DEFAULT_JOB_OPTIONS, JobQueue } from './job-queue';

// (Not @tessera/testing: it depends on this package.)
const TEST_REDIS_URL = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

// Medium tier: the real Redis on loopback.
describe('JobQueue', () => {
  const sealed = { kid: 'k', iv: 'i', tag: 't', data: 'd' };
  let redis: Redis;
  let prefix: string;

  beforeEach(() => {
    redis = new Redis(TEST_REDIS_URL);
    prefix = `{tessera-test-${randomBytes(6).toString('hex')}}`;
  });

  afterEach(async () => {
    await redis.quit();
  });

  it('adds a job once per deterministic id, with the default job options', async () => {
    const queue = new JobQueue('resolve', redis, prefix);
    await queue.add('resolve.events', { count: 1, events: sealed }, 'events-1');
    await queue.add('resolve.events', { count: 1, events: sealed }, 'events-1');
    expect(await queue.waitingCount()).toBe(1);
    const job = await queue.queue.getJob('events-1');
    expect(job?.name).toBe('resolve.events');
    expect(job?.data).toEqual({ count: 1, events: sealed });
    expect(job?.opts).toMatchObject({
      attempts: DEFAULT_JOB_OPTIONS.attempts,
      backoff: DEFAULT_JOB_OPTIONS.backoff,
      removeOnComplete: DEFAULT_JOB_OPTIONS.removeOnComplete,
      removeOnFail: DEFAULT_JOB_OPTIONS.removeOnFail,
    });
    expect(await redis.exists(`${prefix}:resolve:events-1`)).toBe(1);
    await queue.queue.obliterate({ force: true });
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
    await queue.close();
  });

  it('closes at once when it was never used, and within its time limit when Redis is gone', async () => {
    await new JobQueue('resolve', redis, prefix).close();
    const gone = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    gone.on('error', () => undefined);
    const queue = new JobQueue('resolve', gone, prefix);
    queue.queue.on('error', () => undefined);
    const started = Date.now();
    await queue.close();
    expect(Date.now() - started).toBeLessThan(3000);
    gone.disconnect();
  });
});
