import { SourceRateLimiter } from './source-rate-limiter';

describe('SourceRateLimiter', () => {
  let now: number;
  let limiter: SourceRateLimiter;

  beforeEach(() => {
    now = 1_700_000_000_000;
    limiter = new SourceRateLimiter(() => now);
  });

  const takeSingles = (sourceId: string, times: number, limit: number) =>
    Array.from({ length: times }, () => limiter.take(sourceId, 1, limit));

  it('allows the limit in one second, then refuses with a retry of one second', () => {
    expect(takeSingles('loyalty', 10, 10)).toEqual(Array.from({ length: 10 }, () => ({ ok: true })));
    expect(limiter.take('loyalty', 1, 10)).toEqual({ ok: false, retryAfterSeconds: 1 });
  });

  it('refills at the limit per second, up to one second’s burst', () => {
    takeSingles('loyalty', 10, 10);
    now += 500;
    expect(takeSingles('loyalty', 5, 10)).toEqual(Array.from({ length: 5 }, () => ({ ok: true })));
    expect(limiter.take('loyalty', 1, 10)).toEqual({ ok: false, retryAfterSeconds: 1 });
    now += 60_000;
    expect(takeSingles('loyalty', 10, 10)).toEqual(Array.from({ length: 10 }, () => ({ ok: true })));
    expect(limiter.take('loyalty', 1, 10)).toEqual({ ok: false, retryAfterSeconds: 1 });
  });

  it('lets takes through again once a second has passed', () => {
    takeSingles('loyalty', 11, 10);
    now += 1000;
    expect(limiter.take('loyalty', 1, 10)).toEqual({ ok: true });
  });

  it('lets a batch bigger than the limit borrow from a full bucket, then makes the next request wait it off', () => {
    expect(limiter.take('loyalty', 25, 10)).toEqual({ ok: true });
    // tokens are 10 - 25 = -15: the next single event waits ceil((15 + 1) / 10) = 2 s
    expect(limiter.take('loyalty', 1, 10)).toEqual({ ok: false, retryAfterSeconds: 2 });
    // a batch asks for at most one second's worth on top of the debt: ceil((15 + 10) / 10) = 3 s
    expect(limiter.take('loyalty', 500, 10)).toEqual({ ok: false, retryAfterSeconds: 3 });
    now += 1500;
    expect(limiter.take('loyalty', 1, 10)).toEqual({ ok: false, retryAfterSeconds: 1 });
    now += 500;
    expect(limiter.take('loyalty', 1, 10)).toEqual({ ok: true });
  });

  it('does not let a bucket in debt borrow again', () => {
    limiter.take('loyalty', 25, 10);
    now += 1000;
    expect(limiter.take('loyalty', 25, 10)).toEqual({ ok: false, retryAfterSeconds: 2 });
  });

  it('keeps one bucket per source', () => {
    takeSingles('loyalty', 10, 10);
    expect(limiter.take('loyalty', 1, 10).ok).toBe(false);
    expect(takeSingles('store-pos', 10, 10)).toEqual(Array.from({ length: 10 }, () => ({ ok: true })));
    expect(limiter.take('store-pos', 1, 10).ok).toBe(false);
  });
});
