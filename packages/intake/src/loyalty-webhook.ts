import type { ValidationIssue } from '@tessera/events';

/** The plain JSON legacy loyalty platforms post: `{event, customer_id, email, timestamp, payload, meta}`. */
export interface LoyaltyWebhook {
  event?: unknown;
  timestamp?: unknown;
  payload?: unknown;
  meta?: { source?: unknown; request_id?: unknown };
  [identifier: string]: unknown;
}

const ENVELOPE_FIELDS = new Set(['event', 'timestamp', 'payload', 'meta']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toTime(timestamp: unknown): unknown {
  // Unix seconds or milliseconds become RFC 3339; strings pass through and are checked as date-time.
  if (typeof timestamp === 'number' && Number.isFinite(timestamp)) {
    const ms = timestamp > 1e12 ? timestamp : timestamp * 1000;
    const date = new Date(ms);
    return Number.isNaN(date.getTime()) ? String(timestamp) : date.toISOString();
  }
  return timestamp;
}

/**
 * Maps a loyalty webhook onto a CloudEvent: type ← event, time ← timestamp, id ← meta.request_id,
 * source ← meta.source (or the registered source's URN), data ← payload with the top-level identifiers
 * over it. Returns the issues found in the webhook's own envelope (pointers into what was sent).
 */
export function mapLoyaltyWebhook(
  body: LoyaltyWebhook,
  sourceId: string,
): { event: Record<string, unknown>; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  if (typeof body.event !== 'string' || body.event === '')
    issues.push({ path: '/event', message: 'is required (the event name)' });
  const meta = isObject(body.meta) ? body.meta : {};
  if (body.meta !== undefined && !isObject(body.meta))
    issues.push({ path: '/meta', message: 'must be an object' });
  if (typeof meta.request_id !== 'string' || meta.request_id === '') {
    issues.push({ path: '/meta/request_id', message: 'is required: it is the event id' });
  }
  if (body.payload !== undefined && !isObject(body.payload))
    issues.push({ path: '/payload', message: 'must be an object' });
  const identifiers = Object.fromEntries(Object.entries(body).filter(([key]) => !ENVELOPE_FIELDS.has(key)));
  const event: Record<string, unknown> = {
    specversion: '1.0',
    id: meta.request_id,
    source:
      typeof meta.source === 'string' && meta.source !== '' ? meta.source : `urn:tessera:source:${sourceId}`,
    type: body.event,
    data: { ...(isObject(body.payload) ? body.payload : {}), ...identifiers },
  };
  if (body.timestamp !== undefined) event.time = toTime(body.timestamp);
  return { event, issues };
}
