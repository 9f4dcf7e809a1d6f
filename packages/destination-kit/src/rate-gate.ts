import type { RateWindow } from './destination-definition';
import { type Clock, systemClock } from './retry-policy';
import { WindowRateLimiter } from './sandbox/window-rate-limiter';

/** Requests to count under one key (an ESP account's budget), in each of its windows. */
export interface RateClaim {
  key: string;
  windows: readonly RateWindow[];
  /** Requests counted (default 1). */
  cost?: number;
}

/**
 * Holds a request back until the ESP's limits have room. The pipeline backs it with Redis so that the limit is
 * shared across workers; `MemoryRateGate` serves one process (the harness, benchmarks).
 */
export interface RateGate {
  /** Resolves when `cost` more requests under `key` fit every window (and counts them). */
  acquire(key: string, windows: readonly RateWindow[], cost?: number): Promise<void>;
  /**
   * Resolves when every claim fits its windows, and counts them all at once: a request under two budgets is
   * never counted in one while it waits for the other (it would reach the ESP later than it was counted).
   */
  acquireAll(claims: readonly RateClaim[]): Promise<void>;
}

export class MemoryRateGate implements RateGate {
  private readonly limiter: WindowRateLimiter;

  constructor(private readonly clock: Clock = systemClock) {
    this.limiter = new WindowRateLimiter(clock);
  }

  acquire(key: string, windows: readonly RateWindow[], cost = 1): Promise<void> {
    return this.acquireAll([{ key, windows, cost }]);
  }

  async acquireAll(claims: readonly RateClaim[]): Promise<void> {
    if (claims.length === 0) return;
    for (;;) {
      const waitMs = this.limiter.takeAll(claims);
      if (waitMs === undefined) return;
      await this.clock.sleep(waitMs);
    }
  }
}
