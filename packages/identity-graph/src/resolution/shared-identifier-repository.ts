import type { PiiVault, SqlExecutor } from '@tessera/store';
import { identifierLabel, type IdentifierType } from '../identifiers';
import { ERASED_REASON } from '../erasure/profile-erasure';
import { identifierContext } from './graph-repository';

/**
 * A contact point two members share (a family email): seen with a member anchored by a different id of one
 * kind than the profile that holds it (two member ids of one brand, two customer ids), it stays with that
 * profile and links nothing to this one.
 */
export interface SharedIdentifierCase {
  identifierId: number;
  /** The profile it would have joined (the second member's). */
  customerId: string;
  /** The profile that holds it. */
  heldBy: string;
  /** The anchor kind the two members conflict on: `member.sports-direct`, `customer_id`. */
  anchor: string;
  eventTime: Date;
  eventId: string | null;
}

/** What a reader is told of a shared contact point: why it links nothing. */
export const sharedReason = (anchor: string): string =>
  `shared by two members anchored by ${anchor}: links nothing`;

/** A shared contact point as the profile API and the console list it; the value masked without `revealPii`. */
export interface SharedIdentifierView {
  id: number;
  identifierId: number;
  type: IdentifierType;
  label: string;
  value: string;
  /** The identifier's blind index (no PII). */
  subjectKey: string;
  /** The profile it links nothing to. */
  customerId: string;
  /** The profile that holds it now. */
  heldBy: string;
  anchor: string;
  reason: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
  /** Events that carried it with this member (a replay of the last one is not counted again). */
  count: number;
}

/** How an email or phone is shown to a reader without `pii.read`. */
export const maskIdentifierValue = (type: IdentifierType, value: string): string =>
  type === 'email' ? value.replace(/^(.).*(@.*)$/, '$1***$2') : `${value.slice(0, 3)}***${value.slice(-2)}`;

/**
 * Records each case, one row per identifier and profile whatever the number of events: a sighting moves its
 * first/last seen and counts once per event id (a replay of the last event counts nothing).
 */
export async function recordSharedIdentifiers(tx: SqlExecutor, cases: SharedIdentifierCase[]): Promise<void> {
  if (cases.length === 0) return;
  // One row per pair in the statement (an upsert may not touch a row twice).
  const byPair = new Map<string, SharedIdentifierCase & { first: Date; events: Set<string | null> }>();
  for (const item of cases) {
    const pair = `${item.identifierId}:${item.customerId}`;
    const known = byPair.get(pair);
    if (known === undefined) {
      byPair.set(pair, { ...item, first: item.eventTime, events: new Set([item.eventId]) });
      continue;
    }
    known.events.add(item.eventId);
    if (item.eventTime < known.first) known.first = item.eventTime;
    if (item.eventTime >= known.eventTime) Object.assign(known, { ...item, first: known.first });
  }
  const rows = [...byPair.values()];
  await tx.query(
    `INSERT INTO identity_shared_identifiers AS s
            (identifier_id, customer_id, held_by, anchor, reason, first_seen_at, last_seen_at, seen_count,
             last_event_id)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                          $7::timestamptz[], $8::integer[], $9::text[])
     ON CONFLICT (identifier_id, customer_id) DO UPDATE
       SET held_by = EXCLUDED.held_by, anchor = EXCLUDED.anchor, reason = EXCLUDED.reason,
           first_seen_at = LEAST(s.first_seen_at, EXCLUDED.first_seen_at),
           last_seen_at = GREATEST(s.last_seen_at, EXCLUDED.last_seen_at),
           seen_count = s.seen_count + EXCLUDED.seen_count
             - CASE WHEN EXCLUDED.last_event_id = s.last_event_id THEN 1 ELSE 0 END,
           last_event_id = COALESCE(EXCLUDED.last_event_id, s.last_event_id)`,
    [
      rows.map((row) => row.identifierId),
      rows.map((row) => row.customerId),
      rows.map((row) => row.heldBy),
      rows.map((row) => row.anchor),
      rows.map((row) => sharedReason(row.anchor)),
      rows.map((row) => row.first),
      rows.map((row) => row.eventTime),
      rows.map((row) => row.events.size),
      rows.map((row) => row.eventId),
    ],
  );
}

interface SharedDbRow {
  id: number;
  identifier_id: number;
  type: IdentifierType;
  scope: string;
  lookup_key: string;
  value_ciphertext: string | null;
  value_key_id: string | null;
  customer_id: string;
  held_by: string;
  anchor: string;
  reason: string;
  first_seen_at: Date;
  last_seen_at: Date;
  seen_count: number;
}

