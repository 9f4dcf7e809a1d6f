import { randomUUID } from 'node:crypto';
import type { SandboxResponse } from '@tessera/destination-kit';

/** Klaviyo answers every JSON document (errors included) with the JSON:API media type. */
export const JSON_API = 'application/vnd.api+json';

/** Where an error points: a JSON Pointer into the body, or a query/header parameter. */
export interface KlaviyoErrorSource {
  pointer?: string;
  parameter?: string;
}

/** One entry of Klaviyo's `errors` array. */
export interface KlaviyoErrorObject {
  id: string;
  status: number;
  code: string;
  title: string;
  detail: string;
  source: KlaviyoErrorSource;
  links: Record<string, never>;
  meta: Record<string, unknown>;
}

/** Klaviyo's default `code` and `title` per status (used when a handler gives only a status). */
const DEFAULTS: Record<number, { code: string; title: string }> = {
  400: { code: 'invalid', title: 'Invalid input.' },
  401: { code: 'not_authenticated', title: 'Authentication credentials were not provided.' },
  403: { code: 'permission_denied', title: 'You do not have permission to perform this action.' },
  404: { code: 'not_found', title: 'Not found.' },
  405: { code: 'method_not_allowed', title: 'Method not allowed.' },
  409: { code: 'conflict', title: 'Conflict.' },
  413: { code: 'request_too_large', title: 'Request entity too large.' },
  415: { code: 'unsupported_media_type', title: 'Unsupported media type.' },
  429: { code: 'throttled', title: 'Request was throttled.' },
};

export function defaultCodeAndTitle(status: number): { code: string; title: string } {
  const known = DEFAULTS[status];
  if (known !== undefined) return known;
  if (status >= 500) return { code: 'error', title: 'A server error occurred.' };
  return { code: 'invalid', title: 'Invalid input.' };
}

/**
 * A Klaviyo API error raised inside the emulator. Handlers throw it; the emulator turns it into the JSON:API
 * error document, and the bulk import turns it into an import error instead.
 */
export class KlaviyoApiError extends Error {
  readonly code: string;
  readonly title: string;
  readonly meta: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    readonly status: number,
    readonly detail: string,
    readonly source: KlaviyoErrorSource = {},
    options: {
      code?: string;
      title?: string;
      meta?: Record<string, unknown>;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(detail);
    const defaults = defaultCodeAndTitle(status);
    this.code = options.code ?? defaults.code;
    this.title = options.title ?? defaults.title;
    this.meta = options.meta ?? {};
    this.headers = options.headers ?? {};
  }

  toErrorObject(): KlaviyoErrorObject {
    return {
      id: randomUUID(),
      status: this.status,
      code: this.code,
      title: this.title,
      detail: this.detail,
      source: this.source,
      links: {},
      meta: this.meta,
    };
  }

  toResponse(): SandboxResponse {
    return {
      status: this.status,
      headers: { 'content-type': JSON_API, ...this.headers },
      body: { errors: [this.toErrorObject()] },
    };
  }
}

/** The throttled answer: 429, `Retry-After` in whole seconds, and Klaviyo's wording. */
export function throttledError(waitMs: number): KlaviyoApiError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new KlaviyoApiError(
    429,
    `Request was throttled. Expected available in ${seconds} second${seconds === 1 ? '' : 's'}.`,
    {},
    { headers: { 'retry-after': String(seconds) } },
  );
}
