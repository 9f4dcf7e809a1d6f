import type { Clock } from '@tessera/destination-kit';

/** A test clock whose `sleep` moves time forward at once: polling loops run in no real time, deterministically. */
export class FastForwardClock implements Clock {
  readonly sleeps: number[] = [];

  constructor(private current = Date.parse('2026-11-24T09:00:00Z')) {}

  now(): number {
    return this.current;
  }

  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.current += Math.max(0, ms);
    return Promise.resolve();
  }

  advance(ms: number): void {
    this.current += ms;
  }
}
