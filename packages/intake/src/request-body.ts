import type { ValidationIssue } from '@tessera/events';
import { mapLoyaltyWebhook, type LoyaltyWebhook } from './loyalty-webhook';

export const MAX_REQUEST_BYTES = 1024 * 1024;
export const MAX_EVENT_BYTES = 64 * 1024;
export const MAX_BATCH_EVENTS = 1000;

export type ContentMode = 'binary' | 'structured' | 'batch' | 'loyalty-webhook';

/** One event as sent, before validation; `issues` are problems already found while unwrapping it. */
export interface RawEvent {
  raw: unknown;
  issues?: ValidationIssue[];
}

export interface RequestFailure {
  ok: false;
  status: 400 | 413 | 415;
  error: string;
  message: string;
}

export type ParsedBody = { ok: true; mode: ContentMode; events: RawEvent[] } | RequestFailure;

type Headers = Record<string, string | string[] | undefined>;

const fail = (status: RequestFailure['status'], error: string, message: string): RequestFailure => ({
  ok: false,
  status,
  error,
  message,
});

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0].trim().toLowerCase() || undefined;
}

function isJsonMediaType(type: string): boolean {
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

function parseJson(body: Buffer): { ok: true; value: unknown } | RequestFailure {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch (error) {
    return fail(400, 'invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
}

function decodeHeaderValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * The `ce-*` headers of a binary-mode request, as sent (still percent-encoded), sorted by name: every one of
 * them becomes an attribute, and the binary-mode signature covers exactly these values.
 */
export function cloudEventHeaders(headers: Headers): Array<[name: string, value: string]> {
  const found: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('ce-') || value === undefined) continue;
    found.push([name, Array.isArray(value) ? value[0] : value]);
  }
  return found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Whether a request is a binary-mode CloudEvent (attributes in `ce-*` headers): JSON data with a
 * `ce-specversion` header and neither CloudEvents content type (those carry their attributes in the body).
 */
export function isBinaryMode(contentType: string | undefined, headers: Headers): boolean {
  const type = mediaType(contentType);
  return (
    type !== undefined &&
    headers['ce-specversion'] !== undefined &&
    type !== 'application/cloudevents+json' &&
    type !== 'application/cloudevents-batch+json' &&
    isJsonMediaType(type)
  );
}

/** CloudEvents HTTP binary mode: the attributes are `ce-*` headers and the body is `data`. */
function binaryEvent(headers: Headers, data: unknown, contentType: string): Record<string, unknown> {
  const event: Record<string, unknown> = { datacontenttype: contentType, data };
  for (const [name, value] of cloudEventHeaders(headers)) event[name.slice(3)] = decodeHeaderValue(value);
  return event;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads the body in the mode its Content-Type names: CloudEvents structured, batched or binary
 * (`ce-specversion` header), or the plain loyalty-webhook JSON. Sizes and counts are checked here.
 */
export function parseRequestBody(
  contentType: string | undefined,
  headers: Headers,
  body: Buffer,
  sourceId: string,
): ParsedBody {
  const type = mediaType(contentType);
  if (type === undefined) return fail(415, 'unsupported_media_type', 'Content-Type is required');
  if (body.length > MAX_REQUEST_BYTES)
    return fail(413, 'payload_too_large', 'a request may carry at most 1 MiB');
  if (body.length === 0) return fail(400, 'empty_body', 'the request has no body');

  if (type === 'application/cloudevents-batch+json') {
    const parsed = parseJson(body);
    if (!parsed.ok) return parsed;
    if (!Array.isArray(parsed.value))
      return fail(400, 'invalid_batch', 'a batch must be a JSON array of CloudEvents');
    if (parsed.value.length === 0) return fail(400, 'invalid_batch', 'a batch must hold at least one event');
    if (parsed.value.length > MAX_BATCH_EVENTS) {
      return fail(
        413,
        'batch_too_large',
        `a batch may hold at most ${MAX_BATCH_EVENTS} events (got ${parsed.value.length})`,
      );
    }
    const oversized = parsed.value.findIndex(
      (event) => Buffer.byteLength(JSON.stringify(event)) > MAX_EVENT_BYTES,
    );
    if (oversized >= 0) return fail(413, 'event_too_large', `event ${oversized} of the batch is over 64 KiB`);
    return { ok: true, mode: 'batch', events: parsed.value.map((raw) => ({ raw })) };
  }

  const isBinary = isBinaryMode(contentType, headers);
  const isStructured = type === 'application/cloudevents+json';
  if (!isStructured && !isJsonMediaType(type)) {
    return fail(
      415,
      'unsupported_media_type',
      `Content-Type ${type} is not accepted: send application/cloudevents+json, application/cloudevents-batch+json, ` +
        'or JSON data in binary mode (ce-* headers) or as a loyalty webhook',
    );
  }
  if (body.length > MAX_EVENT_BYTES) return fail(413, 'event_too_large', 'an event may be at most 64 KiB');
  const parsed = parseJson(body);
  if (!parsed.ok) return parsed;
  if (isStructured) return { ok: true, mode: 'structured', events: [{ raw: parsed.value }] };
  if (isBinary)
    return { ok: true, mode: 'binary', events: [{ raw: binaryEvent(headers, parsed.value, type) }] };
  if (isObject(parsed.value) && typeof parsed.value.specversion === 'string') {
    // A structured event sent as plain application/json: accepted as what it plainly is.
    return { ok: true, mode: 'structured', events: [{ raw: parsed.value }] };
  }
  if (!isObject(parsed.value)) {
    return fail(
      400,
      'invalid_body',
      'expected a loyalty webhook JSON object, or CloudEvents with a cloudevents Content-Type',
    );
  }
  const { event, issues } = mapLoyaltyWebhook(parsed.value as LoyaltyWebhook, sourceId);
  return {
    ok: true,
    mode: 'loyalty-webhook',
    events: [issues.length > 0 ? { raw: event, issues } : { raw: event }],
  };
}
