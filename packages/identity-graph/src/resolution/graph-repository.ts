import { createHash } from 'node:crypto';
import type { EncryptedValue, PiiVault, SqlExecutor } from '@tessera/store';
import type { IdentifierType, IdentityGraphConfig, NormalizedIdentifier } from '../identifiers';
import { BoundedMemo } from '../bounded-memo';
import { identifierKey, type EdgeKind, type GraphEdge, type GraphNode } from './component-solver';

/** A stored identifier, as the graph reads it. */
export interface IdentifierRow extends GraphNode {
  customerId: string;
  lastSeenAt: Date;
  quarantinedReason: string | null;
  encrypted: EncryptedValue | null;
  /** Created by the statement that returned it. */
  isNew: boolean;
  /** Its first-seen time moved earlier in the statement that returned it (the canonical id may change). */
  firstSeenMoved?: boolean;
}

interface IdentifierDbRow {
  id: number;
  type: IdentifierType;
  scope: string;
  lookup_key: string;
  value_ciphertext: string | null;
  value_key_id: string | null;
  is_anchor: boolean;
  priority: number;
  first_seen_at: Date;
  last_seen_at: Date;
  own_customer_id: string;
  customer_id: string;
  quarantined_reason: string | null;
  retired_into?: string | null;
  inserted?: boolean;
}

const IDENTIFIER_COLUMNS =
  'id, type, scope, lookup_key, value_ciphertext, value_key_id, is_anchor, priority, first_seen_at, last_seen_at, own_customer_id, customer_id, quarantined_reason, retired_into';

const RESOLUTION_COLUMNS =
  'id, type, scope, lookup_key, NULL AS value_ciphertext, NULL AS value_key_id, is_anchor, priority, first_seen_at, last_seen_at, own_customer_id, customer_id, quarantined_reason, retired_into';

/**
 * Runs `select` (which refers to the key as `k.key`) once per element of the array parameter $1, as an
 * index probe each: a plain `= ANY($1)` lets the planner pick a full scan while a table is young, and
 * OFFSET 0 keeps the subquery from being flattened into a join it could scan for again.
 */
export const probeEach = (keyType: string, select: string): string =>
  `SELECT p.* FROM unnest($1::${keyType}[]) AS k(key) CROSS JOIN LATERAL (${select} OFFSET 0) AS p`;

const toIdentifier = (row: IdentifierDbRow): IdentifierRow => ({
  id: row.id,
  type: row.type,
  scope: row.scope,
  key: row.lookup_key,
  // A customer id the platform retired into another names no profile of its own any more.
  anchor: row.is_anchor && (row.retired_into ?? null) === null,
  retired: (row.retired_into ?? null) !== null,
  priority: row.priority,
  firstSeenAt: row.first_seen_at,
  lastSeenAt: row.last_seen_at,
  ownCustomerId: row.own_customer_id,
  customerId: row.customer_id,
  quarantinedReason: row.quarantined_reason,
  encrypted:
    row.value_ciphertext === null
      ? null
      : { ciphertext: row.value_ciphertext, keyId: row.value_key_id ?? '' },
  isNew: row.inserted === true,
});

/** The column an identifier's sealed value is bound to (authenticated as AES-GCM associated data). */
export const identifierContext = (type: IdentifierType) => `identity_identifiers.${type}`;

/** Marks an erased identifier's blind-index lookup key (no live value has this form: see `tombstoneKey`). */
export const TOMBSTONE_KEY_PREFIX = 'erased:';

/** How identifiers are keyed: PII by blind index, everything else by its normalized value. */
export class IdentifierKeys {
  constructor(
    private readonly vault: PiiVault,
    private readonly config: IdentityGraphConfig,
  ) {}

  // Blind indexes are HMACs; a batch asks for the same identifier's key several times, and busy members
  // recur across batches, so computed keys are remembered, within a bound.
  private readonly lookupKeys = new BoundedMemo<string>(100_000);

  lookupKey(identifier: Pick<NormalizedIdentifier, 'type' | 'value'>): string {
    if (!this.config.types[identifier.type].pii) return identifier.value;
    return this.lookupKeys.get(`${identifier.type}\u0000${identifier.value}`, () =>
      this.vault.blindIndex(identifier.type, identifier.value),
    );
  }

