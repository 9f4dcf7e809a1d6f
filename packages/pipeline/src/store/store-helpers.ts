import type { SqlExecutor } from '@tessera/store';

/**
 * Conditions from optional filters, numbered from `$1`: `[['customer_id =', id], ['at >=', from]]` with
 * undefined values left out. The column expressions are the caller's constants, never input.
 */
export function sqlConditions(filters: readonly (readonly [string, unknown])[]): {
  conditions: string[];
  params: unknown[];
} {
  const params: unknown[] = [];
  const conditions: string[] = [];
  for (const [expression, value] of filters) {
    if (value === undefined) continue;
    params.push(value);
    conditions.push(`${expression} $${params.length}`);
  }
  return { conditions, params };
}

/** `WHERE a AND b`, or nothing when there are no conditions. */
export function whereClause(conditions: readonly string[]): string {
  return conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
}

/** A page size as a positive integer no larger than `max`; a bad value is a caller's bug, not a query. */
export function pageSize(limit: number, max: number): number {
  if (!Number.isFinite(limit) || limit < 1) throw new RangeError(`limit must be at least 1, got ${limit}`);
  return Math.min(Math.floor(limit), max);
}

/** A retention batch size: a positive integer (the retention job passes its batch size). */
export function retentionBatch(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  return limit;
}

/** The text cut to at most `maxBytes` UTF-8 bytes, never inside a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the character that would be cut.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}

const EMAIL = /[^\s@"'<>(),;:[\]]+@[^\s@"'<>(),;:[\]]+\.[^\s@"'<>(),;:[\]]+/g;
// E.164 and the common written forms of it ("+33 6 12 34 56 78"): a plus, then 8 to 15 digits.
const PHONE = /\+\d(?:[\s.-]?\d){7,14}/g;

/**
 * ESP answers and error messages often echo the contact point they refused; they are kept in clear for
 * browsing, so emails and international phone numbers are masked first.
 */
export function redactContactPoints(text: string): string {
  return text.replace(EMAIL, '[email]').replace(PHONE, '[phone]');
}

/** An event's key as the delivery log and dead letters keep it (their columns source_id, event_source, event_id). */
export interface EventKeyColumns {
  sourceId: string;
  eventSource: string;
  eventId: string;
}

/**
 * Erasure of a table whose rows name a customer and an event (`delivery_log`, `dead_letters`): deletes the rows
 * of these customers or of these events in one statement; returns how many. The table is the caller's constant.
 */
export async function deleteForSubject(
  executor: SqlExecutor,
  table: 'delivery_log' | 'dead_letters',
  filter: { customerIds: readonly string[]; events?: readonly EventKeyColumns[] },
): Promise<number> {
  const events = filter.events ?? [];
  if (filter.customerIds.length === 0 && events.length === 0) return 0;
  const rows = await executor.query<{ n: number }>(
    `WITH gone AS (
       DELETE FROM ${table}
        WHERE customer_id = ANY($1::text[])
           OR (source_id, event_source, event_id) IN (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]))
       RETURNING 1)
     SELECT count(*)::int AS n FROM gone`,
    [
      [...filter.customerIds],
      events.map((event) => event.sourceId),
      events.map((event) => event.eventSource),
      events.map((event) => event.eventId),
    ],
  );
  return rows[0]?.n ?? 0;
}

/** A vault context naming a row by its key parts, unambiguous whatever characters the parts hold. */
export function rowContext(table: string, ...parts: readonly string[]): string {
  return `${table}:${JSON.stringify(parts)}`;
}
