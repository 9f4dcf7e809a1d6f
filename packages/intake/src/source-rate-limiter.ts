interface Bucket {
  tokens: number;
  updatedAt: number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * A token bucket per source, in this process: `limit` events per second with a one-second burst. A request
 * needs as many tokens as it has events; a batch larger than the whole bucket needs a full bucket and
 * borrows the rest (the bucket goes negative), so it still gets through and the next request waits it off.
 */
export class SourceRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly nowMs: () => number = () => Date.now()) {}

  take(sourceId: string, count: number, limit: number): RateDecision {
    const now = this.nowMs();
    const bucket = this.buckets.get(sourceId) ?? { tokens: limit, updatedAt: now };
    bucket.tokens = Math.min(limit, bucket.tokens + ((now - bucket.updatedAt) / 1000) * limit);
    bucket.updatedAt = now;
    this.buckets.set(sourceId, bucket);
    const needed = Math.min(count, limit);
    if (bucket.tokens < needed) {
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((needed - bucket.tokens) / limit)) };
    }
    bucket.tokens -= count;
    return { ok: true };
  }
}