  /**
   * The lookup key an erased identifier keeps when its live key is its value (customer ids, member ids, cards,
   * devices): a keyed blind index, so the tombstone recognises the value coming back without holding it. PII
   * types are keyed by blind index already: undefined.
   */
  tombstoneKey(type: IdentifierType, lookupKey: string): string | undefined {
    if (this.config.types[type].pii) return undefined;
    return `${TOMBSTONE_KEY_PREFIX}${this.vault.blindIndex(`${type}#erased`, lookupKey)}`;
  }

  /** The customer id a profile takes when this identifier is canonical: a group customer id is its own. */
  ownCustomerId(identifier: NormalizedIdentifier): string {
    if (identifier.type === 'customer_id') return identifier.value;
    const digest = this.vault.blindIndex(
      'customer-id',
      `${identifier.type}|${identifier.scope}|${identifier.value}`,
    );
    return `cus_${digest.slice(0, 26)}`;
  }

  /** The blind index of a SHA-256 of the normalized value, as migration files carry identifiers. */
  hashedLookupKey(type: NormalizedIdentifier['type'], sha256Hex: string): string {
    return this.vault.blindIndex(`${type}#sha256`, sha256Hex.toLowerCase());
  }

  key(identifier: NormalizedIdentifier): string {
    return identifierKey(identifier.type, identifier.scope, this.lookupKey(identifier));
  }

  // A known member's identifiers recur batch after batch, yet only a new identifier's row keeps its sealed
  // value: the seal and the hashed key are remembered as well. Reusing a ciphertext for the same value reveals
  // only equality, which the blind index reveals anyway.
  private readonly stored = new BoundedMemo<StoredIdentifierValue>(50_000);

  /** The identifier's hashed lookup key and, for PII, its sealed value, as its row stores them. */
  storedValue(identifier: Pick<NormalizedIdentifier, 'type' | 'value'>): StoredIdentifierValue {
    return this.stored.get(`${identifier.type}\u0000${identifier.value}`, () => ({
      hashedLookupKey: this.hashedLookupKey(
        identifier.type,
        createHash('sha256').update(identifier.value).digest('hex'),
      ),
      sealed: this.config.types[identifier.type].pii
        ? this.vault.encrypt(identifier.value, identifierContext(identifier.type))
        : null,
    }));
  }
}

export interface StoredIdentifierValue {
  hashedLookupKey: string;
  sealed: { ciphertext: string; keyId: string } | null;
}

export interface IdentifierSighting {
  identifier: NormalizedIdentifier;
  seenAt: Date;
  /**
   * The customer id a new identifier most likely ends up with (its record's strongest identifier's own id):
   * when the recompute agrees, as it usually does, the row needs no second write.
   */
  provisionalCustomerId?: string;
}

/**
 * The identifier rows of a batch, one per distinct identifier with its earliest and latest sighting: blind
 * indexes computed and PII sealed. Pure CPU work, done before the graph's write lock is taken.
 */
export function prepareIdentifierRows(
  sightings: IdentifierSighting[],
  keys: IdentifierKeys,
  config: IdentityGraphConfig,
): unknown[][] {
  const byKey = new Map<
    string,
    { identifier: NormalizedIdentifier; first: Date; last: Date; provisional?: string }
  >();
  for (const { identifier, seenAt, provisionalCustomerId } of sightings) {
    const key = keys.key(identifier);
    const known = byKey.get(key);
    if (known === undefined)
      byKey.set(key, { identifier, first: seenAt, last: seenAt, provisional: provisionalCustomerId });
    else {
      if (seenAt < known.first) known.first = seenAt;
      if (seenAt > known.last) known.last = seenAt;
    }
  }
  return [...byKey.values()].map(({ identifier, first, last, provisional }) => {
    const typeConfig = config.types[identifier.type];
    const { hashedLookupKey, sealed } = keys.storedValue(identifier);
    const own = keys.ownCustomerId(identifier);
    return [
      identifier.type,
      identifier.scope,
      keys.lookupKey(identifier),
      hashedLookupKey,
      sealed?.ciphertext ?? null,
      sealed?.keyId ?? null,
      typeConfig.anchor,
      typeConfig.priority,
      first,
      last,
      own,
      provisional ?? own,
    ];
  });
}

const IDENTIFIER_INPUT_COLUMNS = [
  'type',
  'scope',
  'lookup_key',
  'hashed_lookup_key',
  'value_ciphertext',
  'value_key_id',
  'is_anchor',
  'priority',
  'first_seen_at',
  'last_seen_at',
  'own_customer_id',
  'customer_id',
];
const IDENTIFIER_INPUT_TYPES = [
  'text',
  'text',
  'text',
  'text',
  'text',
  'text',
  'boolean',
  'integer',
  'timestamptz',
  'timestamptz',
  'text',
  'text',
];

