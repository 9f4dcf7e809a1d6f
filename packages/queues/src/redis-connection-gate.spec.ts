import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { DEFAULT_CONNECTION_LEASE_MS, RedisConnectionGate } from './redis-connection-gate';

// (Not @tessera/testing: it depends on this package.)
const TEST_REDIS_URL = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Stands in for `sleep` where a test wants to see that the gate would wait rather than wait. */
const refuseToWait = async (): Promise<never> => {
  throw new Error('would wait');
};

// Medium tier: the real Redis on loopback.
describe('RedisConnectionGate', () => {
  let redis: Redis;
  let otherWorkerRedis: Redis;
  let prefix: string;

  beforeEach(() => {
    redis = new Redis(TEST_REDIS_URL);
    otherWorkerRedis = new Redis(TEST_REDIS_URL);
    prefix = `{tessera-test-${randomBytes(6).toString('hex')}}`;
  });

  afterEach(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    await Promise.all([redis.quit(), otherWorkerRedis.quit()]);
  });

  it('holds two workers sharing a key to `limit` requests in flight together', async () => {
    const workers = [
      new RedisConnectionGate(redis, prefix),
      new RedisConnectionGate(otherWorkerRedis, prefix),
    ];
    let inFlight = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 10 }, async (_, index) => {
        const release = await workers[index % 2]?.acquire('mailchimp:key-1', 3);
        inFlight++;
        peak = Math.max(peak, inFlight);
        await sleep(30);
        // Leave before releasing: the next holder can only enter once Redis has the release.
        inFlight--;
        release?.();
      }),
    );
    expect(peak).toBe(3);
    expect(await workers[0]?.count('mailchimp:key-1')).toBe(0);
  });

  it('frees one slot however often a release is called', async () => {
    const gate = new RedisConnectionGate(redis, prefix);
    const strictGate = new RedisConnectionGate(redis, prefix, { sleep: refuseToWait });
    const releaseFirst = await gate.acquire('mailchimp:key-1', 2);
    await gate.acquire('mailchimp:key-1', 2);
    releaseFirst();
    releaseFirst();
    expect(await gate.count('mailchimp:key-1')).toBe(1);
    await strictGate.acquire('mailchimp:key-1', 2);
    await expect(strictGate.acquire('mailchimp:key-1', 2)).rejects.toThrow('would wait');
    expect(await gate.count('mailchimp:key-1')).toBe(2);
  });

  it("frees a crashed holder's slot when its lease expires, and lets the key expire with its last lease", async () => {
    const crashedWorker = new RedisConnectionGate(redis, prefix, { leaseMs: 50 });
    const liveWorker = new RedisConnectionGate(otherWorkerRedis, prefix, { leaseMs: 200 });
    await crashedWorker.acquire('mailchimp:key-1', 1); // never released
    const ttl = await redis.pttl(`${prefix}:connections:mailchimp:key-1`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(50);

    const waitingSince = Date.now();
    const release = await liveWorker.acquire('mailchimp:key-1', 1);
    expect(Date.now() - waitingSince).toBeGreaterThanOrEqual(30);
    expect(Date.now() - waitingSince).toBeLessThan(1000);
    // The key now lives as long as the longest lease in it.
    expect(await redis.pttl(`${prefix}:connections:mailchimp:key-1`)).toBeGreaterThan(50);
    release();
    expect(await liveWorker.count('mailchimp:key-1')).toBe(0);
  });

  it('refuses limits and leases that mean nothing', async () => {
    const gate = new RedisConnectionGate(redis, prefix);
    await expect(gate.acquire('k', 0)).rejects.toThrow(
      new Error('RedisConnectionGate: limit must be a positive integer (got 0)'),
    );
    await expect(gate.acquire('k', 2.5)).rejects.toThrow(
      new Error('RedisConnectionGate: limit must be a positive integer (got 2.5)'),
    );
    expect(() => new RedisConnectionGate(redis, prefix, { leaseMs: 0 })).toThrow(
      new Error('RedisConnectionGate: leaseMs must be a positive integer (got 0)'),
    );
    expect(DEFAULT_CONNECTION_LEASE_MS).toBe(60_000);
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
  });
});
