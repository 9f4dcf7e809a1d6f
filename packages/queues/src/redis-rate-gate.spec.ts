import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RedisRateGate } from './redis-rate-gate';

// (Not @tessera/testing: it depends on this package.)
const TEST_REDIS_URL = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Stands in for `sleep` where a test wants to see that the gate would wait, and for how long. */
class WouldWait extends Error {
  constructor(readonly ms: number) {
    super(`would wait ${ms} ms`);
  }
}
const refuseToWait = async (ms: number): Promise<never> => {
  throw new WouldWait(ms);
};

async function waitMsOf(attempt: Promise<void>): Promise<number> {
  try {
    await attempt;
  } catch (error) {
    if (error instanceof WouldWait) return error.ms;
    throw error;
  }
  throw new Error('expected the gate to wait, but it admitted the request');
}

async function redisNowMs(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

/** Sleeps until just after a bucket of `perMs` starts on Redis's clock (the gate's buckets are aligned on it). */
async function startOfNextBucket(redis: Redis, perMs: number, withinMs: number): Promise<void> {
  for (;;) {
    const now = await redisNowMs(redis);
    await new Promise((resolve) => setTimeout(resolve, perMs - (now % perMs) + 1));
    if ((await redisNowMs(redis)) % perMs < withinMs) return;
  }
}

/** Largest number of times that fall in one half-open span [t, t + spanMs). */
function maxInSpan(times: readonly number[], spanMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let first = 0;
  sorted.forEach((time, last) => {
    while ((sorted[first] ?? time) <= time - spanMs) first++;
    most = Math.max(most, last - first + 1);
  });
  return most;
}

// Hour-long windows where a test wants no bucket boundary to pass while it runs.
const HOUR_MS = 3_600_000;

// Medium tier: the real Redis on loopback (same host, so Date.now() and Redis TIME read the same clock).
describe('RedisRateGate', () => {
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

  it('holds two workers sharing a key to `requests` per window, plus the documented slack of the estimate', async () => {
    const limit = { requests: 10, perMs: 1000 };
    const workers = [new RedisRateGate(redis, prefix), new RedisRateGate(otherWorkerRedis, prefix)];
    // Fire mid-bucket: a burst there is the case the counter's estimate gets wrong (see below).
    await startOfNextBucket(redis, limit.perMs, 20);
    await new Promise((resolve) => setTimeout(resolve, limit.perMs / 2));
    const burstOffsetMs = (await redisNowMs(redis)) % limit.perMs;
    const admittedAt: number[] = [];
    await Promise.all(
      Array.from({ length: 25 }, async (_, index) => {
        await workers[index % 2]?.acquire('braze:dest-1:track', [limit]);
        admittedAt.push(Date.now());
      }),
    );

    // The guarantee of a sliding-window counter: a span of perMs holds at most `requests` plus the part of the
    // previous bucket's admissions that falls in the span beyond its pro-rata share, because the estimate
    // assumes that bucket was spread evenly. A burst of `requests` at offset φ of its bucket is all in the span
    // that starts with it, while the next bucket's estimate already discounts it by φ/perMs: the span can take
    // floor(requests x φ / perMs) more (4 here, for φ ≈ 500 ms; under 2 x requests even for a burst at the very
    // end of a bucket). After the burst, admissions are paced evenly and the excess stays under one request.
    // The spans are shortened by 40 ms, the most we allow between Redis admitting a request and this test seeing
    // it, so that a late observation cannot fold a request from a later span into this one; φ is widened by as
    // much, since the burst may be admitted that long after it was fired.
    const lagMs = 40;
    const bound = limit.requests + Math.floor((limit.requests * (burstOffsetMs + lagMs)) / limit.perMs);
    expect(bound).toBeLessThan(2 * limit.requests);
    // Two workers each counting alone, or fixed windows, would let 2 x 10 through in one span here.
    expect(maxInSpan(admittedAt, limit.perMs - lagMs)).toBeLessThanOrEqual(bound);
    // The limit is used, not just respected: 25 requests fit in 3 windows (burst of 10, then ~9 per window).
    expect(Math.max(...admittedAt) - Math.min(...admittedAt)).toBeLessThan(3 * limit.perMs);
  });

  it('applies every window of a call: a burst window and a steady one', async () => {
    const gate = new RedisRateGate(redis, prefix);
    const windows = [
      { requests: 3, perMs: 100 },
      { requests: 6, perMs: 1000 },
    ];
    await startOfNextBucket(redis, 1000, 10);
    const firedAt = Date.now();
    const admittedAfterMs: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        await gate.acquire('klaviyo:dest-1:profiles', windows);
        admittedAfterMs.push(Date.now() - firedAt);
      }),
    );
    admittedAfterMs.sort((a, b) => a - b);
    // The burst window lets 3 through at once, then paces at 3 per 100 ms (next at ~133 ms after the boundary).
    expect(admittedAfterMs[2]).toBeLessThan(50);
    expect(admittedAfterMs[3]).toBeGreaterThanOrEqual(100);
    // The steady window lets 6 through in its first bucket (the 6th at ~200 ms) ...
    expect(admittedAfterMs[5]).toBeLessThan(500);
    // ... and the 7th only once its estimate has room, in the next 1,000 ms bucket (ideally at ~1,167 ms).
    expect(admittedAfterMs[6]).toBeGreaterThanOrEqual(1000);
  });

  it('counts `cost` requests, in every window or in none', async () => {
    const gate = new RedisRateGate(redis, prefix, { sleep: refuseToWait });
    const perHour = { requests: 10, perMs: HOUR_MS };
    await gate.acquire('sfmc:dest-1:rows', [perHour], 7);
    await gate.acquire('sfmc:dest-1:rows', [perHour], 3);
    const [counter] = await redis.keys(`${prefix}:ratelimit:sfmc:dest-1:rows:3600000:*`);
    expect(await redis.get(counter ?? '')).toBe('10');
    // Full: room comes back once the next bucket has started and this one's weight is 9/10 gone.
    const waitMs = await waitMsOf(gate.acquire('sfmc:dest-1:rows', [perHour]));
    expect(waitMs).toBeGreaterThan(HOUR_MS / 10);
    expect(waitMs).toBeLessThanOrEqual(HOUR_MS + HOUR_MS / 10);

    // A call refused by one window is not counted in the others.
    const roomy = { requests: 100, perMs: HOUR_MS };
    const tight = { requests: 2, perMs: 2 * HOUR_MS };
    await gate.acquire('braze:dest-1:merge', [roomy, tight], 2);
    await waitMsOf(gate.acquire('braze:dest-1:merge', [roomy, tight]));
    const [roomyCounter] = await redis.keys(`${prefix}:ratelimit:braze:dest-1:merge:3600000:*`);
    expect(await redis.get(roomyCounter ?? '')).toBe('2');
  });

  it('lets a cost larger than the window through when the window is empty, instead of never', async () => {
    const gate = new RedisRateGate(redis, prefix, { sleep: refuseToWait });
    const perHour = { requests: 10, perMs: HOUR_MS };
    await gate.acquire('sfmc:dest-1:rows', [perHour], 25);
    const [counter] = await redis.keys(`${prefix}:ratelimit:sfmc:dest-1:rows:3600000:*`);
    expect(await redis.get(counter ?? '')).toBe('25');
    // All 25 count: the next request waits until the estimate is under the limit again.
    expect(await waitMsOf(gate.acquire('sfmc:dest-1:rows', [perHour]))).toBeGreaterThan(
      HOUR_MS - (9 / 25) * HOUR_MS,
    );

    // When the window is not empty, the oversized call waits until the window has fully drained.
    await gate.acquire('sfmc:dest-2:rows', [perHour], 1);
    const waitMs = await waitMsOf(gate.acquire('sfmc:dest-2:rows', [perHour], 25));
    expect(waitMs).toBeGreaterThan(HOUR_MS);
    expect(waitMs).toBeLessThanOrEqual(2 * HOUR_MS);
  });

  it('keeps keys independent and lets each bucket expire after two windows', async () => {
    const gate = new RedisRateGate(redis, prefix, { sleep: refuseToWait });
    const perHour = { requests: 10, perMs: HOUR_MS };
    await gate.acquire('mailchimp:dest-1:members', [perHour], 10);
    await waitMsOf(gate.acquire('mailchimp:dest-1:members', [perHour]));
    await expect(gate.acquire('mailchimp:dest-2:members', [perHour])).resolves.toBeUndefined();

    const counters = await redis.keys(`${prefix}:ratelimit:mailchimp:dest-1:members:*`);
    expect(counters).toHaveLength(1);
    const bucketStart = Number(counters[0]?.split(':').at(-1));
    expect(bucketStart % HOUR_MS).toBe(0);
    expect(bucketStart).toBeLessThanOrEqual(await redisNowMs(redis));
    const ttl = await redis.pttl(counters[0] ?? '');
    expect(ttl).toBeGreaterThan(2 * HOUR_MS - 1000);
    expect(ttl).toBeLessThanOrEqual(2 * HOUR_MS);
  });

  it('refuses windows and costs that mean nothing, without touching Redis', async () => {
    const gate = new RedisRateGate(redis, prefix);
    await expect(gate.acquire('k', [{ requests: 0, perMs: 1000 }])).rejects.toThrow(
      new Error("RedisRateGate: a window's requests must be a positive integer (got 0)"),
    );
    await expect(gate.acquire('k', [{ requests: 10, perMs: -1000 }])).rejects.toThrow(
      new Error("RedisRateGate: a window's perMs must be a positive integer (got -1000)"),
    );
    await expect(gate.acquire('k', [{ requests: 10, perMs: 1000 }], -1)).rejects.toThrow(
      new Error('RedisRateGate: cost must be a non-negative number (got -1)'),
    );
    // No window, or nothing to count: nothing to wait for.
    await expect(gate.acquire('k', [])).resolves.toBeUndefined();
    await expect(gate.acquire('k', [{ requests: 1, perMs: 1000 }], 0)).resolves.toBeUndefined();
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
  });
});
