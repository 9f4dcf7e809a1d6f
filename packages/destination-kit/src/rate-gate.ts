import type { RateWindow } from './destination-definition';
import { type Clock, systemClock } from './retry-policy';

/** Requests to count under one key (an ESP account's budget), in each of its windows. */
export interface RateClaim {
  key: string;
  windows: readonly RateWindow[];
  /** Requests counted (default 1). */
  cost?: number;
}

/** Called once the ESP has answered a request (or it failed): see `RateGate.acquireAll`. */
export type RateDone = () => void;

/**
 * Holds a request back until the ESP's limits have room. The pipeline backs it with Redis so that the limit is
 * shared across workers; `MemoryRateGate` serves one process (the harness, benchmarks).
 */
export interface RateGate {
  /**
   * Resolves when `cost` more requests under `key` fit every window, and counts them from now: for a caller
   * that cannot tell when the ESP answered (the HTTP client uses `acquireAll`).
   */
  acquire(key: string, windows: readonly RateWindow[], cost?: number): Promise<void>;
  /**
   * Resolves, once every claim fits its windows, with `done`, to call when the ESP has answered. The claims are
   * taken together (a request is never counted in one budget while it waits for another). Until `done` they
   * count as in flight, at every instant; from `done` on they count from that moment, which is after the ESP
   * received the request. So two requests the gate spaces `perMs` apart reach the ESP `perMs` apart whatever
   * the latency (the ESP counts arrivals): a slow network or a busy event loop costs throughput, never a 429.
   */
  acquireAll(claims: readonly RateClaim[]): Promise<RateDone>;
}

/** Claims on one key, merged: costs added, windows joined (a gate reads each key once). */
export function mergeRateClaims(
  claims: readonly RateClaim[],
): Map<string, { cost: number; windows: RateWindow[] }> {
  const byKey = new Map<string, { cost: number; windows: RateWindow[] }>();
  for (const claim of claims) {
    const merged = byKey.get(claim.key) ?? { cost: 0, windows: [] };
    merged.cost += claim.cost ?? 1;
    merged.windows.push(...claim.windows);
    byKey.set(claim.key, merged);
  }
  return byKey;
}

/** The rate gate of one process, with the same accounting as the pipeline's Redis gate (sliding logs here). */
export class MemoryRateGate implements RateGate {
  /** Per `${key}\u0000${perMs}`: the times requests were counted from, oldest first. */
  private readonly logs = new Map<string, number[]>();
  /** Per key: requests admitted whose `done` has not been called. */
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly clock: Clock = systemClock) {}

  async acquire(key: string, windows: readonly RateWindow[], cost = 1): Promise<void> {
    const done = await this.acquireAll([{ key, windows, cost }]);
    done();
  }

  async acquireAll(claims: readonly RateClaim[]): Promise<RateDone> {
    const merged = [...mergeRateClaims(claims)].filter(([, { cost }]) => cost > 0);
    for (;;) {
      const waitMs = this.waitMs(merged);
      if (waitMs === 0) break;
      await this.clock.sleep(waitMs);
    }
    for (const [key, { cost }] of merged) this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + cost);
    let finished = false;
    return () => {
      if (finished) return;
      finished = true;
      const now = this.clock.now();
      for (const [key, { cost, windows }] of merged) {
        const flying = (this.inFlight.get(key) ?? cost) - cost;
        if (flying > 0) this.inFlight.set(key, flying);
        else this.inFlight.delete(key);
        for (const perMs of new Set(windows.map((window) => window.perMs))) {
          const log = this.log(key, perMs);
          for (let i = 0; i < cost; i++) log.push(now);
        }
      }
    };
  }

  /** 0 when every claim fits now, else how long until it may (at least). */
  private waitMs(merged: [string, { cost: number; windows: RateWindow[] }][]): number {
    const now = this.clock.now();
    let waitMs = 0;
    for (const [key, { cost, windows }] of merged) {
      const flying = this.inFlight.get(key) ?? 0;
      for (const window of windows) {
        const log = this.log(key, window.perMs);
        let expired = 0;
        while (expired < log.length && (log[expired] ?? 0) <= now - window.perMs) expired++;
        if (expired > 0) log.splice(0, expired);
        // A call costing more than a whole window may still pass once the window is empty.
        const excess = flying + log.length + Math.min(cost, window.requests) - window.requests;
        if (excess <= 0) continue;
        if (excess <= log.length) {
          waitMs = Math.max(waitMs, (log[excess - 1] ?? now) + window.perMs - now);
        } else {
          // Requests in flight fill it: room comes a window after they are answered, which nobody knows yet.
          // Look again after a tenth of the window (their answers will say how long), or once the log is empty.
          const newest = log[log.length - 1];
          const poll = Math.ceil(window.perMs / 10);
          waitMs = Math.max(waitMs, poll, newest === undefined ? 0 : newest + window.perMs - now);
        }
      }
    }
    return waitMs;
  }

  private log(key: string, perMs: number): number[] {
    const logKey = `${key}\u0000${perMs}`;
    let log = this.logs.get(logKey);
    if (log === undefined) {
      log = [];
      this.logs.set(logKey, log);
    }
    return log;
  }
}
