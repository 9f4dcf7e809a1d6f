import { randomUUID } from 'node:crypto';
import type { SandboxRequest, SandboxResponse } from '@tessera/destination-kit';

/*
 * Mailchimp's answers: JSON for success, and every error as an RFC 7807 problem detail
 * (`application/problem+json`: type, title, status, detail, instance, and `errors[{ field, message }]` for
 * validation), as https://mailchimp.com/developer/marketing/docs/errors/ describes.
 */

const PROBLEM_TYPE = 'https://mailchimp.com/developer/marketing/docs/errors/';

export interface FieldError {
  field: string;
  message: string;
}

/** A refusal of the whole request, answered in Mailchimp's problem-detail shape. */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }
}

export const invalidResource = (errors: FieldError[]): Problem =>
  new Problem(
    400,
    'Invalid Resource',
    "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
    errors,
  );

/** Mailchimp's answer for an unknown audience, member, segment or path. */
export const notFound = (): Problem =>
  new Problem(404, 'Resource Not Found', 'The requested resource could not be found.');

export function problem(error: Problem): SandboxResponse {
  return {
    status: error.status,
    headers: { 'content-type': 'application/problem+json; charset=utf-8' },
    body: {
      type: PROBLEM_TYPE,
      title: error.title,
      status: error.status,
      detail: error.detail,
      instance: randomUUID(),
      ...(error.errors === undefined ? {} : { errors: error.errors }),
    },
  };
}

export function json(status: number, body: unknown): SandboxResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body };
}

export function titleOf(status: number): string {
  switch (status) {
    case 400:
      return 'Invalid Resource';
    case 401:
      return 'API Key Invalid';
    case 403:
      return 'Forbidden';
    case 404:
      return 'Resource Not Found';
    case 405:
      return 'Method Not Allowed';
    case 413:
      return 'Request Entity Too Large';
    case 429:
      return 'Too Many Requests';
    default:
      return status >= 500 ? 'Internal Server Error' : 'Error';
  }
}

export function allow(method: string, ...allowed: string[]): void {
  if (!allowed.includes(method)) {
    throw new Problem(
      405,
      'Method Not Allowed',
      "The requested method and resource are not compatible. See the Allow header for this resource's available methods.",
    );
  }
}

export function parseBody(request: SandboxRequest): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(request.rawBody.toString('utf8'));
  } catch {
    throw new Problem(400, 'JSON Parse Error', 'We encountered an unspecified JSON parsing error.');
  }
  if (!isRecord(body)) throw new Problem(400, 'JSON Parse Error', 'The request body must be a JSON object.');
  return body;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Errors for the properties of `body` that the published schema does not define. */
export function unknownFieldErrors(body: Record<string, unknown>, known: string[], at: string): FieldError[] {
  return Object.keys(body)
    .filter((name) => !known.includes(name))
    .map((name) => ({
      field: at === '' ? name : `${at}.${name}`,
      message: `${name} is not a field of this request in Mailchimp's published schema.`,
    }));
}

/** Mailchimp's time format in API answers: ISO 8601 with an offset, no milliseconds. */
export function mailchimpTime(atMs: number): string {
  return `${new Date(atMs).toISOString().slice(0, 19)}+00:00`;
}
