import { insertRows, type PiiVault, type SqlExecutor, type Store } from '@tessera/store';
import {
  deleteForSubject,
  type EventKeyColumns,
  pageSize,
  redactContactPoints,
  rowContext,
  sqlConditions,
  truncateUtf8,
  whereClause,
} from './store-helpers';

export type DeadLetterErrorClass = 'validation' | 'auth' | 'retryable' | 'rejected';

export const DEAD_LETTER_ERROR_CLASSES: readonly DeadLetterErrorClass[] = [
  'validation',
  'auth',
  'retryable',
  'rejected',
];

/** The most of an ESP's answer (and of an error message) kept: enough to diagnose, bounded per row. */
export const DEAD_LETTER_TEXT_BYTES = 2_048;

export interface DeadLetterInput {
  brand: string;
  destinationId: string;
  operation: string;
  /** The idempotency key of the item: one waiting letter per destination and item key. */
  itemKey: string;
  /** The operation item as it would be sent (JSON-serializable); sealed, since it holds contact points. */
  item: unknown;
  sourceId?: string;
  eventSource?: string;
  eventId?: string;
  customerId?: string;
  errorClass: DeadLetterErrorClass;
  error: string;
  /** What the ESP answered; contact points are masked and it is cut to 2 KB. */
  espAnswer?: string;
  /** Attempts made before this failure was dead-lettered; added to a waiting letter's count. */
  attempts: number;
  /** Defaults to now. */
  failedAt?: Date;
}

/** A dead letter as browsing shows it: never the item, which holds PII. */
export interface DeadLetterView {
  id: number;
  brand: string;
  destinationId: string;
  operation: string;
  itemKey: string;
  sourceId?: string;
  eventSource?: string;
  eventId?: string;
  customerId?: string;
  errorClass: DeadLetterErrorClass;
  error: string;
  espAnswer?: string;
  attempts: number;
  firstFailedAt: Date;
  lastFailedAt: Date;
  replayedAt?: Date;
  replayCount: number;
  /** Set when an operator discarded it: it will never be sent. */
  discardedAt?: Date;
  discardedBy?: string;
  discardReason?: string;
}

export interface DeadLetterForReplay extends DeadLetterView {
  item: unknown;
}

export interface DeadLetterCountFilter {
  brand?: string;
  destinationId?: string;
  errorClass?: DeadLetterErrorClass;
  /** Letters whose (masked) error contains this text, ignoring case. */
  errorContains?: string;
  /** Also letters already replayed; by default only waiting ones. */
  includeReplayed?: boolean;
}

export interface DeadLetterFilter extends DeadLetterCountFilter {
  /** The last id of the previous page. */
  afterId?: number;
  /** At most 1,000. */
  limit: number;
}

export interface ReplayFilter {
  ids?: readonly number[];
  brand?: string;
  destinationId?: string;
  errorClass?: DeadLetterErrorClass;
  /** Letters whose (masked) error contains this text, ignoring case. */
  errorContains?: string;
  /** Only letters of these destinations (those the replaying process runs). */
  destinationIds?: readonly string[];
  /** At most 1,000. */
  limit: number;
}

const MAX_PAGE = 1_000;
const COLUMNS = [
  'brand',
  'destination_id',
  'operation',
  'item_key',
  'item_ciphertext',
  'item_ciphertext_key_id',
  'source_id',
  'event_source',
  'event_id',
  'customer_id',
  'error_class',
  'error',
  'esp_answer',
  'attempts',
  'first_failed_at',
  'last_failed_at',
] as const;
const COLUMN_TYPES = [...Array<string>(13).fill('text'), 'int4', 'timestamptz', 'timestamptz'];
const VIEW_COLUMNS = [
  'id',
  'brand',
  'destination_id',
  'operation',
  'item_key',
  'source_id',
  'event_source',
  'event_id',
  'customer_id',
  'error_class',
  'error',
  'esp_answer',
  'attempts',
  'first_failed_at',
  'last_failed_at',
  'replayed_at',
  'replay_count',
  'discarded_at',
  'discarded_by',
  'discard_reason',
];

interface ViewRow {
  id: number;
  brand: string;
  destination_id: string;
  operation: string;
  item_key: string;
  source_id: string | null;
  event_source: string | null;
  event_id: string | null;
  customer_id: string | null;
  error_class: DeadLetterErrorClass;
  error: string;
  esp_answer: string | null;
  attempts: number;
  first_failed_at: Date;
  last_failed_at: Date;
  replayed_at: Date | null;
  replay_count: number;
  discarded_at: Date | null;
  discarded_by: string | null;
  discard_reason: string | null;
}

