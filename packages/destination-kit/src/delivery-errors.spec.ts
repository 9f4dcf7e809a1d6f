import {
  AuthError,
  classifyResponse,
  DeliveryError,
  espErrorMessage,
  MAX_ERROR_BODY_CHARS,
  parseRetryAfter,
  RejectedError,
  RetryableError,
  ValidationError,
} from './delivery-errors';
import { ManualClock } from './retry-policy';

describe('classifyResponse', () => {
  const clock = new ManualClock(Date.parse('2025-01-01T00:00:00Z'));

  it('returns undefined for every 2xx', () => {
    expect(classifyResponse(200, {})).toBeUndefined();
    expect(classifyResponse(202, {})).toBeUndefined();
    expect(classifyResponse(204, {})).toBeUndefined();
  });

  it('makes 429 retryable with Retry-After in seconds', () => {
    const error = classifyResponse(429, { 'Retry-After': '30' }, undefined, clock);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error?.kind).toBe('retryable');
    expect(error?.retryAfterMs).toBe(30_000);
    expect(error?.message).toBe('HTTP 429 (retry after 30000 ms)');
  });

  it('reads Retry-After as an HTTP date relative to the injected clock', () => {
    const headers = new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:12 GMT' });
    expect(classifyResponse(503, headers, undefined, clock)?.retryAfterMs).toBe(12_000);
  });

  it("reads Braze's rate-limit headers when there is no Retry-After: the retry-after seconds, else the reset epoch", () => {
    const resetAt = Math.floor(clock.now() / 1000) + 7;
    expect(
      classifyResponse(429, { 'X-RateLimit-Reset': String(resetAt) }, undefined, clock)?.retryAfterMs,
    ).toBe(7_000 - (clock.now() % 1000));
    expect(
      classifyResponse(
        429,
        { 'x-ratelimit-retry-after': '3', 'x-ratelimit-reset': String(resetAt) },
        undefined,
        clock,
      )?.retryAfterMs,
    ).toBe(3_000);
    expect(classifyResponse(429, { 'x-ratelimit-reset': '20' }, undefined, clock)?.retryAfterMs).toBe(20_000);
    expect(
      classifyResponse(429, { 'retry-after': '1', 'x-ratelimit-reset': String(resetAt) }, undefined, clock)
        ?.retryAfterMs,
    ).toBe(1_000);
  });

  it('leaves retryAfterMs undefined without Retry-After so the policy backoff applies', () => {
    const error = classifyResponse(500, {}, '{"message":"boom"}', clock);
    expect(error?.kind).toBe('retryable');
    expect(error?.retryAfterMs).toBeUndefined();
    expect(error?.message).toBe('HTTP 500: boom');
  });

  it('makes 408 and 502 retryable', () => {
    expect(classifyResponse(408, {})?.kind).toBe('retryable');
    expect(classifyResponse(502, {})?.kind).toBe('retryable');
  });

  it('makes 401 and 403 auth errors', () => {
    const error = classifyResponse(401, {}, { errors: [{ detail: 'Invalid API key' }] });
    expect(error).toBeInstanceOf(AuthError);
    expect(error?.message).toBe('HTTP 401: credentials refused: Invalid API key');
    expect(classifyResponse(403, {})?.message).toBe('HTTP 403: credentials refused');
  });

  it('makes other 4xx rejected with the ESP message and the body', () => {
    const body = JSON.stringify({ title: 'Invalid Resource', detail: 'email is not valid' });
    const error = classifyResponse(400, {}, body);
    expect(error).toBeInstanceOf(RejectedError);
    expect(error?.kind).toBe('rejected');
    expect(error?.status).toBe(400);
    expect(error?.body).toBe(body);
    expect(error?.message).toBe('HTTP 400: email is not valid');
    expect(classifyResponse(404, {}, 'not json')?.message).toBe('HTTP 404');
  });

  it('truncates the body kept in the error to 2 KB', () => {
    const error = classifyResponse(400, {}, 'x'.repeat(5000));
    expect(error?.body).toHaveLength(MAX_ERROR_BODY_CHARS);
  });
});

describe('parseRetryAfter', () => {
  it('returns undefined when absent or unparseable and never a negative delay', () => {
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:00 GMT', Date.parse('2025-01-02T00:00:00Z'))).toBe(0);
  });
});

describe('espErrorMessage', () => {
  it('reads the common ESP error shapes', () => {
    expect(espErrorMessage({ message: 'Braze says no' })).toBe('Braze says no');
    expect(espErrorMessage({ errors: [{ title: 'Bad', detail: 'Klaviyo detail' }] })).toBe('Klaviyo detail');
    expect(espErrorMessage({ error: 'invalid_client', error_description: 'bad secret' })).toBe('bad secret');
    expect(espErrorMessage({ ok: false })).toBeUndefined();
  });
});

describe('DeliveryError subclasses', () => {
  it('carry their kind and name and are DeliveryErrors', () => {
    const errors: DeliveryError[] = [
      new ValidationError('bad mapping'),
      new AuthError('no key'),
      new RetryableError('later', { retryAfterMs: 5 }),
      new RejectedError('never'),
    ];
    expect(errors.map((e) => [e.kind, e.name, e instanceof DeliveryError])).toEqual([
      ['validation', 'ValidationError', true],
      ['auth', 'AuthError', true],
      ['retryable', 'RetryableError', true],
      ['rejected', 'RejectedError', true],
    ]);
    expect(errors[2].retryAfterMs).toBe(5);
  });
});