// Last-seen is kept to the day: rewriting a known identifier's row at every event would turn each sighting
// of a known member into a write (a new row version and its index entries).
const LAST_SEEN_RESOLUTION_MS = 86_400_000;

/**
 * Reads a batch's known identifiers, inserts the new ones and moves seen-times where needed: one query to
 * read (index probes on the blind index), one insert when something is new, one update when a first-seen
 * moved earlier (which can change a profile's canonical id; flagged `firstSeenMoved`) or a last-seen moved
 * on by a day. A batch of known members seen recently writes nothing.
 */
export async function upsertIdentifiers(
  tx: SqlExecutor,
  rows: unknown[][],
  keys?: Pick<IdentifierKeys, 'tombstoneKey'>,
): Promise<Map<string, IdentifierRow>> {
  const keyOf = (type: unknown, scope: unknown, lookupKey: unknown) =>
    identifierKey(String(type), String(scope), String(lookupKey));
  const result = new Map<string, IdentifierRow>();
  const stored = await tx.query<IdentifierDbRow>(
    probeEach('text', `SELECT ${RESOLUTION_COLUMNS} FROM identity_identifiers WHERE lookup_key = k.key`),
    [[...new Set(rows.map((row) => row[2]))]],
  );
  const known = new Map(stored.map((row) => [keyOf(row.type, row.scope, row.lookup_key), row]));
  if (keys !== undefined) await findTombstones(tx, rows, known, keys, keyOf);
  const fresh: unknown[][] = [];
  const moved: Array<{ id: number; first: Date; last: Date }> = [];
  for (const row of rows) {
    const key = keyOf(row[0], row[1], row[2]);
    const existing = known.get(key);
    if (existing === undefined) {
      fresh.push(row);
      continue;
    }
    const [first, last] = [row[8] as Date, row[9] as Date];
    const firstSeenMoved = first < existing.first_seen_at;
    if (firstSeenMoved || last.getTime() > existing.last_seen_at.getTime() + LAST_SEEN_RESOLUTION_MS) {
      moved.push({
        id: existing.id,
        first: firstSeenMoved ? first : existing.first_seen_at,
        last: last > existing.last_seen_at ? last : existing.last_seen_at,
      });
    }
    result.set(key, {
      ...toIdentifier(existing),
      firstSeenAt: firstSeenMoved ? first : existing.first_seen_at,
      firstSeenMoved,
    });
  }
  if (moved.length > 0) {
    await tx.query(
      `UPDATE identity_identifiers AS i SET first_seen_at = v.first, last_seen_at = v.last
         FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[]) AS v(id, first, last)
        WHERE i.id = v.id`,
      [moved.map((entry) => entry.id), moved.map((entry) => entry.first), moved.map((entry) => entry.last)],
    );
  }
  if (fresh.length > 0) {
    // ON CONFLICT only guards against a writer outside the graph's lock; under it every row here is new.
    const inserted = await tx.query<IdentifierDbRow>(
      `INSERT INTO identity_identifiers (${IDENTIFIER_INPUT_COLUMNS.join(', ')})
       SELECT * FROM unnest(${IDENTIFIER_INPUT_TYPES.map((type, index) => `$${index + 1}::${type}[]`).join(', ')})
       ON CONFLICT (type, scope, lookup_key) DO UPDATE SET
         first_seen_at = LEAST(identity_identifiers.first_seen_at, EXCLUDED.first_seen_at),
         last_seen_at = GREATEST(identity_identifiers.last_seen_at, EXCLUDED.last_seen_at)
       RETURNING ${RESOLUTION_COLUMNS}, (xmax = 0) AS inserted`,
      IDENTIFIER_INPUT_COLUMNS.map((_, index) => fresh.map((row) => row[index])),
    );
    for (const row of inserted) result.set(keyOf(row.type, row.scope, row.lookup_key), toIdentifier(row));
  }
  return result;
}

/**
 * An identifier not found by its value may be an erased one, kept under its tombstone key: asked only for the
 * batch's unknown values of types keyed in clear (new member ids are rare once members are known), and filed
 * under the value's key so the batch treats the tombstone as the identifier it met.
 */
