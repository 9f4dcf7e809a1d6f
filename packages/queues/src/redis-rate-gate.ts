import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import type { RateClaim, RateGate, RateWindow } from '@tessera/destination-kit';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /**
     * See TAKE_SCRIPT: 0 when every claim was counted in every window, else the ms to wait before trying again.
     * Arguments: the number of keys, the key bases, then per key its cost, its window count and its windows.
     */
    tesseraRateGateTake(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Result<number, Context>;
  }
}

/**
 * Checks every window of every claim and counts each claim's `cost` in all of them, or in none, atomically:
 * a request under two budgets is never counted in one while it waits for the other.
 *
 * Each window is split into sub-buckets of `sub = ceil(perMs / 10)` ms (at least 1 ms, so a window under 10 ms
 * gets 1 ms sub-buckets, `perMs + 1` of them), aligned on Redis time: a request admitted at `now` is counted in
 * sub-bucket `floor(now / sub)`. The requests of the window ending at `now` are bounded by the sum of the
 * sub-buckets `floor((now - perMs) / sub)` to `floor(now / sub)`: at most 11, covering the whole closed span
 * [now - perMs, now], the oldest partly outside it and counted in full. The sum is never below the true count
 * of the last `perMs`, so admitting only when `sum + cost <= requests` never lets a span of `perMs` hold more
 * than `requests`; it overcounts by at most the one partly expired sub-bucket. At most 11 small keys per window,
 * whatever the limit.
 *
 * When a window is full, the wait is the time until enough of its oldest sub-buckets have left it: sub-bucket
 * `b` leaves once `now - perMs` reaches its end, at `(b + 1) * sub + perMs`. Every contender computes the same
 * instant; each then retries and the script, being atomic, admits only as many as fit (the others get the next
 * wait), so contention costs retries, never an overrun.
 *
 * Time comes from Redis `TIME`, not from the caller, so workers whose clocks drift still agree on buckets.
 * (Redis 5+ replicates a script's effects, not the script, so reading TIME before writing is allowed.)
 *
 * KEYS: one key base per claim, `${prefix}:ratelimit:${key}` (distinct; the caller merges claims on one key);
 * the sub-bucket keys are `${base}:${perMs}:${index}`, in the same hash slot as the base because the prefix
 * carries a hash tag. ARGV, per key in order: cost, window count, then `requests`, `perMs` of each window.
 */
const TAKE_SCRIPT = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local waitMs = 0
local takeKeys = {}
local takeCosts = {}
local takeTtls = {}
local cursor = 1
for keyIndex = 1, #KEYS do
  local cost = tonumber(ARGV[cursor])
  local windowCount = tonumber(ARGV[cursor + 1])
  cursor = cursor + 2
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
    local estimate = 0
    for position = 1, #counts do
      estimate = estimate + tonumber(counts[position] or '0')
    end
    -- A call costing more than the whole window passes once the window is empty, instead of never.
    local excess = estimate + math.min(cost, limit) - limit
    if excess > 0 then
      -- Walk from the oldest sub-bucket until enough requests have left; excess <= estimate, so this ends.
      local freed = 0
      local position = 0
      repeat
        position = position + 1
        freed = freed + tonumber(counts[position] or '0')
      until freed >= excess
      waitMs = math.max(waitMs, (first + position) * sub + period - now)
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
for position, key in ipairs(takeKeys) do
  -- Only a new key needs its expiry: it counts from the sub-bucket's first request.
  if redis.call('INCRBY', key, takeCosts[position]) == takeCosts[position] then
    redis.call('PEXPIRE', key, takeTtls[position])
  end
end
return 0
`;

export interface RedisRateGateOptions {
  /** How the gate waits between attempts (tests pass a fake). Default: setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

const sleepWithTimer = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The rate gate every worker shares: ESP limits (Braze 3,000 requests / 3 s, Klaviyo 75/s and 750/min) hold
 * for the whole pipeline, not per process. Each window is counted in Redis in sub-buckets of a tenth of it,
 * read conservatively so that no span of `perMs` ever holds more than `requests` (see TAKE_SCRIPT and the
 * package README).
 */
export class RedisRateGate implements RateGate {
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    options: RedisRateGateOptions = {},
  ) {
    this.sleep = options.sleep ?? sleepWithTimer;
    // defineCommand sends EVALSHA, and the script itself only when Redis answers NOSCRIPT.
    // No numberOfKeys: the caller passes it first, as the number of claims varies.
    redis.defineCommand('tesseraRateGateTake', { lua: TAKE_SCRIPT });
  }

  acquire(key: string, windows: readonly RateWindow[], cost = 1): Promise<void> {
    return this.acquireAll([{ key, windows, cost }]);
  }

  async acquireAll(claims: readonly RateClaim[]): Promise<void> {
    // Claims on one key are merged (costs added, windows joined): the script reads each key once.
    const byKey = new Map<string, { cost: number; windows: RateWindow[] }>();
    for (const claim of claims) {
      const cost = claim.cost ?? 1;
      if (!Number.isFinite(cost) || cost < 0) {
        throw new Error(`RedisRateGate: cost must be a non-negative number (got ${String(cost)})`);
      }
      claim.windows.forEach(assertRateWindow);
      const merged = byKey.get(claim.key) ?? { cost: 0, windows: [] };
      merged.cost += cost;
      merged.windows.push(...claim.windows);
      byKey.set(claim.key, merged);
    }
    const keys: string[] = [];
    const args: number[] = [];
    for (const [key, { cost, windows }] of byKey) {
      // Counters are integers; a fraction of a request is counted as a whole one rather than dropped.
      const wholeCost = Math.ceil(cost);
      if (windows.length === 0 || wholeCost === 0) continue;
      keys.push(`${this.prefix}:ratelimit:${key}`);
      args.push(wholeCost, windows.length, ...windows.flatMap((window) => [window.requests, window.perMs]));
    }
    if (keys.length === 0) return;
    for (;;) {
      const waitMs = await this.redis.tesseraRateGateTake(keys.length, ...keys, ...args);
      if (waitMs === 0) return;
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
