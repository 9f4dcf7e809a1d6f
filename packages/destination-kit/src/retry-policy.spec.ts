import { AuthError, RetryableError } from './delivery-errors';
import { ManualClock, retryDelay, RetryPolicy } from './retry-policy';

describe('retryDelay', () => {
  const policy = (random: number): RetryPolicy => ({ baseMs: 100, maxMs: 1000, random: () => random });

  it('grows exponentially with full jitter', () => {
    expect(retryDelay(1, undefined, policy(0.5))).toBe(50);
    expect(retryDelay(2, undefined, policy(0.5))).toBe(100);
    expect(retryDelay(3, undefined, policy(0.5))).toBe(200);
    expect(retryDelay(3, undefined, policy(0))).toBe(0);
  });

  it('is capped at maxMs', () => {
    expect(retryDelay(20, undefined, policy(0.999))).toBe(999);
  });

  it("lets the server's Retry-After win", () => {
    const error = new RetryableError('HTTP 429', { retryAfterMs: 30_000 });
    expect(retryDelay(1, error, policy(0.5))).toBe(30_000);
  });

  it('uses the backoff for retryable errors without Retry-After and for other kinds', () => {
    expect(retryDelay(2, new RetryableError('HTTP 503'), policy(0.5))).toBe(100);
    expect(retryDelay(2, new AuthError('no'), policy(0.5))).toBe(100);
  });

  it('refuses an attempt below 1', () => {
    expect(() => retryDelay(0, undefined, policy(0.5))).toThrow(
      'retryDelay: attempt must be an integer >= 1 (got 0)',
    );
  });
});

describe('ManualClock', () => {
  it('wakes sleepers only when time is advanced past their due time', async () => {
    const clock = new ManualClock(1000);
    const woken: string[] = [];
    void clock.sleep(200).then(() => woken.push('200'));
    void clock.sleep(50).then(() => woken.push('50'));
    clock.advance(100);
    await Promise.resolve();
    expect(woken).toEqual(['50']);
    expect(clock.now()).toBe(1100);
    expect(clock.pendingSleeps).toBe(1);
    clock.advance(100);
    await Promise.resolve();
    expect(woken).toEqual(['50', '200']);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('refuses to go backwards', () => {
    expect(() => new ManualClock().advance(-1)).toThrow('ManualClock cannot go backwards (advance by -1 ms)');
  });
});
