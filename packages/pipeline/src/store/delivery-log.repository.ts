import { insertRows, type SqlExecutor, type Store } from '@tessera/store';
import { deleteForSubject, pageSize, retentionBatch, type EventKeyColumns } from './store-helpers';

export type DeliveryStatus = 'delivered' | 'rejected' | 'dead_lettered' | 'dropped';

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = [
  'delivered',
  'rejected',
  'dead_lettered',
  'dropped',
];

export interface DeliveryLogEntry {
  /** The event the item came from; absent for an item that has none (e.g. replayed from a dead letter). */
  sourceId?: string;
  eventSource?: string;
  eventId?: string;
  brand: string;
  customerId?: string;
  destinationId: string;
  operation: string;
  /** The idempotency key of the item. */
  itemKey: string;
  status: DeliveryStatus;
  /** Why, in a few words; must hold no contact point. */
  detail?: string;
  attempts: number;
  /** Defaults to now. */
  at?: Date;
}

export interface DeliveryRecord extends DeliveryLogEntry {
  id: number;
  at: Date;
}

const MAX_PAGE = 10_000;

/** Where a newest-first page of a customer's entries ends: the last entry's time and id. */
export interface DeliveryCursor {
  at: Date;
  id: number;
}

/** A cursor as an API passes it on: `<epoch milliseconds>.<id>` (times are recorded in milliseconds). */
export const DELIVERY_CURSOR_PATTERN = '^[0-9]{1,15}\\.[0-9]{1,18}$';

export function formatDeliveryCursor(cursor: DeliveryCursor): string {
  return `${cursor.at.getTime()}.${cursor.id}`;
}

/** The cursor a text names, undefined when it is not one `formatDeliveryCursor` could have written. */
export function parseDeliveryCursor(text: string): DeliveryCursor | undefined {
  const match = /^([0-9]{1,15})\.([0-9]{1,18})$/.exec(text);
  if (match === null) return undefined;
  const at = new Date(Number(match[1]));
  const id = Number(match[2]);
  return Number.isNaN(at.getTime()) || !Number.isSafeInteger(id) ? undefined : { at, id };
}
const COLUMNS = [
  'source_id',
  'event_source',
  'event_id',
  'brand',
  'customer_id',
  'destination_id',
  'operation',
  'item_key',
  'status',
  'detail',
  'attempts',
  'at',
] as const;
const COLUMN_TYPES = [
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'int4',
  'timestamptz',
];
const SELECT = `SELECT id, ${COLUMNS.join(', ')} FROM delivery_log`;

interface Row {
  id: number;
  source_id: string | null;
  event_source: string | null;
  event_id: string | null;
  brand: string;
  customer_id: string | null;
  destination_id: string;
  operation: string;
  item_key: string;
  status: DeliveryStatus;
  detail: string | null;
  attempts: number;
  at: Date;
}

function toRecord(row: Row): DeliveryRecord {
  return {
    id: row.id,
    ...(row.source_id === null ? {} : { sourceId: row.source_id }),
    ...(row.event_source === null ? {} : { eventSource: row.event_source }),
    ...(row.event_id === null ? {} : { eventId: row.event_id }),
    brand: row.brand,
    ...(row.customer_id === null ? {} : { customerId: row.customer_id }),
    destinationId: row.destination_id,
    operation: row.operation,
    itemKey: row.item_key,
    status: row.status,
    ...(row.detail === null ? {} : { detail: row.detail }),
    attempts: row.attempts,
    at: row.at,
  };
}

/**
 * What was sent to which destination and how it ended, per item. Append-only but for retention; read for
 * idempotent replay (`deliveredItemKeys`), per event, and per customer (the DSR export).
 */
export class DeliveryLog {
  private readonly now: () => Date;

