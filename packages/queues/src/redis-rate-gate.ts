import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import {
  mergeRateClaims,
  type RateClaim,
  type RateDone,
  type RateGate,
  type RateWindow,
} from '@tessera/destination-kit';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /**
     * See TAKE_SCRIPT: 0 when every claim was taken, else the ms to wait before trying again. Arguments: the
     * number of keys, the key bases, the lease id, the lease ms, the mode, then per key its cost, its window
     * count and its windows.
     */
    tesseraRateGateTake(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Result<number, Context>;
    /** See DONE_SCRIPT. Arguments: the number of keys, the key bases, the lease id, then per key its cost, its
     *  period count and its periods. */
    tesseraRateGateDone(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Result<number, Context>;
  }
}

/**
 * Checks every window of every claim and takes each claim's `cost` in all of them, or in none, atomically:
 * a request under two budgets is never counted in one while it waits for the other.
 *
 * What a window holds: the requests still in flight (admitted, not yet answered), at every instant, plus the
 * answered ones from the moment they were answered. The ESP counts arrivals, and a request arrives after it
 * was admitted and before it was answered: counting it at its answer is never too early, and counting it while
 * in flight covers every arrival time. So no latency lets two requests the gate spaced `perMs` apart land in
 * one of the ESP's windows. (Mode `count`, the older per-operation limits, counts at admission instead.)
 *
 * In flight: a sorted set `${base}:inflight` of lease ids (one member per request of the cost), scored by the
 * lease's expiry on Redis time, so that a worker that died mid-request stops holding room after `leaseMs`.
 *
 * Answered: each window is split into sub-buckets of `sub = ceil(perMs / 10)` ms (at least 1 ms), aligned on
 * Redis time; a request answered at `now` is counted in sub-bucket `floor(now / sub)`. The requests of the
 * window ending at `now` are bounded by the sum of the sub-buckets `floor((now - perMs) / sub)` to
 * `floor(now / sub)`: at most 11, covering the closed span [now - perMs, now], the oldest partly outside it
 * and counted in full. The sum is never below the true count of the last `perMs`, so admitting only when
 * `in flight + sum + cost <= requests` never lets a span of `perMs` hold more than `requests`; it overcounts by
 * at most the one partly expired sub-bucket.
 *
 * When a window is full, the wait is the time until enough of its oldest sub-buckets have left it: sub-bucket
 * `b` leaves once `now - perMs` reaches its end, at `(b + 1) * sub + perMs`; when requests in flight are what
 * fills it, the gate looks again after a sub-bucket (once answered, they say how long). Every contender computes the same
 * instant; each then retries and the script, being atomic, admits only as many as fit (the others get the next
 * wait), so contention costs retries, never an overrun.
 *
 * Time comes from Redis `TIME`, not from the caller, so workers whose clocks drift still agree on buckets.
 * (Redis 5+ replicates a script's effects, not the script, so reading TIME before writing is allowed.)
 *
 * KEYS: one key base per claim, `${prefix}:ratelimit:${key}` (distinct: the caller merges claims on one key);
 * the sub-bucket keys are `${base}:${perMs}:${index}`, in the same hash slot as the base because the prefix
 * carries a hash tag. ARGV: lease id, lease ms, mode (`lease` or `count`), then per key in order: cost, window
 * count, then `requests`, `perMs` of each window.
 */
