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

async function waitMsOf(attempt: Promise<unknown>): Promise<number> {
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

/**
 * Makes `gate`'s client run each take in a MULTI between two TIMEs and records, for each take that admitted,
 * the TIME read just before it: nothing runs between that TIME and the script's own clock read (its first
 * command), so this is the admission time on Redis's clock, to the microsecond, whatever the event loop's lag.
 */
function recordAdmissions(redis: Redis, admittedAt: number[]): void {
  // A MULTI copies the client's commands, so it must be given the gate's command as it was before the override.
  const take = redis.tesseraRateGateTake;
  redis.tesseraRateGateTake = async (
    numberOfKeys: number,
    ...keysThenArgs: (string | number)[]
  ): Promise<number> => {
    const transaction = redis.multi().time();
    void take.call(transaction, numberOfKeys, ...keysThenArgs);
    const results = await transaction.exec();
    const [[timeError, time] = [], [takeError, waitMs] = []] = results ?? [];
    if (timeError || takeError) throw timeError ?? takeError;
    if (waitMs === 0) {
      const [seconds, micros] = time as [string, string];
      admittedAt.push(Number(seconds) * 1000 + Number(micros) / 1000);
    }
    return waitMs as number;
  };
}

/** The requests counted in the sub-buckets of a window (`${prefix}:ratelimit:${key}:${perMs}:*`). */
async function countedIn(redis: Redis, pattern: string): Promise<number> {
  const keys = await redis.keys(pattern);
  const values = keys.length === 0 ? [] : await redis.mget(...keys);
  return values.reduce((sum, value) => sum + Number(value ?? 0), 0);
}

/**
 * A script for MULTI, run right after a take: the sub-bucket counters of key base KEYS[1] for each window length
 * in ARGV — the sub-bucket of now and the one before — that exist, with their PTTL, as ['perMs:index', ms]
 * pairs. (Not KEYS with a pattern: on a Redis shared with other tests it scans thousands of keys, and the 7 ms
 * counter below would age meanwhile.)
 */
const BUCKETS_WITH_PTTL = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local found = {}
for _, periodArg in ipairs(ARGV) do
  local sub = math.ceil(tonumber(periodArg) / 10)
  local current = math.floor(now / sub)
  for _, bucket in ipairs({ current, current - 1 }) do
    local name = periodArg .. ':' .. string.format('%d', bucket)
    local ttl = redis.call('PTTL', KEYS[1] .. ':' .. name)
    if ttl >= 0 then
      found[#found + 1] = { name, ttl }
    end
  end
end
return found
`;

/** Sleeps until just after a span of `perMs` starts on Redis's clock (the gate's sub-buckets are aligned on it). */
async function startOfNextBucket(redis: Redis, perMs: number, withinMs: number): Promise<void> {
  for (;;) {
    const now = await redisNowMs(redis);
    await new Promise((resolve) => setTimeout(resolve, perMs - (now % perMs) + 1));
    if ((await redisNowMs(redis)) % perMs < withinMs) return;
  }
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
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

// Hour-long windows (6-minute sub-buckets) where a test wants no sub-bucket to leave the window while it runs.
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

  it('holds two workers sharing a key to `requests` in every span of `perMs`, and uses the limit', async () => {
    const limit = { requests: 10, perMs: 1000 };
    const workers = [new RedisRateGate(redis, prefix), new RedisRateGate(otherWorkerRedis, prefix)];
    const admittedAt: number[] = [];
    recordAdmissions(redis, admittedAt);
    recordAdmissions(otherWorkerRedis, admittedAt);
    // Fire mid-window: a burst there is what the former sliding-window counter let through 1.4 times.
    await startOfNextBucket(redis, limit.perMs, 20);
    await new Promise((resolve) => setTimeout(resolve, limit.perMs / 2));
    await Promise.all(
      Array.from({ length: 25 }, async (_, index) => {
        await workers[index % 2]?.acquire('braze:dest-1:track', [limit]);
      }),
    );

    expect(admittedAt).toHaveLength(25);
    // The exact guarantee, on the times Redis admitted the requests (see recordAdmissions): no slack needed.
    // Two workers each counting alone, or fixed windows, would let 2 x 10 through in one span here.
    expect(maxInSpan(admittedAt, limit.perMs)).toBeLessThanOrEqual(limit.requests);
    // The limit is used, not just respected: a burst of 10, then 10 once the burst's sub-bucket (100 ms) has
    // left the window (~1,100 ms later), then 5 more as long again: 25 requests in under 3 windows.
    expect(Math.max(...admittedAt) - Math.min(...admittedAt)).toBeLessThan(3 * limit.perMs);
  });

  it('holds a burst after an idle period, in the middle of a sub-bucket, to `requests` per `perMs`', async () => {
    // The failure of the former sliding-window counter: after idling, a burst of `requests` φ ms into its
    // bucket let `requests x φ / perMs` more through in the next bucket before `perMs` had passed.
    const limit = { requests: 10, perMs: 1000 };
    const gate = new RedisRateGate(redis, prefix);
    const admittedAt: number[] = [];
    recordAdmissions(redis, admittedAt);
    await startOfNextBucket(redis, limit.perMs, 10);
    // 550 ms in: the middle of the window's bucket of old, and of a 100 ms sub-bucket.
    await new Promise((resolve) => setTimeout(resolve, 540));
    await Promise.all(Array.from({ length: 10 }, () => gate.acquire('klaviyo:dest-1:events', [limit])));
    const burstEnd = Math.max(...admittedAt);

    // The 11th would wait until the burst's sub-bucket leaves the window: past the burst + perMs, by at most
    // one sub-bucket.
    // (On the other client: a gate's constructor defines its command again, which would undo recordAdmissions.)
    const refusingGate = new RedisRateGate(otherWorkerRedis, prefix, { sleep: refuseToWait });
    const askedAt = await redisNowMs(redis);
    const waitMs = await waitMsOf(refusingGate.acquire('klaviyo:dest-1:events', [limit]));
    expect(askedAt + waitMs).toBeGreaterThan(burstEnd + limit.perMs);
    expect(askedAt + waitMs).toBeLessThanOrEqual(
      Math.min(...admittedAt) + limit.perMs + limit.perMs / 10 + 1,
    );

    // And when the next 10 keep asking, none gets in before then.
    await Promise.all(Array.from({ length: 10 }, () => gate.acquire('klaviyo:dest-1:events', [limit])));
    expect(admittedAt).toHaveLength(20);
    const nextWave = admittedAt.slice(10);
    expect(Math.min(...nextWave) - burstEnd).toBeGreaterThan(limit.perMs);
    expect(maxInSpan(admittedAt, limit.perMs)).toBeLessThanOrEqual(limit.requests);
    // They all get in as soon as the burst has left, not a window later.
    expect(Math.max(...nextWave) - burstEnd).toBeLessThan(limit.perMs + limit.perMs / 10 + 100);
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
    // The burst window lets 3 through at once, then 3 more once their 10 ms sub-bucket has left it (~110 ms).
    expect(admittedAfterMs[2]).toBeLessThan(50);
    expect(admittedAfterMs[3]).toBeGreaterThanOrEqual(100);
    // The steady window lets those 6 through (the 6th at ~110 ms) ...
    expect(admittedAfterMs[5]).toBeLessThan(500);
    // ... and the 7th only once the first 3 have left it with their 100 ms sub-bucket (~1,100 ms).
    expect(admittedAfterMs[6]).toBeGreaterThanOrEqual(1000);
    expect(admittedAfterMs[7]).toBeLessThan(1500);
  });

  it('counts `cost` requests, in every window or in none', async () => {
    const gate = new RedisRateGate(redis, prefix, { sleep: refuseToWait });
    const perHour = { requests: 10, perMs: HOUR_MS };
    await gate.acquire('sfmc:dest-1:rows', [perHour], 7);
    await gate.acquire('sfmc:dest-1:rows', [perHour], 3);
    expect(await countedIn(redis, `${prefix}:ratelimit:sfmc:dest-1:rows:3600000:*`)).toBe(10);
    // Full: room comes back once the sub-bucket (6 minutes) holding them has left the window: after an hour.
    const waitMs = await waitMsOf(gate.acquire('sfmc:dest-1:rows', [perHour]));
    expect(waitMs).toBeGreaterThan(HOUR_MS);
    expect(waitMs).toBeLessThanOrEqual(HOUR_MS + HOUR_MS / 10);

    // A call refused by one window is not counted in the others.
    const roomy = { requests: 100, perMs: HOUR_MS };
    const tight = { requests: 2, perMs: 2 * HOUR_MS };
    await gate.acquire('braze:dest-1:merge', [roomy, tight], 2);
    await waitMsOf(gate.acquire('braze:dest-1:merge', [roomy, tight]));
    expect(await countedIn(redis, `${prefix}:ratelimit:braze:dest-1:merge:3600000:*`)).toBe(2);

    // Two windows of the same length share their sub-buckets: a call counts once there, and the tighter holds.
    const loose = { requests: 5, perMs: HOUR_MS };
    const strict = { requests: 3, perMs: HOUR_MS };
    for (let call = 0; call < 3; call++) await gate.acquire('braze:dest-2:merge', [loose, strict]);
    expect(await countedIn(redis, `${prefix}:ratelimit:braze:dest-2:merge:3600000:*`)).toBe(3);
    await waitMsOf(gate.acquire('braze:dest-2:merge', [loose, strict]));
  });

  it('lets a cost larger than the window through when the window is empty, instead of never', async () => {
    const gate = new RedisRateGate(redis, prefix, { sleep: refuseToWait });
    const perHour = { requests: 10, perMs: HOUR_MS };
    await gate.acquire('sfmc:dest-1:rows', [perHour], 25);
    expect(await countedIn(redis, `${prefix}:ratelimit:sfmc:dest-1:rows:3600000:*`)).toBe(25);
    // All 25 count: the next request waits until they have left the window, more than an hour.
    const afterOversized = await waitMsOf(gate.acquire('sfmc:dest-1:rows', [perHour]));
    expect(afterOversized).toBeGreaterThan(HOUR_MS);
    expect(afterOversized).toBeLessThanOrEqual(HOUR_MS + HOUR_MS / 10);

    // When the window is not empty, the oversized call waits until the window has fully drained.
    await gate.acquire('sfmc:dest-2:rows', [perHour], 1);
    const waitMs = await waitMsOf(gate.acquire('sfmc:dest-2:rows', [perHour], 25));
    expect(waitMs).toBeGreaterThan(HOUR_MS);
    expect(waitMs).toBeLessThanOrEqual(HOUR_MS + HOUR_MS / 10);
  });

  it('keeps keys independent and lets each sub-bucket expire once it has left the window', async () => {
    const gate = new RedisRateGate(redis, prefix, { sleep: refuseToWait });
    const perHour = { requests: 10, perMs: HOUR_MS };
    await gate.acquire('mailchimp:dest-1:members', [perHour], 10);
    await waitMsOf(gate.acquire('mailchimp:dest-1:members', [perHour]));
    await expect(gate.acquire('mailchimp:dest-2:members', [perHour])).resolves.toBeUndefined();

    // Sub-buckets of perMs / 10, numbered from Redis's epoch; a window under 10 ms gets 1 ms sub-buckets, and a
    // length that does not divide by 10 rounds its sub-buckets up (1,005 ms: 101 ms). A 5 ms window's key lives
    // 7 ms, so it is taken and inspected in one transaction, right after the script, on the gate's own command.
    const [[, time] = [], [, taken] = [], [, inspected] = []] =
      (await redis
        .multi()
        .time()
        .tesseraRateGateTake(
          1,
          `${prefix}:ratelimit:mailchimp:dest-3:members`,
          'lease-1',
          60_000,
          'count',
          1,
          3,
          10,
          5,
          10,
          1005,
          10,
          HOUR_MS,
        )
        .eval(BUCKETS_WITH_PTTL, 1, `${prefix}:ratelimit:mailchimp:dest-3:members`, 5, 1005, HOUR_MS)
        .exec()) ?? [];
    expect(taken).toBe(0);
    const [seconds, micros] = time as [string, string];
    const now = Number(seconds) * 1000 + Number(micros) / 1000;
    const counters = new Map(inspected as [string, number][]);
    expect(counters.size).toBe(3);
    for (const [perMs, subMs] of [
      [5, 1],
      [1005, 101],
      [HOUR_MS, HOUR_MS / 10],
    ] as const) {
      const subBucket = Math.floor(now / subMs);
      // The script reads its clock microseconds after `now`: the same sub-bucket, or the next one.
      const ttl = counters.get(`${perMs}:${subBucket}`) ?? counters.get(`${perMs}:${subBucket + 1}`);
      // Read until it is no longer the oldest sub-bucket of a window: less than perMs + subMs after it started.
      expect(ttl).toBeGreaterThan(perMs + subMs - 2);
      expect(ttl).toBeLessThanOrEqual(perMs + subMs + 1);
    }
    const [hourCounter] = await redis.keys(`${prefix}:ratelimit:mailchimp:dest-1:members:*`);
    expect(await redis.pttl(hourCounter ?? '')).toBeGreaterThan(HOUR_MS + HOUR_MS / 10 - 1000);
  });

  it('holds many workers contending for one key to the limit, each waiting only as long as it must', async () => {
    // Six processes' clients, sixty requests at once against 10 per 500 ms: every waiter wakes at the same
    // instant and retries; the script admits only what fits and sends the rest back to wait again.
    const limit = { requests: 10, perMs: 500 };
    const clients = Array.from({ length: 6 }, () => new Redis(TEST_REDIS_URL));
    try {
      const admittedAt: number[] = [];
      const gates = clients.map((client) => {
        const gate = new RedisRateGate(client, prefix);
        recordAdmissions(client, admittedAt);
        return gate;
      });
      await Promise.all(
        Array.from({ length: 60 }, (_, index) =>
          gates[index % gates.length]?.acquire('sfmc:tenant-1:rest', [limit]),
        ),
      );
      expect(admittedAt).toHaveLength(60);
      expect(maxInSpan(admittedAt, limit.perMs)).toBeLessThanOrEqual(limit.requests);
      // 6 waves of 10, each a window (plus at most a sub-bucket) after the last: no waiter oversleeps a wave.
      const spanMs = Math.max(...admittedAt) - Math.min(...admittedAt);
      expect(spanMs).toBeGreaterThan(5 * limit.perMs);
      expect(spanMs).toBeLessThan(5 * (limit.perMs + limit.perMs / 10) + 250);
    } finally {
      await Promise.all(clients.map((client) => client.quit()));
    }
  });

  it('acquires several keys at once: in all of them, or, while one is full, in none', async () => {
    const gate = new RedisRateGate(redis, prefix, { sleep: refuseToWait });
    const perHour = (requests: number): { requests: number; perMs: number } => ({ requests, perMs: HOUR_MS });
    const inFlight = (key: string): Promise<number> => redis.zcard(`${prefix}:ratelimit:${key}:inflight`);
    const done = await gate.acquireAll([
      { key: 'klaviyo:acct:lists', windows: [perHour(2)] },
      { key: 'klaviyo:acct:all', windows: [perHour(100)] },
    ]);
    await gate.acquire('klaviyo:acct:lists', [perHour(2)]);
    // One in flight and one counted: the list budget is full. The request waits, and the roomy budget does not
    // take it meanwhile.
    const waitMs = await waitMsOf(
      gate.acquireAll([
        { key: 'klaviyo:acct:lists', windows: [perHour(2)] },
        { key: 'klaviyo:acct:all', windows: [perHour(100)] },
      ]),
    );
    expect(waitMs).toBeGreaterThan(HOUR_MS);
    expect([await inFlight('klaviyo:acct:lists'), await inFlight('klaviyo:acct:all')]).toEqual([1, 1]);
    expect(await countedIn(redis, `${prefix}:ratelimit:klaviyo:acct:lists:${HOUR_MS}:*`)).toBe(1);
    expect(await countedIn(redis, `${prefix}:ratelimit:klaviyo:acct:all:${HOUR_MS}:*`)).toBe(0);
    // Answered: it leaves the in-flight set of both budgets and counts in their windows from now.
    done();
    await waitUntil(async () => (await inFlight('klaviyo:acct:lists')) === 0);
    expect(await inFlight('klaviyo:acct:all')).toBe(0);
    expect(await countedIn(redis, `${prefix}:ratelimit:klaviyo:acct:lists:${HOUR_MS}:*`)).toBe(2);
    expect(await countedIn(redis, `${prefix}:ratelimit:klaviyo:acct:all:${HOUR_MS}:*`)).toBe(1);

    // Two claims on one key add up: with 1 counted, 2 + 2 more do not fit a budget of 4, 1 + 2 do.
    await gate.acquire('braze:acct:track', [perHour(4)]);
    await expect(
      waitMsOf(
        gate.acquireAll([
          { key: 'braze:acct:track', windows: [perHour(4)], cost: 2 },
          { key: 'braze:acct:track', windows: [perHour(4)], cost: 2 },
        ]),
      ),
    ).resolves.toBeGreaterThan(HOUR_MS);
    await gate.acquireAll([
      { key: 'braze:acct:track', windows: [perHour(4)], cost: 1 },
      { key: 'braze:acct:track', windows: [perHour(4)], cost: 2 },
    ]);
    expect(await inFlight('braze:acct:track')).toBe(3);
    // Full with 3 in flight and 1 answered: room comes when the answered one has left the window.
    await expect(waitMsOf(gate.acquire('braze:acct:track', [perHour(4)]))).resolves.toBeGreaterThan(HOUR_MS);
    // With only requests in flight filling it, the gate looks again a sub-bucket (6 minutes) later.
    await gate.acquireAll([{ key: 'braze:acct:merge', windows: [perHour(1)] }]);
    await expect(waitMsOf(gate.acquire('braze:acct:merge', [perHour(1)]))).resolves.toBe(HOUR_MS / 10);
    // No claim, nothing to wait for and nothing asked of Redis.
    const nothing = await gate.acquireAll([]);
    expect(nothing()).toBeUndefined();
  });

  it('counts a request in flight for as long as it lasts, then from its answer: latency never packs a window', async () => {
    const gate = new RedisRateGate(redis, prefix);
    const limit = { requests: 2, perMs: 300 };
    const claim = [{ key: 'sfmc:tenant:rest', windows: [limit] }];
    const first = await gate.acquireAll(claim);
    const second = await gate.acquireAll(claim);
    // Both still in flight after two windows (a slow ESP): the third is held.
    await new Promise((resolve) => setTimeout(resolve, 2 * limit.perMs));
    let thirdAt: number | undefined;
    const third = gate.acquireAll(claim).then((done) => {
      thirdAt = Date.now();
      return done;
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(thirdAt).toBeUndefined();
    // Answered now: the third goes a whole window later, not at once (the ESP may have seen them just now).
    const answeredAt = Date.now();
    first();
    second();
    (await third)();
    expect((thirdAt ?? 0) - answeredAt).toBeGreaterThanOrEqual(limit.perMs - 5);
    expect((thirdAt ?? 0) - answeredAt).toBeLessThan(limit.perMs + limit.perMs / 10 + 150);
  });

  it('stops counting a request whose answer never comes once its lease expires (its worker died)', async () => {
    const gate = new RedisRateGate(redis, prefix, { leaseMs: 200 });
    const claim = [{ key: 'mailchimp:acct:all', windows: [{ requests: 1, perMs: 1000 }] }];
    await gate.acquireAll(claim); // never done
    const startedAt = Date.now();
    // Held while the lease lasts: the gate looks again every sub-bucket (100 ms).
    const refusing = new RedisRateGate(otherWorkerRedis, prefix, { sleep: refuseToWait, leaseMs: 200 });
    await expect(waitMsOf(refusing.acquireAll(claim))).resolves.toBe(100);
    await gate.acquireAll(claim);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(190);
    expect(Date.now() - startedAt).toBeLessThan(600);
    expect(await redis.pttl(`${prefix}:ratelimit:mailchimp:acct:all:inflight`)).toBeLessThanOrEqual(200);
    expect(() => new RedisRateGate(redis, prefix, { leaseMs: 0 })).toThrow(
      'RedisRateGate: leaseMs must be a positive integer (got 0)',
    );
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
