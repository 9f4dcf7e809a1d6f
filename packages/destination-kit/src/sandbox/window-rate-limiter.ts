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
    return this.takeAll([{ key, windows, cost }]);
  }

  /**
   * Like `take` for several keys at once: counts every claim when all of them have room, else none, and
   * returns the ms until the fullest window has room. Claims on one key add up.
   */
  takeAll(
    claims: readonly { key: string; windows: readonly RateWindow[]; cost?: number }[],
  ): number | undefined {
    const now = this.clock.now();
    let waitMs = 0;
    // Each log once, with the cost every claim on it adds: a window named twice is counted once per claim.
    const takes = new Map<number[], number>();
    for (const { key, windows, cost = 1 } of claims) {
      const logsOfKey = new Set<number[]>();
      for (const window of windows) {
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
        const pending = (takes.get(log) ?? 0) + (logsOfKey.has(log) ? 0 : cost);
        // A call costing more than a whole window may still pass once the window is empty.
        const need = Math.min(pending, window.requests);
        if (log.length + need > window.requests) {
          const oldest = log[log.length + need - window.requests - 1] ?? now;
          waitMs = Math.max(waitMs, oldest + window.perMs - now);
        }
        if (!logsOfKey.has(log)) {
          logsOfKey.add(log);
          takes.set(log, pending);
        }
      }
    }
    if (waitMs > 0) return waitMs;
    for (const [log, cost] of takes) for (let i = 0; i < cost; i++) log.push(now);
    return undefined;
  }

  reset(): void {
    this.logs.clear();
  }
}
