import type { RateWindow } from './destination-definition';
import { type Clock, systemClock } from './retry-policy';
import { WindowRateLimiter } from './sandbox/window-rate-limiter';

/**
 * Holds an operation call back until the ESP's limits have room. The pipeline backs it with Redis so that the
 * limit is shared across workers; `MemoryRateGate` serves one process (the harness, benchmarks).
 */
export interface RateGate {
  /** Resolves when `cost` more requests under `key` fit every window (and counts them). */
  acquire(key: string, windows: readonly RateWindow[], cost?: number): Promise<void>;
}

export class MemoryRateGate implements RateGate {
  private readonly limiter: WindowRateLimiter;

  constructor(private readonly clock: Clock = systemClock) {
    this.limiter = new WindowRateLimiter(clock);
  }

  async acquire(key: string, windows: readonly RateWindow[], cost = 1): Promise<void> {
    for (;;) {
      const waitMs = this.limiter.take(key, windows, cost);
      if (waitMs === undefined) return;
      await this.clock.sleep(waitMs);
    }
  }
}