// Only cases that still hold: the identifier is still apart from the profile, and no erased person's.
const SHARED_SELECT = `SELECT s.id, s.identifier_id, i.type, i.scope, i.lookup_key, i.value_ciphertext,
       i.value_key_id, s.customer_id, i.customer_id AS held_by, s.anchor, s.reason, s.first_seen_at,
       s.last_seen_at, s.seen_count
  FROM identity_shared_identifiers s JOIN identity_identifiers i ON i.id = s.identifier_id
 WHERE i.customer_id <> s.customer_id AND i.quarantined_reason IS DISTINCT FROM '${ERASED_REASON}'`;

/** The shared contact points that link nothing to these profiles. */
export async function sharedIdentifiersOf(
  executor: SqlExecutor,
  customerIds: string[],
  view: ViewOptions,
): Promise<SharedIdentifierView[]> {
  if (customerIds.length === 0) return [];
  const rows = await executor.query<SharedDbRow>(
    `${SHARED_SELECT} AND s.customer_id = ANY($1::text[]) ORDER BY s.id`,
    [customerIds],
  );
  return rows.map((row) => toView(row, view));
}

/** Every case that still holds, oldest first, a page at a time: ids after `after`, at most `limit`. */
export async function listSharedIdentifiers(
  executor: SqlExecutor,
  page: { limit: number; after?: number },
  view: ViewOptions,
): Promise<{ sharedIdentifiers: SharedIdentifierView[]; nextAfter: number | null }> {
  const rows = await executor.query<SharedDbRow>(`${SHARED_SELECT} AND s.id > $1 ORDER BY s.id LIMIT $2`, [
    page.after ?? 0,
    page.limit + 1,
  ]);
  const shown = rows.slice(0, page.limit);
  return {
    sharedIdentifiers: shown.map((row) => toView(row, view)),
    nextAfter: rows.length > page.limit ? Number(shown[shown.length - 1].id) : null,
  };
}

interface ViewOptions {
  vault: PiiVault;
  revealPii?: boolean;
}

function toView(row: SharedDbRow, { vault, revealPii }: ViewOptions): SharedIdentifierView {
  const clear =
    row.value_ciphertext === null
      ? row.lookup_key
      : vault.decrypt(
          { ciphertext: row.value_ciphertext, keyId: row.value_key_id ?? '' },
          identifierContext(row.type),
        );
  return {
    id: Number(row.id),
    identifierId: Number(row.identifier_id),
    type: row.type,
    label: identifierLabel(row),
    value: row.value_ciphertext === null || revealPii === true ? clear : maskIdentifierValue(row.type, clear),
    subjectKey: row.lookup_key,
    customerId: row.customer_id,
    heldBy: row.held_by,
    anchor: row.anchor,
    reason: row.reason,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    count: Number(row.seen_count),
  };
}

/** A record's identifier left out of its profile because another profile holds it. */
export interface ApartIdentifier {
  node: { id: number; anchor: boolean; quarantinedReason: string | null };
  customerId: string;
  heldBy: string;
  /** The record's own anchors (in its profile), strongest first. */
  recordAnchors: Array<{ type: IdentifierType; scope: string; key: string }>;
  eventTime: Date;
  eventId: string | null;
  /** Its entry in the record's `dropped`, whose reason names the case once known. */
  dropped?: { reason: string };
}

/**
 * Which of these are shared contact points: a non-anchor value (not quarantined: that has its own mark) held
 * by a profile anchored by a different value of one of the record's anchor kinds. Returns each with the
 * anchor kind they conflict on.
 */
export async function sharedCasesOf(
  executor: SqlExecutor,
  apart: ApartIdentifier[],
): Promise<SharedIdentifierCase[]> {
  const candidates = apart.filter(
    (item) => !item.node.anchor && item.node.quarantinedReason === null && item.recordAnchors.length > 0,
  );
  if (candidates.length === 0) return [];
  const anchors = await executor.query<{
    customer_id: string;
    type: IdentifierType;
    scope: string;
    key: string;
  }>(
    `SELECT customer_id, type, scope, lookup_key AS key FROM identity_identifiers
      WHERE customer_id = ANY($1::text[]) AND is_anchor AND retired_into IS NULL`,
    [[...new Set(candidates.map((item) => item.heldBy))]],
  );
  return candidates.flatMap((item) => {
    const held = anchors.filter((anchor) => anchor.customer_id === item.heldBy);
    const conflict = item.recordAnchors.find((own) =>
      held.some((other) => other.type === own.type && other.scope === own.scope && other.key !== own.key),
    );
    if (conflict === undefined) return [];
    return [
      {
        identifierId: item.node.id,
        customerId: item.customerId,
        heldBy: item.heldBy,
        anchor: identifierLabel(conflict),
        eventTime: item.eventTime,
        eventId: item.eventId,
      },
    ];
  });
}
