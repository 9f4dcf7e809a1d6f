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
   * Counts one request against every window of `key` when all have room and returns undefined; otherwise
   * counts nothing and returns the ms until the fullest window frees a slot.
   */
  take(key: string, windows: readonly RateWindow[]): number | undefined {
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
      if (log.length >= window.requests) {
        const oldest = log[log.length - window.requests] ?? now;
        waitMs = Math.max(waitMs, oldest + window.perMs - now);
      }
      return log;
    });
    if (waitMs > 0) return waitMs;
    for (const log of logs) log.push(now);
    return undefined;
  }

  reset(): void {
    this.logs.clear();
  }
}
