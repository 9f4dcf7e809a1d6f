import type { Clock } from '../retry-policy';
import { systemClock } from '../retry-policy';
import type { RateWindow } from '../destination-definition';

/**
 * Sliding-log rate limiter held in memory: for each key and window it keeps the times of the requests it let
 * through. Exact (no fixed-window bursts at the boundary) and cheap at ESP-sized limits (hundreds a minute).
 */
export class WindowRateLimiter {
  private readonly logs = new Map<string, number[]>();

  constructor(private readonly clock: Pick<Clock, 'now'> = systemClock) {}

  /**
   * Counts `cost` requests against every window of `key` when all have room and returns undefined; otherwise
   * counts nothing and returns the ms until the fullest window has room.
   */
  take(key: string, windows: readonly RateWindow[], cost = 1): number | undefined {
    const now = this.clock.now();
    let waitMs = 0;
    const logs = windows.map((window) => {
      const logKey = `${key}\u0000${window.perMs}`;
      let log = this.logs.get(logKey);
      if (log === undefined) {
        log = [];
        this.logs.set(logKey, log);
      }
      const horizon = now - window.perMs;
      let expired = 0;
      while (expired < log.length && (log[expired] ?? 0) <= horizon) expired++;
      if (expired > 0) log.splice(0, expired);
      // A call costing more than a whole window may still pass once the window is empty.
      const need = Math.min(cost, window.requests);
      if (log.length + need > window.requests) {
        const oldest = log[log.length + need - window.requests - 1] ?? now;
        waitMs = Math.max(waitMs, oldest + window.perMs - now);
      }
      return log;
    });
    if (waitMs > 0) return waitMs;
    for (const log of logs) for (let i = 0; i < cost; i++) log.push(now);
    return undefined;
  }

  reset(): void {
    this.logs.clear();
  }
}
