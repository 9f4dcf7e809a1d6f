/**
 * When a failed delivery is tried again: exponential backoff from 10 s, doubling, capped at 5 minutes, with
 * equal jitter (half fixed, half random, so that a storm's retries spread out), never sooner than the ESP's
 * Retry-After; and only while the item is younger than 4 hours or has had fewer than 3 attempts — after both,
 * it goes to the dead-letter queue.
 */
export interface DeliveryRetryPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  /** Retrying goes on at least this long after the first failure… */
  minRetryWindowMs: number;
  /** …and for at least this many attempts. */
  minAttempts: number;
}

export const DELIVERY_RETRY_POLICY: DeliveryRetryPolicy = {
  baseDelayMs: 10_000,
  maxDelayMs: 300_000,
  minRetryWindowMs: 4 * 3_600_000,
  minAttempts: 3,
};

export type RetryDecision = { action: 'retry'; delayMs: number } | { action: 'dead-letter'; reason: string };

export function nextDeliveryAttempt(input: {
  /** Attempts made so far, the failed one included (≥ 1). */
  attempts: number;
  /** Epoch ms of the first failure. */
  firstFailedAtMs: number;
  nowMs: number;
  /** The ESP's Retry-After, when it sent one. */
  retryAfterMs?: number;
  policy?: DeliveryRetryPolicy;
  /** A number in [0, 1) (Math.random; injectable for tests). */
  random?: () => number;
}): RetryDecision {
  const policy = input.policy ?? DELIVERY_RETRY_POLICY;
  const elapsedMs = input.nowMs - input.firstFailedAtMs;
  if (input.attempts >= policy.minAttempts && elapsedMs >= policy.minRetryWindowMs) {
    return {
      action: 'dead-letter',
      reason: `gave up after ${input.attempts} attempts over ${Math.round(elapsedMs / 60_000)} minutes`,
    };
  }
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, input.attempts - 1));
  const jittered = exponential / 2 + (input.random ?? Math.random)() * (exponential / 2);
  return { action: 'retry', delayMs: Math.round(Math.max(jittered, input.retryAfterMs ?? 0)) };
}
