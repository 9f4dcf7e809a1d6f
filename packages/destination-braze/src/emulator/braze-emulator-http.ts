import type { SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import { isEmailAddress } from '../requests/email-addresses';

/*
 * Braze's answers, as the emulator writes them. Braze's error shape is `{ message, errors: [...] }` for a fatal
 * error and `{ message: "success", errors: [...] }` for a 2xx with non-fatal ones (https://www.braze.com/docs/api/errors/).
 */

/** A fatal 400: answered `{ message, errors }` and nothing of the request is applied. */
export class BadRequest extends Error {
  constructor(
    message: string,
    readonly errors: string[] = [message],
  ) {
    super(message);
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): SandboxResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body };
}

export function success(status: 201 | 202 = 201, extra: Record<string, unknown> = {}): SandboxResponse {
  return json(status, { ...extra, message: 'success' });
}

export function parseJson(request: SandboxRequest): Record<string, unknown> {
  if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
    throw new BadRequest('Content-Type must be application/json');
  }
  let body: unknown;
  try {
    body = JSON.parse(request.rawBody.toString('utf8'));
  } catch {
    throw new BadRequest('Received unparsable JSON body');
  }
  if (!isRecord(body)) throw new BadRequest('Request body must be a JSON object');
  return body;
}

/** `email` as the email endpoints take it: one address, or an array of up to `max`. */
export function emailList(value: unknown, max: number): string[] {
  const emails = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(emails) || emails.length === 0 || !emails.every((email) => isEmailAddress(email))) {
    throw new BadRequest("'email' must be an email address or an array of email addresses");
  }
  if (emails.length > max) throw new BadRequest(`Too many emails: ${emails.length} (maximum is ${max})`);
  return emails as string[];
}

/** A non-empty array of non-empty strings, at most `max` of them; `field` names it in the error. */
export function idList(value: unknown, field: string, max: number): string[] {
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    !value.every((id) => typeof id === 'string' && id !== '')
  ) {
    throw new BadRequest(`'${field}' must be a non-empty array of strings`);
  }
  if (value.length > max) throw new BadRequest(`Too many ${field}: ${value.length} (maximum is ${max})`);
  return value as string[];
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isAlias(value: unknown): value is { alias_name: string; alias_label: string } {
  return (
    isRecord(value) && typeof value['alias_name'] === 'string' && typeof value['alias_label'] === 'string'
  );
}

/** Braze's timestamp format in /email/unsubscribes: `2016-08-25 15:24:32 +0000`. */
export function brazeTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} +0000`;
}