interface ReplayRow extends ViewRow {
  item_ciphertext: string;
  item_ciphertext_key_id: string;
}

/** The vault context of a dead letter's item. */
export function deadLetterContext(destinationId: string, itemKey: string): string {
  return rowContext('dead_letter', destinationId, itemKey);
}

function toView(row: ViewRow): DeadLetterView {
  return {
    id: row.id,
    brand: row.brand,
    destinationId: row.destination_id,
    operation: row.operation,
    itemKey: row.item_key,
    ...(row.source_id === null ? {} : { sourceId: row.source_id }),
    ...(row.event_source === null ? {} : { eventSource: row.event_source }),
    ...(row.event_id === null ? {} : { eventId: row.event_id }),
    ...(row.customer_id === null ? {} : { customerId: row.customer_id }),
    errorClass: row.error_class,
    error: row.error,
    ...(row.esp_answer === null ? {} : { espAnswer: row.esp_answer }),
    attempts: row.attempts,
    firstFailedAt: row.first_failed_at,
    lastFailedAt: row.last_failed_at,
    ...(row.replayed_at === null || row.discarded_at !== null ? {} : { replayedAt: row.replayed_at }),
    replayCount: row.replay_count,
    ...(row.discarded_at === null
      ? {}
      : {
          discardedAt: row.discarded_at,
          discardedBy: row.discarded_by ?? '',
          discardReason: row.discard_reason ?? '',
        }),
  };
}

function clearText(text: string): string {
  return truncateUtf8(redactContactPoints(text), DEAD_LETTER_TEXT_BYTES);
}

