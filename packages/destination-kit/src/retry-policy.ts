import type { DeliveryError } from './delivery-errors';

/** Time source used by the kit. Injected so that tests never wait for real time to pass. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

interface Sleeper {
  dueAt: number;
  resolve: () => void;
}

/** A clock for tests: time moves only when `advance` is called, and sleepers wake when their time is reached. */
export class ManualClock implements Clock {
  private current: number;
  private sleepers: Sleeper[] = [];

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.sleepers.push({ dueAt: this.current + ms, resolve }));
  }

  /** Number of sleeps that have not woken yet. */
  get pendingSleeps(): number {
    return this.sleepers.length;
  }

  /** Moves time forward and wakes every sleeper whose time has come, earliest first. */
  advance(ms: number): void {
    if (ms < 0) throw new Error(`ManualClock cannot go backwards (advance by ${ms} ms)`);
    this.current += ms;
    const due = this.sleepers.filter((s) => s.dueAt <= this.current).sort((a, b) => a.dueAt - b.dueAt);
    this.sleepers = this.sleepers.filter((s) => s.dueAt > this.current);
    for (const sleeper of due) sleeper.resolve();
  }
}

export interface RetryPolicy {
  /** Backoff ceiling of the first retry, in ms. */
  baseMs: number;
  /** No backoff ever exceeds this, in ms (a server's Retry-After is not capped). */
  maxMs: number;
  /** Random source in [0, 1); injectable so that tests are deterministic. */
  random: () => number;
}

export const defaultRetryPolicy: RetryPolicy = { baseMs: 500, maxMs: 60_000, random: Math.random };

/**
 * Delay before retry number `attempt` (1 = the first retry). A server's `Retry-After` (carried by a
 * retryable DeliveryError) wins; otherwise exponential backoff with full jitter:
 * `random() * min(maxMs, baseMs * 2^(attempt - 1))`, rounded down. Pure.
 */
export function retryDelay(attempt: number, error: DeliveryError | undefined, policy: RetryPolicy): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`retryDelay: attempt must be an integer >= 1 (got ${attempt})`);
  }
  if (error && error.kind === 'retryable' && error.retryAfterMs !== undefined) return error.retryAfterMs;
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.floor(policy.random() * ceiling);
}
