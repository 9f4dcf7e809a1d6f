import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import type { RateGate, RateWindow } from '@tessera/destination-kit';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See TAKE_SCRIPT: 0 when `cost` was counted in every window, else the ms to wait before trying again. */
    tesseraRateGateTake(keyBase: string, cost: number, ...windows: number[]): Result<number, Context>;
  }
}

/**
 * Checks every window of one call and counts `cost` in all of them, or in none, atomically.
 *
 * Each window is a sliding-window counter: a fixed bucket per `perMs` (aligned on Redis time) holds how many
 * requests it admitted, and the requests of the last `perMs` are estimated as the current bucket plus the
 * previous bucket weighted by how much of it the sliding window still covers. Two small keys per window,
 * whatever the limit (250,000/hour costs the same as 10/s).
 *
 * Time comes from Redis `TIME`, not from the caller, so workers whose clocks drift still agree on buckets.
 * (Redis 5+ replicates a script's effects, not the script, so reading TIME before writing is allowed.)
 *
 * KEYS[1]: key base, `${prefix}:ratelimit:${key}`; the bucket keys are `${KEYS[1]}:${perMs}:${bucketStart}`,
 * in the same hash slot as KEYS[1] because the prefix carries a hash tag.
 * ARGV[1]: cost; then `requests`, `perMs` of each window.
 */
const TAKE_SCRIPT = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local cost = tonumber(ARGV[1])
local waitMs = 0
local bucketKeys = {}
local periods = {}
for index = 1, (#ARGV - 1) / 2 do
  local limit = tonumber(ARGV[index * 2])
  local period = tonumber(ARGV[index * 2 + 1])
  local bucketStart = math.floor(now / period) * period
  local base = KEYS[1] .. ':' .. ARGV[index * 2 + 1] .. ':'
  local currentKey = base .. string.format('%d', bucketStart)
  local current = tonumber(redis.call('GET', currentKey) or '0')
  local previous = tonumber(redis.call('GET', base .. string.format('%d', bucketStart - period)) or '0')
  local elapsed = now - bucketStart
  -- A call costing more than the whole window passes once the window is empty, instead of never.
  local need = math.min(cost, limit)
  if previous * (period - elapsed) / period + current + need > limit then
    local room = limit - need - current
    local windowWait
    if previous > 0 and room >= 0 then
      -- Room appears in this bucket once the previous bucket's weight has shrunk enough.
      windowWait = period - elapsed - room * period / previous
    else
      -- Only in the next bucket, where this bucket becomes the weighted one.
      windowWait = period - elapsed + math.max(0, period - (limit - need) * period / current)
    end
    waitMs = math.max(waitMs, windowWait)
  end
  bucketKeys[index] = currentKey
  periods[index] = period
end
if waitMs > 0 then
  return math.max(1, math.ceil(waitMs))
end
for index, bucketKey in ipairs(bucketKeys) do
  redis.call('INCRBY', bucketKey, cost)
  -- Read while it is current and while it is the previous bucket: two periods, then it is garbage.
  redis.call('PEXPIRE', bucketKey, periods[index] * 2)
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
 * for the whole pipeline, not per process. Counting is a sliding-window counter per window in Redis (see
 * TAKE_SCRIPT and the package README for its approximation).
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
    redis.defineCommand('tesseraRateGateTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  }

  async acquire(key: string, windows: readonly RateWindow[], cost = 1): Promise<void> {
    const windowArgs = windows.flatMap((window) => {
      assertRateWindow(window);
      return [window.requests, window.perMs];
    });
    if (!Number.isFinite(cost) || cost < 0) {
      throw new Error(`RedisRateGate: cost must be a non-negative number (got ${String(cost)})`);
    }
    // Counters are integers; a fraction of a request is counted as a whole one rather than dropped.
    const wholeCost = Math.ceil(cost);
    if (windowArgs.length === 0 || wholeCost === 0) return;
    for (;;) {
      const waitMs = await this.redis.tesseraRateGateTake(
        `${this.prefix}:ratelimit:${key}`,
        wholeCost,
        ...windowArgs,
      );
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
