import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import type { ConnectionGate } from '@tessera/destination-kit';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See LEASE_SCRIPT: 1 when the holder got a slot, 0 when the key is at its limit. */
    tesseraConnectionGateLease(
      leasesKey: string,
      limit: number,
      holder: string,
      leaseMs: number,
    ): Result<number, Context>;
    /** See COUNT_SCRIPT: leases under the key that have not expired. */
    tesseraConnectionGateCount(leasesKey: string): Result<number, Context>;
  }
}

/**
 * Takes a slot when fewer than ARGV[1] unexpired leases are held, in one step so that two workers cannot both
 * take the last slot. The ZSET KEYS[1] holds holder ids scored by lease expiry on Redis time (so workers with
 * skewed clocks agree on what has expired); the key itself lives as long as its longest lease.
 * ARGV: limit, holder id, lease ms.
 */
const LEASE_SCRIPT = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
local leaseMs = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + leaseMs, ARGV[2])
if redis.call('PTTL', KEYS[1]) < leaseMs then
  redis.call('PEXPIRE', KEYS[1], leaseMs)
end
return 1
`;

const COUNT_SCRIPT = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`;

/** Longer than the 30 s request timeout, so a live request never outlives its lease. */
export const DEFAULT_CONNECTION_LEASE_MS = 60_000;

/** Polling while the key is full: quick at first (a slot often frees within a request), then capped. */
const FIRST_POLL_MS = 5;
const MAX_POLL_MS = 50;

export interface RedisConnectionGateOptions {
  /** How long a slot stays taken if its holder never releases it (the holder crashed). Default 60 s. */
  leaseMs?: number;
  /** How the gate waits between polls (tests pass a fake). Default: setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

const sleepWithTimer = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The connection gate every worker shares (Mailchimp allows 10 concurrent connections per API key, across all
 * of our processes): a semaphore of leases in Redis. A slot is released by its holder or, if the holder died,
 * when its lease expires.
 */
export class RedisConnectionGate implements ConnectionGate {
  private readonly leaseMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    options: RedisConnectionGateOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? DEFAULT_CONNECTION_LEASE_MS;
    if (!Number.isInteger(this.leaseMs) || this.leaseMs < 1) {
      throw new Error(
        `RedisConnectionGate: leaseMs must be a positive integer (got ${String(this.leaseMs)})`,
      );
    }
    this.sleep = options.sleep ?? sleepWithTimer;
    redis.defineCommand('tesseraConnectionGateLease', { numberOfKeys: 1, lua: LEASE_SCRIPT });
    redis.defineCommand('tesseraConnectionGateCount', { numberOfKeys: 1, lua: COUNT_SCRIPT });
  }

  private leasesKey(key: string): string {
    return `${this.prefix}:connections:${key}`;
  }

  async acquire(key: string, limit: number): Promise<() => void> {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new Error(`RedisConnectionGate: limit must be a positive integer (got ${String(limit)})`);
    }
    const leasesKey = this.leasesKey(key);
    // One id per acquisition: releasing removes exactly this lease, however often it is called.
    const holder = randomUUID();
    let pollMs = FIRST_POLL_MS;
    while ((await this.redis.tesseraConnectionGateLease(leasesKey, limit, holder, this.leaseMs)) !== 1) {
      await this.sleep(pollMs);
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The interface's release is synchronous; if Redis cannot be reached the lease expires on its own.
      void this.redis.zrem(leasesKey, holder).catch(() => undefined);
    };
  }

  /** Unexpired leases under `key` now (for tests and metrics). */
  async count(key: string): Promise<number> {
    return this.redis.tesseraConnectionGateCount(this.leasesKey(key));
  }
}