  constructor(
    private readonly store: Store,
    options: { now?: () => Date } = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** Records entries in one statement; pass `executor` to record them inside the caller's transaction. */
  async record(entries: readonly DeliveryLogEntry[], executor?: SqlExecutor): Promise<number> {
    entries.forEach((entry, index) => {
      if (!DELIVERY_STATUSES.includes(entry.status)) {
        throw new RangeError(`DeliveryLog.record: entry ${index} has unknown status "${entry.status}"`);
      }
    });
    const now = this.now();
    const rows = entries.map((entry) => [
      entry.sourceId ?? null,
      entry.eventSource ?? null,
      entry.eventId ?? null,
      entry.brand,
      entry.customerId ?? null,
      entry.destinationId,
      entry.operation,
      entry.itemKey,
      entry.status,
      entry.detail ?? null,
      entry.attempts,
      (entry.at ?? now).toISOString(),
    ]);
    const inserted = await insertRows(executor ?? this.store, 'delivery_log', COLUMNS, rows, {
      columnTypes: COLUMN_TYPES,
      returning: 'id',
    });
    return inserted.length;
  }

  /** Everything delivered (or not) for one event, oldest first. */
  async forEvent(key: { sourceId: string; eventSource: string; eventId: string }): Promise<DeliveryRecord[]> {
    const rows = await this.store.query<Row>(
      `${SELECT} WHERE source_id = $1 AND event_source = $2 AND event_id = $3 ORDER BY at, id`,
      [key.sourceId, key.eventSource, key.eventId],
    );
    return rows.map(toRecord);
  }

  /** A customer's newest entries, newest first (what support looks at first). */
  async latestForCustomer(customerId: string, limit: number): Promise<DeliveryRecord[]> {
    return (await this.pageForCustomer(customerId, { limit })).entries;
  }

  /**
   * A customer's entries newest first, a page at a time: `before` is the previous page's `next` (keyset on
   * time and id, so entries recorded meanwhile neither shift nor repeat a page). `next` is absent on the last.
   */
  async pageForCustomer(
    customerId: string,
    options: { limit: number; before?: DeliveryCursor },
  ): Promise<{ entries: DeliveryRecord[]; next?: DeliveryCursor }> {
    const limit = Math.max(1, Math.min(options.limit, 1000));
    const before = options.before;
    const rows = await this.store.query<Row>(
      before === undefined
        ? `${SELECT} WHERE customer_id = $1 ORDER BY at DESC, id DESC LIMIT $2`
        : `${SELECT} WHERE customer_id = $1 AND (at, id) < ($3::timestamptz, $4::bigint)
            ORDER BY at DESC, id DESC LIMIT $2`,
      before === undefined
        ? [customerId, limit + 1]
        : [customerId, limit + 1, before.at.toISOString(), before.id],
    );
    const entries = rows.slice(0, limit).map(toRecord);
    const last = entries[entries.length - 1];
    return rows.length > limit && last !== undefined
      ? { entries, next: { at: last.at, id: last.id } }
      : { entries };
  }

  /** A customer's deliveries, oldest first, a page at a time (`afterId`: the last id of the previous page). */
  async forCustomer(
    customerId: string,
    options: { limit: number; afterId?: number },
  ): Promise<DeliveryRecord[]> {
    const rows = await this.store.query<Row>(
      `${SELECT} WHERE customer_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
      [customerId, options.afterId ?? 0, pageSize(options.limit, MAX_PAGE)],
    );
    return rows.map(toRecord);
  }

  /** Which of `itemKeys` were already delivered to the destination (so a replay skips them): one query. */
  async deliveredItemKeys(destinationId: string, itemKeys: readonly string[]): Promise<Set<string>> {
    if (itemKeys.length === 0) return new Set();
    const rows = await this.store.query<{ item_key: string }>(
      `SELECT DISTINCT item_key FROM delivery_log
        WHERE destination_id = $1 AND item_key = ANY($2::text[]) AND status = 'delivered'`,
      [destinationId, [...new Set(itemKeys)]],
    );
    return new Set(rows.map((row) => row.item_key));
  }

  /**
   * When `operations` were delivered to a destination for these customers between `from` and `to` (inclusive),
   * oldest first, leaving out items answered without a request (`skipDetail`, the change-only writes' note):
   * what Tessera itself sent, to recognise an ESP reporting it back. One query.
   */
  async sentBetween(query: {
    destinationId: string;
    customerIds: readonly string[];
    operations: readonly string[];
    from: Date;
    to: Date;
    skipDetail?: string;
  }): Promise<{ customerId: string; operation: string; at: Date }[]> {
    if (query.customerIds.length === 0 || query.operations.length === 0) return [];
    const rows = await this.store.query<{ customer_id: string; operation: string; at: Date | string }>(
      `SELECT customer_id, operation, at FROM delivery_log
        WHERE customer_id = ANY($1::text[]) AND destination_id = $2 AND operation = ANY($3::text[])
          AND status = 'delivered' AND at >= $4::timestamptz AND at <= $5::timestamptz
          AND detail IS DISTINCT FROM $6::text
        ORDER BY at, id`,
      [
        [...new Set(query.customerIds)],
        query.destinationId,
        [...query.operations],
        query.from.toISOString(),
        query.to.toISOString(),
        query.skipDetail ?? null,
      ],
    );
    return rows.map((row) => ({
      customerId: row.customer_id,
      operation: row.operation,
      at: new Date(row.at),
    }));
  }

  /**
   * Erasure: deletes every entry of these customers or of these events (an item replayed from a dead letter
   * may name the event only). Returns how many.
   */
  async forget(filter: {
    customerIds: readonly string[];
    events?: readonly EventKeyColumns[];
  }): Promise<number> {
    return deleteForSubject(this.store, 'delivery_log', filter);
  }

  /**
   * Retention: deletes entries recorded before `cutoff` (at most `limit`, oldest first, when given: the
   * retention job's batches keep each statement short); returns how many.
   */
  async deleteBefore(cutoff: Date, limit?: number): Promise<number> {
    const rows = await this.store.query<{ n: number }>(
      limit === undefined
        ? `WITH gone AS (DELETE FROM delivery_log WHERE at < $1 RETURNING 1) SELECT count(*)::int AS n FROM gone`
        : `WITH gone AS (
             DELETE FROM delivery_log WHERE id IN (
               SELECT id FROM delivery_log WHERE at < $1 ORDER BY at, id LIMIT $2)
             RETURNING 1)
           SELECT count(*)::int AS n FROM gone`,
      limit === undefined ? [cutoff] : [cutoff, retentionBatch(limit)],
    );
    return rows[0]?.n ?? 0;
  }
}