const TAKE_SCRIPT = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local leaseId = ARGV[1]
local leaseMs = tonumber(ARGV[2])
local mode = ARGV[3]
local waitMs = 0
local takeKeys = {}
local takeCosts = {}
local takeTtls = {}
local leaseKeys = {}
local leaseCosts = {}
local cursor = 4
for keyIndex = 1, #KEYS do
  local cost = tonumber(ARGV[cursor])
  local windowCount = tonumber(ARGV[cursor + 1])
  cursor = cursor + 2
  local inflightKey = KEYS[keyIndex] .. ':inflight'
  redis.call('ZREMRANGEBYSCORE', inflightKey, '-inf', now)
  local flying = redis.call('ZCARD', inflightKey)
  leaseKeys[#leaseKeys + 1] = inflightKey
  leaseCosts[#leaseCosts + 1] = cost
  local seenPeriods = {}
  for _ = 1, windowCount do
    local limit = tonumber(ARGV[cursor])
    local periodArg = ARGV[cursor + 1]
    local period = tonumber(periodArg)
    cursor = cursor + 2
    local sub = math.ceil(period / 10)
    local first = math.floor((now - period) / sub)
    local last = math.floor(now / sub)
    local base = KEYS[keyIndex] .. ':' .. periodArg .. ':'
    local keys = {}
    for bucket = first, last do
      keys[#keys + 1] = base .. string.format('%d', bucket)
    end
    -- A missing sub-bucket comes back as false.
    local counts = redis.call('MGET', unpack(keys))
    local answered = 0
    for position = 1, #counts do
      answered = answered + tonumber(counts[position] or '0')
    end
    -- A call costing more than the whole window passes once the window is empty, instead of never.
    local excess = flying + answered + math.min(cost, limit) - limit
    if excess > 0 then
      if excess <= answered then
        -- Walk from the oldest sub-bucket until enough requests have left.
        local freed = 0
        local position = 0
        repeat
          position = position + 1
          freed = freed + tonumber(counts[position] or '0')
        until freed >= excess
        waitMs = math.max(waitMs, (first + position) * sub + period - now)
      else
        -- Requests in flight fill it: room comes a window after they are answered, which nobody knows yet.
        -- Look again after a sub-bucket (their answers will say how long), or once every answered one has left.
        local poll = sub
        if answered > 0 then
          poll = math.max(poll, (last + 1) * sub + period - now)
        end
        waitMs = math.max(waitMs, poll)
      end
    end
    -- Two windows of one key with the same perMs share their sub-buckets: count the call in them once.
    if not seenPeriods[periodArg] then
      seenPeriods[periodArg] = true
      takeKeys[#takeKeys + 1] = keys[#keys]
      takeCosts[#takeCosts + 1] = cost
      -- Last read when it is the oldest sub-bucket of a window, less than perMs + sub after it started.
      takeTtls[#takeTtls + 1] = period + sub + 1
    end
  end
end
if waitMs > 0 then
  return math.max(1, math.ceil(waitMs))
end
if mode == 'count' then
  for position, key in ipairs(takeKeys) do
    -- Only a new key needs its expiry: it counts from the sub-bucket's first request.
    if redis.call('INCRBY', key, takeCosts[position]) == takeCosts[position] then
      redis.call('PEXPIRE', key, takeTtls[position])
    end
  end
else
  for position, key in ipairs(leaseKeys) do
    for unit = 1, leaseCosts[position] do
      redis.call('ZADD', key, now + leaseMs, leaseId .. '#' .. unit)
    end
    if redis.call('PTTL', key) < leaseMs then
      redis.call('PEXPIRE', key, leaseMs)
    end
  end
end
return 0
`;

/**
 * A leased request was answered: it leaves the in-flight set and is counted in the sub-bucket of now, in every
 * period of its key (even when its lease had expired: counting late is never too early).
 * KEYS: the key bases of the lease. ARGV: lease id, then per key: cost, period count, periods.
 */
const DONE_SCRIPT = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local leaseId = ARGV[1]
local cursor = 2
for keyIndex = 1, #KEYS do
  local cost = tonumber(ARGV[cursor])
  local periodCount = tonumber(ARGV[cursor + 1])
  cursor = cursor + 2
  for unit = 1, cost do
    redis.call('ZREM', KEYS[keyIndex] .. ':inflight', leaseId .. '#' .. unit)
  end
  for _ = 1, periodCount do
    local periodArg = ARGV[cursor]
    local period = tonumber(periodArg)
    cursor = cursor + 1
    local sub = math.ceil(period / 10)
    local key = KEYS[keyIndex] .. ':' .. periodArg .. ':' .. string.format('%d', math.floor(now / sub))
    if redis.call('INCRBY', key, cost) == cost then
      redis.call('PEXPIRE', key, period + sub + 1)
    end
  end
end
return 0
`;

/** Longer than the 30 s request timeout, so a live request never outlives its lease. */
export const DEFAULT_RATE_LEASE_MS = 60_000;

export interface RedisRateGateOptions {
  /** How the gate waits between attempts (tests pass a fake). Default: setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** How long a request counts as in flight if its `done` never comes (the worker died). Default 60 s. */
  leaseMs?: number;
}

const sleepWithTimer = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The rate gate every worker shares: ESP limits (Braze 3,000 requests / 3 s, Klaviyo 75/s and 750/min) hold
 * for the whole pipeline, not per process. Requests in flight are counted at every instant, answered ones from
 * their answer, in Redis sub-buckets of a tenth of a window, read conservatively so that no span of `perMs`
 * ever holds more than `requests` at the ESP (see TAKE_SCRIPT and the package README).
 */
export class RedisRateGate implements RateGate {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly leaseMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    options: RedisRateGateOptions = {},
  ) {
    this.sleep = options.sleep ?? sleepWithTimer;
    this.leaseMs = options.leaseMs ?? DEFAULT_RATE_LEASE_MS;
    if (!Number.isInteger(this.leaseMs) || this.leaseMs < 1) {
      throw new Error(`RedisRateGate: leaseMs must be a positive integer (got ${String(this.leaseMs)})`);
    }
    // defineCommand sends EVALSHA, and the script itself only when Redis answers NOSCRIPT. No numberOfKeys:
    // the caller passes it first, as the number of claims varies.
    redis.defineCommand('tesseraRateGateTake', { lua: TAKE_SCRIPT });
    redis.defineCommand('tesseraRateGateDone', { lua: DONE_SCRIPT });
  }

  async acquire(key: string, windows: readonly RateWindow[], cost = 1): Promise<void> {
    await this.take([{ key, windows, cost }], 'count');
  }

  async acquireAll(claims: readonly RateClaim[]): Promise<RateDone> {
    const lease = await this.take(claims, 'lease');
    if (lease === undefined) return () => undefined;
    let finished = false;
    return () => {
      if (finished) return;
      finished = true;
      // The interface's done is synchronous; if Redis cannot be reached the lease expires on its own.
      void this.redis
        .tesseraRateGateDone(lease.keys.length, ...lease.keys, ...lease.doneArgs)
        .catch(() => undefined);
    };
  }

  /** Takes the claims (waiting as long as it must); undefined when there was nothing to count. */
  private async take(
    claims: readonly RateClaim[],
    mode: 'lease' | 'count',
  ): Promise<{ keys: string[]; doneArgs: (string | number)[] } | undefined> {
    for (const claim of claims) {
      const cost = claim.cost ?? 1;
      if (!Number.isFinite(cost) || cost < 0) {
        throw new Error(`RedisRateGate: cost must be a non-negative number (got ${String(cost)})`);
      }
      claim.windows.forEach(assertRateWindow);
    }
    const leaseId = randomUUID();
    const keys: string[] = [];
    const takeArgs: number[] = [];
    const doneArgs: (string | number)[] = [leaseId];
    for (const [key, { cost, windows }] of mergeRateClaims(claims)) {
      // Counters are integers; a fraction of a request is counted as a whole one rather than dropped.
      const wholeCost = Math.ceil(cost);
      if (windows.length === 0 || wholeCost === 0) continue;
      keys.push(`${this.prefix}:ratelimit:${key}`);
      takeArgs.push(
        wholeCost,
        windows.length,
        ...windows.flatMap((window) => [window.requests, window.perMs]),
      );
      const periods = [...new Set(windows.map((window) => window.perMs))];
      doneArgs.push(wholeCost, periods.length, ...periods);
    }
    if (keys.length === 0) return undefined;
    for (;;) {
      const waitMs = await this.redis.tesseraRateGateTake(
        keys.length,
        ...keys,
        leaseId,
        this.leaseMs,
        mode,
        ...takeArgs,
      );
      if (waitMs === 0) return { keys, doneArgs };
      await this.sleep(waitMs);
    }
  }
}

function assertRateWindow(window: RateWindow): void {
  for (const field of ['requests', 'perMs'] as const) {
    const value = window[field];
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`RedisRateGate: a window's ${field} must be a positive integer (got ${String(value)})`);
    }
  }
}
