import type { Clock } from './retry-policy';

export type DeliveryErrorKind = 'validation' | 'auth' | 'retryable' | 'rejected';

/** Longest response body kept in an error, in characters. */
export const MAX_ERROR_BODY_CHARS = 2048;

export interface DeliveryErrorDetails {
  /** HTTP status, when the error came from a response. */
  status?: number;
  /** Response body, truncated to MAX_ERROR_BODY_CHARS. */
  body?: string;
}

/**
 * The one error taxonomy of the kit. Callers switch on `kind`, never on the message:
 * - `validation`: the data we built is wrong (fix the mapping), the pipeline dead-letters it;
 * - `auth`: credentials are missing or refused, the pipeline pauses the destination;
 * - `retryable`: try again later (rate limits, timeouts, 5xx);
 * - `rejected`: the ESP refused this request for good, the pipeline records the item as failed.
 */
export abstract class DeliveryError extends Error {
  abstract readonly kind: DeliveryErrorKind;
  readonly status?: number;
  readonly body?: string;
  /** Set only on retryable errors whose server said when to come back. */
  readonly retryAfterMs?: number;

  constructor(message: string, details: DeliveryErrorDetails = {}) {
    super(message);
    this.name = new.target.name;
    if (details.status !== undefined) this.status = details.status;
    if (details.body !== undefined) this.body = truncateBody(details.body);
  }
}

export class ValidationError extends DeliveryError {
  readonly kind = 'validation' as const;
}

export class AuthError extends DeliveryError {
  readonly kind = 'auth' as const;
}

export class RejectedError extends DeliveryError {
  readonly kind = 'rejected' as const;
}

export class RetryableError extends DeliveryError {
  readonly kind = 'retryable' as const;
  /** When the server said to come back (from `Retry-After`); undefined means use the retry policy's backoff. */
  declare readonly retryAfterMs?: number;

  constructor(message: string, details: DeliveryErrorDetails & { retryAfterMs?: number } = {}) {
    super(message, details);
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }
}

export function isDeliveryError(error: unknown): error is DeliveryError {
  return error instanceof DeliveryError;
}

export function truncateBody(body: string): string {
  return body.length > MAX_ERROR_BODY_CHARS ? body.slice(0, MAX_ERROR_BODY_CHARS) : body;
}

export type ResponseHeaders = Headers | Record<string, string | string[] | undefined>;

function headerValue(headers: ResponseHeaders, name: string): string | undefined {
  // Any Fetch Headers (the global one, undici's own): their entries are not own properties of the object.
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value[0] : value;
}

/** Parses `Retry-After` (delta seconds or an HTTP date) into ms from `nowMs`; undefined when absent or invalid. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/**
 * When an ESP says to come back: `Retry-After`, else the `X-RateLimit-Retry-After` seconds, else
 * `X-RateLimit-Reset` — Braze, among others, sends only these two, the reset as a UTC epoch time in seconds
 * (a value past 10^9 is read as one; a smaller one as seconds from now, as other ESPs send it).
 */
export function retryAfterOf(headers: ResponseHeaders, nowMs: number): number | undefined {
  const standard = parseRetryAfter(headerValue(headers, 'retry-after'), nowMs);
  if (standard !== undefined) return standard;
  const seconds = parseRetryAfter(headerValue(headers, 'x-ratelimit-retry-after'), nowMs);
  if (seconds !== undefined) return seconds;
  const reset = headerValue(headers, 'x-ratelimit-reset')?.trim();
  if (reset === undefined || !/^\d+$/.test(reset)) return undefined;
  const value = Number(reset);
  return value > 1e9 ? Math.max(0, value * 1000 - nowMs) : value * 1000;
}

function stringField(value: unknown, ...names: string[]): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  for (const name of names) {
    const field = record[name];
    if (typeof field === 'string' && field.trim() !== '') return field;
  }
  return undefined;
}

/**
 * The ESP's own error message, from the usual shapes: `{ message }` (Braze, SFMC), `{ detail }`
 * (Mailchimp), `{ errors: [{ detail | message | title }] }` (Klaviyo, SFMC), `{ error_description }`
 * and `{ error }` (OAuth2). Undefined when the body has none.
 */
export function espErrorMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const direct = stringField(parsed, 'message', 'detail', 'error_description', 'error', 'title');
  if (direct !== undefined) return direct;
  if (typeof parsed === 'object' && parsed !== null) {
    const errors = (parsed as Record<string, unknown>)['errors'];
    if (Array.isArray(errors) && errors.length > 0) {
      return stringField(errors[0], 'detail', 'message', 'title');
    }
  }
  return undefined;
}

function bodyText(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  return typeof body === 'string' ? body : JSON.stringify(body);
}

/**
 * Classifies an HTTP response: undefined for 2xx; 408, 429 and 5xx are retryable (honouring
 * `Retry-After` relative to `clock.now()`); 401 and 403 are auth; every other status is rejected.
 */
export function classifyResponse(
  status: number,
  headers: ResponseHeaders,
  body?: unknown,
  clock: Pick<Clock, 'now'> = { now: () => Date.now() },
): DeliveryError | undefined {
  if (status >= 200 && status < 300) return undefined;
  const text = bodyText(body);
  const espMessage = espErrorMessage(body);
  const suffix = espMessage === undefined ? '' : `: ${espMessage}`;
  const details: DeliveryErrorDetails = text === undefined ? { status } : { status, body: text };

  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = retryAfterOf(headers, clock.now());
    const when = retryAfterMs === undefined ? '' : ` (retry after ${retryAfterMs} ms)`;
    return new RetryableError(
      `HTTP ${status}${suffix}${when}`,
      retryAfterMs === undefined ? details : { ...details, retryAfterMs },
    );
  }
  if (status === 401 || status === 403) {
    return new AuthError(`HTTP ${status}: credentials refused${suffix}`, details);
  }
  return new RejectedError(`HTTP ${status}${suffix}`, details);
}