/** An ILIKE pattern matching `text` anywhere, its own `%`, `_` and `\` taken literally. */
function containsPattern(text: string | undefined): string | undefined {
  return text === undefined ? undefined : `%${text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}

/** The conditions of a replay filter: waiting letters only. */
function replayConditions(filter: Omit<ReplayFilter, 'limit'>) {
  const { conditions, params } = sqlConditions([
    ['brand =', filter.brand],
    ['destination_id =', filter.destinationId],
    ['error_class =', filter.errorClass],
    ['error ILIKE', containsPattern(filter.errorContains)],
  ]);
  if (filter.ids !== undefined) {
    params.push([...filter.ids]);
    conditions.push(`id = ANY($${params.length}::bigint[])`);
  }
  if (filter.destinationIds !== undefined) {
    params.push([...filter.destinationIds]);
    conditions.push(`destination_id = ANY($${params.length}::text[])`);
  }
  conditions.push('replayed_at IS NULL');
  return { conditions, params };
}

function filterConditions(filter: DeadLetterCountFilter & { afterId?: number }) {
  const { conditions, params } = sqlConditions([
    ['brand =', filter.brand],
    ['destination_id =', filter.destinationId],
    ['error_class =', filter.errorClass],
    ['error ILIKE', containsPattern(filter.errorContains)],
    ['id >', filter.afterId],
  ]);
  if (filter.includeReplayed !== true) conditions.push('replayed_at IS NULL');
  return { conditions, params };
}

type Merged = DeadLetterInput & { firstFailedAt: Date; lastFailedAt: Date };

/**
 * Items a destination would not take, for browsing and replay. One waiting letter per (destination, item
 * key): a repeated failure updates it. Items are sealed; browsing never decrypts them, replay does.
 */
export class DeadLetterBox {
  private readonly now: () => Date;

  constructor(
    private readonly store: Store,
    private readonly vault: PiiVault,
    options: { now?: () => Date } = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Adds letters in one statement. An item already waiting (same destination and item key, not replayed)
   * is updated instead: attempts added, the latest item, error and event, last_failed_at moved on. Returns
   * each input's letter id.
   */
  async add(entries: readonly DeadLetterInput[], executor?: SqlExecutor): Promise<number[]> {
    entries.forEach((entry, index) => {
      if (!DEAD_LETTER_ERROR_CLASSES.includes(entry.errorClass)) {
        throw new RangeError(
          `DeadLetterBox.add: entry ${index} has unknown error class "${entry.errorClass}"`,
        );
      }
      if (!Number.isInteger(entry.attempts) || entry.attempts < 0) {
        throw new RangeError(`DeadLetterBox.add: entry ${index} has invalid attempts ${entry.attempts}`);
      }
    });
    // One statement cannot update a row twice: fold repeats of an item within the batch first.
    const now = this.now();
    const merged = new Map<string, Merged>();
    for (const entry of entries) {
      const key = JSON.stringify([entry.destinationId, entry.itemKey]);
      const at = entry.failedAt ?? now;
      const earlier = merged.get(key);
      merged.set(
        key,
        earlier === undefined
          ? { ...entry, firstFailedAt: at, lastFailedAt: at }
          : {
              ...entry,
              attempts: earlier.attempts + entry.attempts,
              firstFailedAt: at < earlier.firstFailedAt ? at : earlier.firstFailedAt,
              lastFailedAt: at > earlier.lastFailedAt ? at : earlier.lastFailedAt,
            },
      );
    }
    const rows = [...merged.values()].map((entry) => {
      const sealed = this.vault.encrypt(
        JSON.stringify(entry.item ?? null),
        deadLetterContext(entry.destinationId, entry.itemKey),
      );
      return [
        entry.brand,
        entry.destinationId,
        entry.operation,
        entry.itemKey,
        sealed.ciphertext,
        sealed.keyId,
        entry.sourceId ?? null,
        entry.eventSource ?? null,
        entry.eventId ?? null,
        entry.customerId ?? null,
        entry.errorClass,
        clearText(entry.error),
        entry.espAnswer === undefined ? null : clearText(entry.espAnswer),
        entry.attempts,
        entry.firstFailedAt.toISOString(),
        entry.lastFailedAt.toISOString(),
      ];
    });
    const written = await insertRows<{ id: number; destination_id: string; item_key: string }>(
      executor ?? this.store,
      'dead_letters',
      COLUMNS,
      rows,
      {
        columnTypes: COLUMN_TYPES,
        onConflict: `ON CONFLICT (destination_id, item_key) WHERE replayed_at IS NULL DO UPDATE SET
          brand = EXCLUDED.brand, operation = EXCLUDED.operation,
          item_ciphertext = EXCLUDED.item_ciphertext, item_ciphertext_key_id = EXCLUDED.item_ciphertext_key_id,
          source_id = EXCLUDED.source_id, event_source = EXCLUDED.event_source, event_id = EXCLUDED.event_id,
          customer_id = EXCLUDED.customer_id, error_class = EXCLUDED.error_class, error = EXCLUDED.error,
          esp_answer = EXCLUDED.esp_answer, attempts = dead_letters.attempts + EXCLUDED.attempts,
          first_failed_at = least(dead_letters.first_failed_at, EXCLUDED.first_failed_at),
          last_failed_at = greatest(dead_letters.last_failed_at, EXCLUDED.last_failed_at)`,
        returning: 'id, destination_id, item_key',
      },
    );
    const idOf = new Map(written.map((row) => [JSON.stringify([row.destination_id, row.item_key]), row.id]));
    return entries.map((entry) => {
      const id = idOf.get(JSON.stringify([entry.destinationId, entry.itemKey]));
      // ON CONFLICT … DO UPDATE returns every row it touched: a missing one is a bug, not a state.
      if (id === undefined) throw new Error(`DeadLetterBox.add: no id returned for item ${entry.itemKey}`);
      return id;
    });
  }

  /** Letters oldest first, without their items. */
  async list(filter: DeadLetterFilter): Promise<DeadLetterView[]> {
    const { conditions, params } = filterConditions(filter);
    params.push(pageSize(filter.limit, MAX_PAGE));
    const rows = await this.store.query<ViewRow>(
      `SELECT ${VIEW_COLUMNS.join(', ')} FROM dead_letters ${whereClause(conditions)}
        ORDER BY id LIMIT $${params.length}`,
      params,
    );
    return rows.map(toView);
  }

  /**
   * Discards waiting letters (they will never be sent): closed in one statement, with who and why. Returns the
   * ids discarded; ids not waiting (replayed or discarded before, or unknown) are left as they are.
   */
  async discard(
    ids: readonly number[],
    by: { actor: string; reason: string },
    executor: SqlExecutor = this.store,
  ): Promise<number[]> {
    if (ids.length === 0) return [];
    const rows = await executor.query<{ id: number }>(
      `UPDATE dead_letters SET replayed_at = $2, discarded_at = $2, discarded_by = $3, discard_reason = $4
        WHERE id = ANY ($1::bigint[]) AND replayed_at IS NULL RETURNING id`,
      [[...new Set(ids)], new Date(), by.actor, by.reason],
    );
    return rows.map((row) => Number(row.id)).sort((a, b) => a - b);
  }

  /** One letter, waiting or replayed, without its item; undefined when there is none with this id. */
  async get(id: number): Promise<DeadLetterView | undefined> {
    const [row] = await this.store.query<ViewRow>(
      `SELECT ${VIEW_COLUMNS.join(', ')} FROM dead_letters WHERE id = $1`,
      [id],
    );
    return row === undefined ? undefined : toView(row);
  }

  async count(filter: DeadLetterCountFilter = {}): Promise<number> {
    const { conditions, params } = filterConditions({ ...filter, afterId: undefined });
    const [row] = await this.store.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM dead_letters ${whereClause(conditions)}`,
      params,
    );
    return row?.n ?? 0;
  }

  /**
   * Waiting letters per destination (the dead-letter size metric), or those matching `filter`; destinations
   * with none are absent.
   */
  async countByDestination(filter: DeadLetterCountFilter = {}): Promise<Map<string, number>> {
    const { conditions, params } = filterConditions({ ...filter, afterId: undefined });
    const rows = await this.store.query<{ destination_id: string; n: number }>(
      `SELECT destination_id, count(*)::int AS n FROM dead_letters ${whereClause(conditions)}
        GROUP BY destination_id ORDER BY destination_id`,
      params,
    );
    return new Map(rows.map((row) => [row.destination_id, row.n]));
  }

  /**
   * Takes waiting letters for replay, oldest first, with their items decrypted: marks them replayed
   * (replayed_at, replay_count + 1) in the same UPDATE that returns them. Rows another replay is taking are
   * skipped (FOR UPDATE SKIP LOCKED), so two replays at once never take the same letter. If the replay then
   * fails, `add` the item again: it becomes a new waiting letter.
   */
  async takeForReplay(filter: ReplayFilter): Promise<DeadLetterForReplay[]> {
    const limit = pageSize(filter.limit, MAX_PAGE);
    const { conditions, params } = replayConditions(filter);
    params.push(limit, this.now());
    const returning = [...VIEW_COLUMNS, 'item_ciphertext', 'item_ciphertext_key_id']
      .map((column) => `d.${column}`)
      .join(', ');
    // In a transaction: a letter whose item cannot be opened is not left marked replayed.
    const rows = await this.store.transaction((tx) =>
      tx
        .query<ReplayRow>(
          `UPDATE dead_letters AS d SET replayed_at = $${params.length}, replay_count = d.replay_count + 1
           FROM (SELECT id FROM dead_letters ${whereClause(conditions)}
                  ORDER BY id LIMIT $${params.length - 1} FOR UPDATE SKIP LOCKED) AS taken
          WHERE d.id = taken.id AND d.replayed_at IS NULL
         RETURNING ${returning}`,
          params,
        )
        .then((taken) => taken.map((row) => ({ row, item: this.openItem(row) }))),
    );
    return rows.map(({ row, item }) => ({ ...toView(row), item })).sort((a, b) => a.id - b.id);
  }

  /**
   * Waiting letters a replay filter matches whose destination is not among `destinationIds`, per destination
   * (absent: none): what a process running only those destinations leaves for another to replay.
   */
  async waitingOutside(
    filter: Omit<ReplayFilter, 'limit'>,
    destinationIds: readonly string[],
  ): Promise<Map<string, number>> {
    const { conditions, params } = replayConditions(filter);
    params.push([...destinationIds]);
    conditions.push(`NOT (destination_id = ANY($${params.length}::text[]))`);
    const rows = await this.store.query<{ destination_id: string; n: number }>(
      `SELECT destination_id, count(*)::int AS n FROM dead_letters ${whereClause(conditions)}
        GROUP BY destination_id ORDER BY destination_id`,
      params,
    );
    return new Map(rows.map((row) => [row.destination_id, row.n]));
  }

  /**
   * Erasure: deletes every letter (waiting, replayed or discarded) of these customers or of these events: the
   * sealed item holds their contact points. Returns how many.
   */
  async forget(filter: {
    customerIds: readonly string[];
    events?: readonly EventKeyColumns[];
  }): Promise<number> {
    return deleteForSubject(this.store, 'dead_letters', filter);
  }

  /**
   * Closes letters a replay took but did not send (their person was erased or their contact point suppressed
   * since): marked discarded by `actor`, with the reason. Returns the ids closed.
   */
  async closeUnsent(ids: readonly number[], by: { actor: string; reason: string }): Promise<number[]> {
    if (ids.length === 0) return [];
    const rows = await this.store.query<{ id: number }>(
      `UPDATE dead_letters SET discarded_at = $2, discarded_by = $3, discard_reason = $4
        WHERE id = ANY ($1::bigint[]) AND discarded_at IS NULL RETURNING id`,
      [[...new Set(ids)], this.now(), by.actor, by.reason],
    );
    return rows.map((row) => Number(row.id)).sort((a, b) => a - b);
  }

  private openItem(row: ReplayRow): unknown {
    return JSON.parse(
      this.vault.decrypt(
        { ciphertext: row.item_ciphertext, keyId: row.item_ciphertext_key_id },
        deadLetterContext(row.destination_id, row.item_key),
      ),
    ) as unknown;
  }
}
