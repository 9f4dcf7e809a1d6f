interface Bucket {
  tokens: number;
  updatedAt: number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * A token bucket per source, in this process: `limit` events per second with a one-second burst. A batch
 * larger than the bucket may borrow (the bucket goes negative) when the bucket is not already in debt,
 * so a batch bigger than one second's budget still gets through, and the next request waits it off.
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
    if (bucket.tokens <= 0) {
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((-bucket.tokens + Math.min(count, limit)) / limit)) };
    }
    bucket.tokens -= count;
    return { ok: true };
  }
}
