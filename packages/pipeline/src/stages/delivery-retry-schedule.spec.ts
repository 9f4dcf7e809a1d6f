import { DELIVERY_RETRY_POLICY, nextDeliveryAttempt } from './delivery-retry-schedule';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-24T10:00:00Z');

describe('nextDeliveryAttempt', () => {
  it('backs off exponentially from 10 s with equal jitter, capped at 5 minutes', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 10].map((attempts) => {
      const low = nextDeliveryAttempt({ attempts, firstFailedAtMs: T0, nowMs: T0, random: () => 0 });
      const high = nextDeliveryAttempt({ attempts, firstFailedAtMs: T0, nowMs: T0, random: () => 0.999999 });
      return [low, high].map((decision) =>
        decision.action === 'retry' ? Math.round(decision.delayMs / 1000) : -1,
      );
    });
    expect(delays).toEqual([
      [5, 10],
      [10, 20],
      [20, 40],
      [40, 80],
      [80, 160],
      [150, 300],
      [150, 300],
      [150, 300],
    ]);
  });

  it('never retries sooner than the ESP asked (Retry-After)', () => {
    expect(
      nextDeliveryAttempt({
        attempts: 1,
        firstFailedAtMs: T0,
        nowMs: T0,
        retryAfterMs: 90_000,
        random: () => 0,
      }),
    ).toEqual({ action: 'retry', delayMs: 90_000 });
  });

  it('keeps retrying for at least 4 hours and at least 3 attempts, then dead-letters', () => {
    // Many attempts but young: retry.
    expect(nextDeliveryAttempt({ attempts: 40, firstFailedAtMs: T0, nowMs: T0 + 3.9 * HOUR }).action).toBe(
      'retry',
    );
    // Old but only two attempts (e.g. a long Retry-After): retry.
    expect(nextDeliveryAttempt({ attempts: 2, firstFailedAtMs: T0, nowMs: T0 + 6 * HOUR }).action).toBe(
      'retry',
    );
    // Both: give up, saying why.
    expect(nextDeliveryAttempt({ attempts: 3, firstFailedAtMs: T0, nowMs: T0 + 4 * HOUR })).toEqual({
      action: 'dead-letter',
      reason: 'gave up after 3 attempts over 240 minutes',
    });
    expect(DELIVERY_RETRY_POLICY).toEqual({
      baseDelayMs: 10_000,
      maxDelayMs: 300_000,
      minRetryWindowMs: 4 * HOUR,
      minAttempts: 3,
    });
  });
});
