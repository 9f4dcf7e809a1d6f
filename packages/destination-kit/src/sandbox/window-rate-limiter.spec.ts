import { ManualClock } from '../retry-policy';
import { WindowRateLimiter } from './window-rate-limiter';

describe('WindowRateLimiter', () => {
  it('lets a window fill, then says how long until its oldest request leaves it', () => {
    const clock = new ManualClock(1_000);
    const limiter = new WindowRateLimiter(clock);
    const burst = [{ requests: 3, perMs: 1000 }];
    expect([limiter.take('k', burst), limiter.take('k', burst)]).toEqual([undefined, undefined]);
    clock.advance(400);
    expect(limiter.take('k', burst)).toBeUndefined();
    expect(limiter.take('k', burst)).toBe(600);
    clock.advance(600);
    expect(limiter.take('k', burst)).toBeUndefined();
  });

  it('checks every window and counts a refused request against none of them', () => {
    const clock = new ManualClock(0);
    const limiter = new WindowRateLimiter(clock);
    const windows = [
      { requests: 2, perMs: 1000 },
      { requests: 3, perMs: 60_000 },
    ];
    expect(limiter.take('k', windows)).toBeUndefined();
    expect(limiter.take('k', windows)).toBeUndefined();
    expect(limiter.take('k', windows)).toBe(1000);
    clock.advance(1000);
    expect(limiter.take('k', windows)).toBeUndefined();
    clock.advance(1000);
    // The burst window has room again, but the minute window holds three requests: wait for the first to age out.
    expect(limiter.take('k', windows)).toBe(58_000);
  });

  it('keeps keys apart and forgets everything on reset', () => {
    const clock = new ManualClock(0);
    const limiter = new WindowRateLimiter(clock);
    const one = [{ requests: 1, perMs: 1000 }];
    expect(limiter.take('a', one)).toBeUndefined();
    expect(limiter.take('b', one)).toBeUndefined();
    expect(limiter.take('a', one)).toBe(1000);
    limiter.reset();
    expect(limiter.take('a', one)).toBeUndefined();
  });

  it('counts a call by its cost and lets a call dearer than the window through an empty window', () => {
    const clock = new ManualClock(0);
    const limiter = new WindowRateLimiter(clock);
    const window = [{ requests: 10, perMs: 1000 }];
    expect(limiter.take('k', window, 8)).toBeUndefined();
    expect(limiter.take('k', window, 3)).toBe(1000);
    expect(limiter.take('k', window, 2)).toBeUndefined();
    clock.advance(1000);
    expect(limiter.take('k', window, 25)).toBeUndefined();
    expect(limiter.take('k', window, 1)).toBe(1000);
  });
});
