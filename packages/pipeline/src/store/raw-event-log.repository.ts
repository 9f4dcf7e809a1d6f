import type { PiiVault, SqlExecutor, Store } from '@tessera/store';
import type { IngestedEvent } from '@tessera/queues';
import { pageSize, retentionBatch, rowContext, sqlConditions, whereClause } from './store-helpers';

/** The key of a stored event: the source it came through and its CloudEvent `source` and `id`. */
export interface RawEventKey {
  sourceId: string;
  eventSource: string;
  eventId: string;
}

export interface CustomerAssignment extends RawEventKey {
  /** null detaches the event (e.g. after an erasure or a split). */
  customerId: string | null;
}

/** How far a stored event has come through the pipeline. */
export interface RawEventProgress {
  customerId: string | null;
  resolved: boolean;
  routed: boolean;
  /**
   * The event belonged to an erased person: only its tombstone is left (`erased_events`). It counts as done
   * (resolved and routed, no profile), so a retried send is never stored, resolved nor routed again.
   */
  erased?: boolean;
}

export interface RawEventFilter {
  customerId?: string;
  brand?: string;
  /** Inclusive, on `receivedAt`. */
  from?: Date;
  /** Exclusive, on `receivedAt`. */
  to?: Date;
  /** The `nextCursor` of the previous page. */
  afterKey?: string;
  /** At most 10,000. */
  limit: number;
}

export interface RawEventPage {
  events: IngestedEvent[];
  /** Present when more events may follow: pass it as `afterKey`. */
  nextCursor?: string;
}

export class InvalidRawEventError extends Error {}

const MAX_PAGE = 10_000;
const COLUMNS = [
  'source_id',
  'event_source',
  'event_id',
  'brand',
  'type',
  'received_at',
  'event_time',
  'payload_ciphertext',
  'payload_key_id',
] as const;
const COLUMN_TYPES = ['text', 'text', 'text', 'text', 'text', 'timestamptz', 'timestamptz', 'text', 'text'];

interface PageRow {
  source_id: string;
  event_source: string;
  event_id: string;
  received_us: number | string;
  payload_ciphertext: string;
  payload_key_id: string;
}

/** The blind-index domain of erased events' keys (`erased_events.event_key_hash`). */
const ERASED_EVENT_INDEX = 'erased-event';
/** The blind-index domain of erased customer ids (`erased_customers.customer_key_hash`). */
const ERASED_CUSTOMER_INDEX = 'erased-customer';

/** The vault context of a raw event's payload: a sealed payload cannot be moved to another row. */
export function rawEventContext(key: RawEventKey): string {
  return rowContext('raw_event', key.sourceId, key.eventSource, key.eventId);
}

function keyOf(event: IngestedEvent): RawEventKey {
  return { sourceId: event.sourceId, eventSource: event.event.source, eventId: event.event.id };
}

/**
 * One string per event key, for maps: the same form as the stages' `eventKeyString` (NUL cannot occur in
 * the parts), so `progress()` maps can be read with either.
 */
export function rawEventKeyString(key: RawEventKey): string {
  return `${key.sourceId}\u0000${key.eventSource}\u0000${key.eventId}`;
}

const keyString = rawEventKeyString;

function uniqueKeys<K extends RawEventKey>(keys: readonly K[]): K[] {
  const unique = new Map<string, K>();
  for (const key of keys) unique.set(keyString(key), key);
  return [...unique.values()];
}