async function findTombstones(
  tx: SqlExecutor,
  rows: unknown[][],
  known: Map<string, IdentifierDbRow>,
  keys: Pick<IdentifierKeys, 'tombstoneKey'>,
  keyOf: (type: unknown, scope: unknown, lookupKey: unknown) => string,
): Promise<void> {
  const wanted = new Map<string, string>();
  const lookupKeys = new Set<string>();
  for (const row of rows) {
    const key = keyOf(row[0], row[1], row[2]);
    if (known.has(key)) continue;
    const tombstone = keys.tombstoneKey(row[0] as IdentifierType, String(row[2]));
    if (tombstone === undefined) continue;
    wanted.set(keyOf(row[0], row[1], tombstone), key);
    lookupKeys.add(tombstone);
  }
  if (wanted.size === 0) return;
  const tombstones = await tx.query<IdentifierDbRow>(
    probeEach('text', `SELECT ${RESOLUTION_COLUMNS} FROM identity_identifiers WHERE lookup_key = k.key`),
    [[...lookupKeys]],
  );
  for (const row of tombstones) {
    const key = wanted.get(keyOf(row.type, row.scope, row.lookup_key));
    if (key !== undefined) known.set(key, row);
  }
}

export async function identifiersOfCustomers(
  tx: SqlExecutor,
  customerIds: string[],
): Promise<IdentifierRow[]> {
  if (customerIds.length === 0) return [];
  const rows = await tx.query<IdentifierDbRow>(
    probeEach('text', `SELECT ${IDENTIFIER_COLUMNS} FROM identity_identifiers WHERE customer_id = k.key`),
    [customerIds],
  );
  return rows.map(toIdentifier);
}

export async function identifiersByIds(tx: SqlExecutor, ids: number[]): Promise<IdentifierRow[]> {
  if (ids.length === 0) return [];
  const rows = await tx.query<IdentifierDbRow>(
    probeEach('bigint', `SELECT ${IDENTIFIER_COLUMNS} FROM identity_identifiers WHERE id = k.key`),
    [ids],
  );
  return rows.map(toIdentifier);
}

export async function identifierByKey(
  tx: SqlExecutor,
  type: IdentifierType,
  scope: string,
  lookupKey: string,
): Promise<IdentifierRow | undefined> {
  const [row] = await tx.query<IdentifierDbRow>(
    `SELECT ${IDENTIFIER_COLUMNS} FROM identity_identifiers WHERE type = $1 AND scope = $2 AND lookup_key = $3`,
    [type, scope, lookupKey],
  );
  return row === undefined ? undefined : toIdentifier(row);
}

export interface EdgeRow extends GraphEdge {
  batchId: string | null;
}

export async function activeEdgesTouching(tx: SqlExecutor, identifierIds: number[]): Promise<EdgeRow[]> {
  if (identifierIds.length === 0) return [];
  const rows = await tx.query<{
    id: number;
    low_identifier: number;
    high_identifier: number;
    kind: EdgeKind;
    event_time: Date;
    batch_id: string | null;
  }>(
    `${probeEach(
      'bigint',
      `SELECT id, low_identifier, high_identifier, kind, event_time, batch_id FROM identity_edges
        WHERE retracted_at IS NULL AND low_identifier = k.key`,
    )}
     UNION
     ${probeEach(
       'bigint',
       `SELECT id, low_identifier, high_identifier, kind, event_time, batch_id FROM identity_edges
         WHERE retracted_at IS NULL AND high_identifier = k.key`,
     )}`,
    [identifierIds],
  );
  return rows.map((row) => ({
    id: row.id,
    low: row.low_identifier,
    high: row.high_identifier,
    kind: row.kind,
    eventTime: row.event_time,
    batchId: row.batch_id,
  }));
}

export async function blockedPairsTouching(
  tx: SqlExecutor,
  identifierIds: number[],
): Promise<Array<[number, number]>> {
  if (identifierIds.length === 0) return [];
  const rows = await tx.query<{ low_identifier: number; high_identifier: number }>(
    `SELECT low_identifier, high_identifier FROM identity_blocked_pairs
      WHERE low_identifier = ANY($1::bigint[]) OR high_identifier = ANY($1::bigint[])`,
    [identifierIds],
  );
  return rows.map((row) => [row.low_identifier, row.high_identifier]);
}

export interface NewEdge {
  a: number;
  b: number;
  kind: EdgeKind;
  eventTime: Date;
  eventSource?: string | null;
  eventId?: string | null;
  score?: number | null;
  modelVersion?: string | null;
  batchId?: string | null;
  actor?: string | null;
  consentReference?: string | null;
}

const EDGE_COLUMNS = [
  'low_identifier',
  'high_identifier',
  'kind',
  'event_time',
  'event_source',
  'event_id',
  'score',
  'model_version',
  'batch_id',
  'actor',
  'consent_reference',
];
const EDGE_TYPES = [
  'bigint',
  'bigint',
  'text',
  'timestamptz',
  'text',
  'text',
  'float8',
  'text',
  'text',
  'text',
  'text',
];

