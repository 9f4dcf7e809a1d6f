/**
 * Caps the requests a destination instance has in flight at once (Mailchimp allows 10 connections per API key
 * and answers the 11th with 429). The pipeline backs it with Redis to share the cap across workers;
 * `MemoryConnectionGate` serves one process.
 */
export interface ConnectionGate {
  /** Resolves with a release function once fewer than `limit` requests under `key` are in flight. */
  acquire(key: string, limit: number): Promise<() => void>;
}

export class MemoryConnectionGate implements ConnectionGate {
  private readonly inFlight = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();

  async acquire(key: string, limit: number): Promise<() => void> {
    while ((this.inFlight.get(key) ?? 0) >= limit) {
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(key) ?? [];
        queue.push(resolve);
        this.waiting.set(key, queue);
      });
    }
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const count = (this.inFlight.get(key) ?? 1) - 1;
      if (count === 0) this.inFlight.delete(key);
      else this.inFlight.set(key, count);
      const queue = this.waiting.get(key);
      const next = queue?.shift();
      if (queue !== undefined && queue.length === 0) this.waiting.delete(key);
      next?.();
    };
  }

  /** Requests under `key` in flight now. */
  count(key: string): number {
    return this.inFlight.get(key) ?? 0;
  }
}

/** The process-wide gate runners share unless given one: two runners for one API key share its cap. */
export const processConnectionGate = new MemoryConnectionGate();