function isoOrUndefined(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** Why an event cannot be stored, or undefined. Checked for the whole batch before anything is written. */
function invalidReason(event: IngestedEvent): string | undefined {
  if (!nonEmpty(event?.sourceId)) return 'missing sourceId';
  if (!nonEmpty(event.brand)) return 'missing brand';
  if (isoOrUndefined(event.receivedAt) === undefined) return 'receivedAt is not a date-time';
  if (!nonEmpty(event.event?.source)) return 'missing event.source';
  if (!nonEmpty(event.event.id)) return 'missing event.id';
  if (!nonEmpty(event.event.type)) return 'missing event.type';
  return undefined;
}

// The page cursor: received_at in microseconds since the epoch (exact, where a JS Date keeps milliseconds)
// and the row key, as base64url JSON. Opaque to callers.
type Cursor = [string, string, string, string];

function encodeCursor(row: PageRow): string {
  const cursor: Cursor = [String(row.received_us), row.source_id, row.event_source, row.event_id];
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(value: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 4 ||
    !parsed.every((part) => typeof part === 'string') ||
    !/^-?\d+$/.test(parsed[0])
  ) {
    throw new RangeError('RawEventLog.find: afterKey is not a cursor this log returned');
  }
  return parsed as Cursor;
}

/**
 * The raw event log: every accepted event, sealed, keyed by (source id, CloudEvent source, CloudEvent id).
 * Its primary key is the pipeline's authoritative dedupe; `find` reads events back for rehydration.
 */
export class RawEventLog {
  private readonly now: () => Date;

  constructor(
    private readonly store: Store,
    private readonly vault: PiiVault,
    options: { now?: () => Date } = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Stores a batch with one INSERT … ON CONFLICT DO NOTHING. Per input: true when newly stored, false when
   * already stored (by an earlier call or a concurrent one) or repeated earlier in the same batch. Pass
   * `executor` to write inside the caller's transaction.
   */
  async append(events: readonly IngestedEvent[], executor?: SqlExecutor): Promise<boolean[]> {
    events.forEach((event, index) => {
      const reason = invalidReason(event);
      if (reason !== undefined) {
        throw new InvalidRawEventError(`RawEventLog.append: event ${index} cannot be stored: ${reason}`);
      }
    });
    const firstIndex = new Map<string, number>();
    const rows: unknown[][] = [];
    events.forEach((event, index) => {
      const key = keyOf(event);
      const id = keyString(key);
      if (firstIndex.has(id)) return;
      firstIndex.set(id, index);
      const sealed = this.vault.encrypt(JSON.stringify(event), rawEventContext(key));
      rows.push([
        key.sourceId,
        key.eventSource,
        key.eventId,
        event.brand,
        event.event.type,
        isoOrUndefined(event.receivedAt),
        isoOrUndefined(event.event.time) ?? null,
        sealed.ciphertext,
        sealed.keyId,
      ]);
    });
    // Keys of erased events are left out in the same statement: their tombstone holds a keyed hash of the key
    // only, so each row's hash travels along (one HMAC per event) and is compared there.
    const hashes = [...firstIndex.keys()].map((id) => this.vault.blindIndex(ERASED_EVENT_INDEX, id));
    const inserted =
      rows.length === 0
        ? []
        : await (executor ?? this.store).query<{ source_id: string; event_source: string; event_id: string }>(
            `INSERT INTO raw_events (${COLUMNS.join(', ')})
             SELECT ${COLUMNS.map((column) => `u.${column}`).join(', ')}
               FROM unnest(${COLUMN_TYPES.map((type, index) => `$${index + 1}::${type}[]`).join(', ')},
                           $${COLUMNS.length + 1}::text[]) AS u(${COLUMNS.join(', ')}, key_hash)
              WHERE NOT EXISTS (SELECT 1 FROM erased_events e WHERE e.event_key_hash = u.key_hash)
             ON CONFLICT (source_id, event_source, event_id) DO NOTHING
             RETURNING source_id, event_source, event_id`,
            [...COLUMNS.map((_, index) => rows.map((row) => row[index])), hashes],
          );
    const fresh = new Set(
      inserted.map((row) =>
        keyString({ sourceId: row.source_id, eventSource: row.event_source, eventId: row.event_id }),
      ),
    );
    return events.map((event, index) => {
      const id = keyString(keyOf(event));
      return firstIndex.get(id) === index && fresh.has(id);
    });
  }

  /**
   * Records which profile each event belongs to, in one UPDATE; returns how many rows changed. A key given
   * twice takes its last assignment; unknown keys are ignored.
   */
  assignCustomers(assignments: readonly CustomerAssignment[], executor?: SqlExecutor): Promise<number> {
    return this.updateCustomers(assignments, executor ?? this.store, false);
  }

  /**
   * The resolve stage's step: records each event's profile (null when it had no usable identifier) and
   * marks it resolved, in one UPDATE, inside the identity graph's transaction (`executor`).
   */
  async markResolved(
    assignments: readonly { key: RawEventKey; customerId: string | null }[],
    executor: SqlExecutor,
  ): Promise<void> {
    await this.updateCustomers(
      assignments.map(({ key, customerId }) => ({ ...key, customerId })),
      executor,
      true,
    );
  }

  /** Marks events handed to the route stage (the first time only): one UPDATE. */
  async markRouted(keys: readonly RawEventKey[], executor?: SqlExecutor): Promise<void> {
    const unique = uniqueKeys(keys);
    if (unique.length === 0) return;
    await (executor ?? this.store).query(
      `UPDATE raw_events AS r SET routed_at = $4
         FROM unnest($1::text[], $2::text[], $3::text[]) AS k(source_id, event_source, event_id)
        WHERE r.source_id = k.source_id AND r.event_source = k.event_source AND r.event_id = k.event_id
          AND r.routed_at IS NULL`,
      [
        unique.map((k) => k.sourceId),
        unique.map((k) => k.eventSource),
        unique.map((k) => k.eventId),
        this.now(),
      ],
    );
  }

  /** How far each stored event has come, by `rawEventKeyString`; keys not stored are absent. One query. */
  async progress(keys: readonly RawEventKey[]): Promise<Map<string, RawEventProgress>> {
    const unique = uniqueKeys(keys);
    if (unique.length === 0) return new Map();
    const rows = await this.store.query<{
      source_id: string;
      event_source: string;
      event_id: string;
      customer_id: string | null;
      resolved: boolean;
      routed: boolean;
    }>(
      `SELECT r.source_id, r.event_source, r.event_id, r.customer_id,
              r.resolved_at IS NOT NULL AS resolved, r.routed_at IS NOT NULL AS routed
         FROM raw_events AS r
         JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(source_id, event_source, event_id)
           ON r.source_id = k.source_id AND r.event_source = k.event_source AND r.event_id = k.event_id`,
      [unique.map((k) => k.sourceId), unique.map((k) => k.eventSource), unique.map((k) => k.eventId)],
    );
    const progress = new Map<string, RawEventProgress>(
      rows.map((row) => [
        keyString({ sourceId: row.source_id, eventSource: row.event_source, eventId: row.event_id }),
        { customerId: row.customer_id, resolved: row.resolved, routed: row.routed },
      ]),
    );
    // A key not stored after an append is an erased event's (append leaves those out): asked only then.
    const missing = unique.map(keyString).filter((id) => !progress.has(id));
    if (missing.length > 0) {
      const hashes = new Map(missing.map((id) => [this.vault.blindIndex(ERASED_EVENT_INDEX, id), id]));
      const erased = await this.store.query<{ event_key_hash: string }>(
        'SELECT event_key_hash FROM erased_events WHERE event_key_hash = ANY($1::text[])',
        [[...hashes.keys()]],
      );
      for (const row of erased) {
        const id = hashes.get(row.event_key_hash);
        if (id !== undefined)
          progress.set(id, { customerId: null, resolved: true, routed: true, erased: true });
      }
    }
    return progress;
  }

  /**
   * Erasure: deletes the stored events of these customers (every profile id of the erased person) and of
   * these keys (events found elsewhere carrying the person's identifiers), and leaves for each a tombstone —
   * the keyed hash of its key — in one transaction. Returns the keys erased (for the delivery log and dead
   * letters, which name events by key). Idempotent.
   */
  async erase(filter: {
    customerIds: readonly string[];
    keys?: readonly RawEventKey[];
  }): Promise<RawEventKey[]> {
    const keys = uniqueKeys(filter.keys ?? []);
    return this.store.transaction(async (tx) => {
      const gone = await tx.query<{ source_id: string; event_source: string; event_id: string }>(
        `DELETE FROM raw_events AS r
          WHERE r.customer_id = ANY($1::text[])
             OR (r.source_id, r.event_source, r.event_id) IN (
                  SELECT * FROM unnest($2::text[], $3::text[], $4::text[]))
          RETURNING r.source_id, r.event_source, r.event_id`,
        [
          [...filter.customerIds],
          keys.map((k) => k.sourceId),
          keys.map((k) => k.eventSource),
          keys.map((k) => k.eventId),
        ],
      );
      const erased = uniqueKeys([
        ...keys,
        ...gone.map((row) => ({
          sourceId: row.source_id,
          eventSource: row.event_source,
          eventId: row.event_id,
        })),
      ]);
      if (erased.length > 0)
        await tx.query(
          `INSERT INTO erased_events (event_key_hash, erased_at)
           SELECT h, $2 FROM unnest($1::text[]) AS h ON CONFLICT (event_key_hash) DO NOTHING`,
          [erased.map((key) => this.erasedKeyHash(key)), this.now()],
        );
      return erased;
    });
  }

  /**
   * Erasure: keeps a keyed hash of each erased customer id (no value), so that re-send paths recognise an item
   * of an erased person. Idempotent.
   */
  async tombstoneCustomers(customerIds: readonly string[]): Promise<void> {
    if (customerIds.length === 0) return;
    await this.store.query(
      `INSERT INTO erased_customers (customer_key_hash, erased_at)
       SELECT h, $2 FROM unnest($1::text[]) AS h ON CONFLICT (customer_key_hash) DO NOTHING`,
      [[...new Set(customerIds)].map((id) => this.vault.blindIndex(ERASED_CUSTOMER_INDEX, id)), this.now()],
    );
  }

  /** A member registered again after their erasure: their customer ids are no longer an erased person's. */
  async untombstoneCustomers(customerIds: readonly string[]): Promise<void> {
    if (customerIds.length === 0) return;
    await this.store.query('DELETE FROM erased_customers WHERE customer_key_hash = ANY($1::text[])', [
      [...new Set(customerIds)].map((id) => this.vault.blindIndex(ERASED_CUSTOMER_INDEX, id)),
    ]);
  }

  /** Which of these customer ids were erased (their tombstone). */
  async erasedCustomersAmong(customerIds: readonly string[]): Promise<Set<string>> {
    const hashes = new Map(
      [...new Set(customerIds)].map((id) => [this.vault.blindIndex(ERASED_CUSTOMER_INDEX, id), id]),
    );
    if (hashes.size === 0) return new Set();
    const rows = await this.store.query<{ customer_key_hash: string }>(
      'SELECT customer_key_hash FROM erased_customers WHERE customer_key_hash = ANY($1::text[])',
      [[...hashes.keys()]],
    );
    return new Set(rows.flatMap((row) => hashes.get(row.customer_key_hash) ?? []));
  }

  /** The stored events of these customers, by key only (what an erasure looks for in queues). */
  async keysOfCustomers(customerIds: readonly string[]): Promise<RawEventKey[]> {
    if (customerIds.length === 0) return [];
    const rows = await this.store.query<{ source_id: string; event_source: string; event_id: string }>(
      'SELECT source_id, event_source, event_id FROM raw_events WHERE customer_id = ANY($1::text[])',
      [[...customerIds]],
    );
    return rows.map((row) => ({
      sourceId: row.source_id,
      eventSource: row.event_source,
      eventId: row.event_id,
    }));
  }

  /** Which of these keys belong to erased events (their tombstone), by `rawEventKeyString`. */
  async erasedAmong(keys: readonly RawEventKey[]): Promise<Set<string>> {
    const unique = uniqueKeys(keys);
    if (unique.length === 0) return new Set();
    const hashes = new Map(unique.map((key) => [this.erasedKeyHash(key), keyString(key)]));
    const rows = await this.store.query<{ event_key_hash: string }>(
      'SELECT event_key_hash FROM erased_events WHERE event_key_hash = ANY($1::text[])',
      [[...hashes.keys()]],
    );
    return new Set(rows.flatMap((row) => hashes.get(row.event_key_hash) ?? []));
  }

  private erasedKeyHash(key: RawEventKey): string {
    return this.vault.blindIndex(ERASED_EVENT_INDEX, keyString(key));
  }

  private async updateCustomers(
    assignments: readonly CustomerAssignment[],
    executor: SqlExecutor,
    resolve: boolean,
  ): Promise<number> {
    const last = new Map<string, CustomerAssignment>();
    for (const assignment of assignments) last.set(keyString(assignment), assignment);
    if (last.size === 0) return 0;
    const unique = [...last.values()];
    const params: unknown[] = [
      unique.map((a) => a.sourceId),
      unique.map((a) => a.eventSource),
      unique.map((a) => a.eventId),
      unique.map((a) => a.customerId),
    ];
    if (resolve) params.push(this.now());
    const rows = await executor.query<{ n: number }>(
      `WITH changed AS (
         UPDATE raw_events AS r SET customer_id = v.customer_id
                ${resolve ? ', resolved_at = coalesce(r.resolved_at, $5)' : ''}
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
             AS v(source_id, event_source, event_id, customer_id)
          WHERE r.source_id = v.source_id AND r.event_source = v.event_source AND r.event_id = v.event_id
            AND (r.customer_id IS DISTINCT FROM v.customer_id${resolve ? ' OR r.resolved_at IS NULL' : ''})
         RETURNING 1)
       SELECT count(*)::int AS n FROM changed`,
      params,
    );
    return rows[0]?.n ?? 0;
  }

  /**
   * Stored events, decrypted, in the order they were received (then by key), a page at a time: what
   * re-running a profile's events or a time range reads.
   */
  async find(filter: RawEventFilter): Promise<RawEventPage> {
    const limit = pageSize(filter.limit, MAX_PAGE);
    const { conditions, params } = sqlConditions([
      ['customer_id =', filter.customerId],
      ['brand =', filter.brand],
      ['received_at >=', filter.from],
      ['received_at <', filter.to],
    ]);
    if (filter.afterKey !== undefined) {
      const [micros, sourceId, eventSource, eventId] = decodeCursor(filter.afterKey);
      params.push(micros, sourceId, eventSource, eventId);
      const n = params.length;
      const at = `('epoch'::timestamptz + $${n - 3}::bigint * interval '1 microsecond')`;
      // The leading received_at >= lets the planner use the received_at indexes for the row comparison.
      conditions.push(
        `received_at >= ${at}`,
        `(received_at, source_id COLLATE "C", event_source COLLATE "C", event_id COLLATE "C") >
           (${at}, $${n - 2}::text, $${n - 1}::text, $${n}::text)`,
      );
    }
    params.push(limit + 1);
    const rows = await this.store.query<PageRow>(
      `SELECT source_id, event_source, event_id, payload_ciphertext, payload_key_id,
              (extract(epoch FROM received_at) * 1000000)::bigint AS received_us
         FROM raw_events
         ${whereClause(conditions)}
        ORDER BY received_at, source_id COLLATE "C", event_source COLLATE "C", event_id COLLATE "C"
        LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, limit);
    const events = page.map(
      (row) =>
        JSON.parse(
          this.vault.decrypt(
            { ciphertext: row.payload_ciphertext, keyId: row.payload_key_id },
            rawEventContext({
              sourceId: row.source_id,
              eventSource: row.event_source,
              eventId: row.event_id,
            }),
          ),
        ) as IngestedEvent,
    );
    const lastRow = page[page.length - 1];
    return rows.length > limit && lastRow !== undefined
      ? { events, nextCursor: encodeCursor(lastRow) }
      : { events };
  }

  /**
   * The newest events of these customer ids (a profile's history: see `historyCustomerIds`), without their
   * payloads: one index range per id, newest first.
   */
  async recentOfCustomers(
    customerIds: readonly string[],
    limit: number,
  ): Promise<
    {
      sourceId: string;
      source: string;
      id: string;
      type: string;
      brand: string;
      time: Date | null;
      receivedAt: Date;
      customerId: string;
    }[]
  > {
    if (customerIds.length === 0) return [];
    const rows = await this.store.query<{
      source_id: string;
      event_source: string;
      event_id: string;
      type: string;
      brand: string;
      event_time: Date | null;
      received_at: Date;
      customer_id: string;
    }>(
      `SELECT source_id, event_source, event_id, type, brand, event_time, received_at, customer_id
         FROM raw_events WHERE customer_id = ANY($1::text[])
        ORDER BY received_at DESC, event_id DESC LIMIT $2`,
      [[...new Set(customerIds)], Math.max(1, Math.min(limit, 200))],
    );
    return rows.map((row) => ({
      sourceId: row.source_id,
      source: row.event_source,
      id: row.event_id,
      type: row.type,
      brand: row.brand,
      time: row.event_time,
      receivedAt: row.received_at,
      customerId: row.customer_id,
    }));
  }

  /**
   * Retention: deletes events received before `cutoff` (at most `limit`, oldest first, when given: the
   * retention job's batches keep each statement short); returns how many.
   */
  /** The newest events received (of a brand), without their payloads: what a person picks a sample from. */
  async recent(filter: {
    brand?: string;
    limit: number;
  }): Promise<
    { sourceId: string; source: string; id: string; type: string; brand: string; receivedAt: Date }[]
  > {
    const rows = await this.store.query<{
      source_id: string;
      event_source: string;
      event_id: string;
      type: string;
      brand: string;
      received_at: Date;
    }>(
      `SELECT source_id, event_source, event_id, type, brand, received_at FROM raw_events
        WHERE ($1::text IS NULL OR brand = $1) ORDER BY received_at DESC LIMIT $2`,
      [filter.brand ?? null, Math.max(1, Math.min(filter.limit, 200))],
    );
    return rows.map((row) => ({
      sourceId: row.source_id,
      source: row.event_source,
      id: row.event_id,
      type: row.type,
      brand: row.brand,
      receivedAt: row.received_at,
    }));
  }

  async deleteReceivedBefore(cutoff: Date, limit?: number): Promise<number> {
    const rows = await this.store.query<{ n: number }>(
      limit === undefined
        ? `WITH gone AS (DELETE FROM raw_events WHERE received_at < $1 RETURNING 1)
           SELECT count(*)::int AS n FROM gone`
        : `WITH gone AS (
             DELETE FROM raw_events WHERE (source_id, event_source, event_id) IN (
               SELECT source_id, event_source, event_id FROM raw_events WHERE received_at < $1
                ORDER BY received_at LIMIT $2)
             RETURNING 1)
           SELECT count(*)::int AS n FROM gone`,
      limit === undefined ? [cutoff] : [cutoff, retentionBatch(limit)],
    );
    return rows[0]?.n ?? 0;
  }
}