/**
 * Appends edges in one statement: one row per identifier pair (a known pair only moves its event time
 * earlier), and never a pair that is blocked (the check is part of the statement). Returns the ids of the
 * edges written or moved earlier, by pair.
 */
export async function appendEdges(tx: SqlExecutor, edges: NewEdge[]): Promise<Map<string, number>> {
  const byPair = new Map<string, NewEdge & { low: number; high: number }>();
  for (const edge of edges) {
    if (edge.a === edge.b) continue;
    const [low, high] = edge.a < edge.b ? [edge.a, edge.b] : [edge.b, edge.a];
    const pair = `${low}:${high}`;
    const known = byPair.get(pair);
    if (known === undefined || edge.eventTime < known.eventTime) byPair.set(pair, { ...edge, low, high });
  }
  if (byPair.size === 0) return new Map();
  const rows = [...byPair.values()].map((edge) => [
    edge.low,
    edge.high,
    edge.kind,
    edge.eventTime,
    edge.eventSource ?? null,
    edge.eventId ?? null,
    edge.score ?? null,
    edge.modelVersion ?? null,
    edge.batchId ?? null,
    edge.actor ?? null,
    edge.consentReference ?? null,
  ]);
  const written = await tx.query<{ id: number; low_identifier: number; high_identifier: number }>(
    `INSERT INTO identity_edges (${EDGE_COLUMNS.join(', ')})
     SELECT * FROM unnest(${EDGE_TYPES.map((type, index) => `$${index + 1}::${type}[]`).join(', ')})
         AS u(${EDGE_COLUMNS.join(', ')})
      WHERE NOT EXISTS (SELECT 1 FROM identity_blocked_pairs b
                         WHERE b.low_identifier = u.low_identifier AND b.high_identifier = u.high_identifier)
     ON CONFLICT (low_identifier, high_identifier) WHERE retracted_at IS NULL DO UPDATE
       SET event_time = EXCLUDED.event_time WHERE EXCLUDED.event_time < identity_edges.event_time
     RETURNING id, low_identifier, high_identifier`,
    EDGE_COLUMNS.map((_, index) => rows.map((row) => row[index])),
  );
  return new Map(written.map((row) => [`${row.low_identifier}:${row.high_identifier}`, row.id]));
}

/** The profiles these identifiers belong to now. */
export async function profilesOfIdentifiers(tx: SqlExecutor, identifierIds: number[]): Promise<string[]> {
  if (identifierIds.length === 0) return [];
  const rows = await tx.query<{ customer_id: string }>(
    'SELECT DISTINCT customer_id FROM identity_identifiers WHERE id = ANY($1::bigint[])',
    [[...new Set(identifierIds)]],
  );
  return rows.map((row) => row.customer_id);
}

/**
 * Stamps active edges retracted (the log keeps them), chosen by id or by bulk batch; returns what was
 * retracted, endpoints included, for the recompute that follows.
 */
export async function retractEdges(
  tx: SqlExecutor,
  which: { edgeIds: number[] } | { batchId: string },
  reason: string,
): Promise<Array<{ id: number; low_identifier: number; high_identifier: number }>> {
  const [condition, parameter] =
    'edgeIds' in which ? ['id = ANY($1::bigint[])', which.edgeIds] : ['batch_id = $1', which.batchId];
  return tx.query(
    `UPDATE identity_edges SET retracted_at = now(), retraction_reason = $2
      WHERE ${condition} AND retracted_at IS NULL
      RETURNING id, low_identifier, high_identifier`,
    [parameter, reason],
  );
}

/** Records identifier pairs that must never be joined again (any order; a known pair stays as it was). */
export async function blockPairs(
  tx: SqlExecutor,
  pairs: Array<[number, number]>,
  reason: string,
  actor: string,
): Promise<void> {
  if (pairs.length === 0) return;
  const ordered = pairs.map(([a, b]) => (a < b ? [a, b] : [b, a]));
  await tx.query(
    `INSERT INTO identity_blocked_pairs (low_identifier, high_identifier, reason, actor)
     SELECT low, high, $3, $4 FROM unnest($1::bigint[], $2::bigint[]) AS p(low, high)
     ON CONFLICT DO NOTHING`,
    [ordered.map(([low]) => low), ordered.map(([, high]) => high), reason, actor],
  );
}
