import type { PiiVault, SqlExecutor } from '@tessera/store';
import {
  normalizeIdentifiers,
  type DroppedIdentifier,
  type IdentityGraphConfig,
  type NormalizedIdentifier,
  type RawIdentifiers,
} from '../identifiers';
import { ProfileBook } from '../profiles/profile-book';
import type { TraitValues } from '../profiles/profile-traits';
import {
  recomputeComponents,
  type JoinNotice,
  type MergeNotice,
  type RecomputeResult,
  type SplitNotice,
} from './component-recompute';
import {
  appendEdges,
  blockedPairsTouching,
  prepareIdentifierRows,
  upsertIdentifiers,
  type IdentifierKeys,
} from './graph-repository';
import { entryOf } from './entry-of';
import { ERASED_REASON } from '../erasure/profile-erasure';
import {
  recordSharedIdentifiers,
  sharedCasesOf,
  sharedReason,
  type ApartIdentifier,
} from './shared-identifier-repository';

/** One record to resolve: an event's identifiers, when and where it happened, and what it says. */
export interface IdentityRecord {
  brand: string;
  eventTime: Date;
  eventSource?: string;
  eventId?: string;
  identifiers: RawIdentifiers;
  traits?: TraitValues;
  /**
   * The member registering at this time (a consent grant captured then, an account link): identifiers of
   * theirs erased before it come back to life, as new. Without it an erased identifier stays a tombstone.
   */
  registeredAt?: Date;
}

export interface ResolvedRecord {
  /** The profile the record belongs to; null when it carried no usable identifier. */
  customerId: string | null;
  identifiers: NormalizedIdentifier[];
  /** Identifiers left out of this record's profile, with the reason (the event itself is kept). */
  dropped: DroppedIdentifier[];
  /** Every identifier it carried is an erased person's tombstone: it belongs to no profile, on purpose. */
  erased?: boolean;
}

export interface ResolutionResult {
  records: ResolvedRecord[];
  merges: MergeNotice[];
  splits: SplitNotice[];
  /** New identifiers that joined an existing profile through a shared one: in lineage, reversible. */
  joins: JoinNotice[];
}

export interface ResolverDependencies {
  vault: PiiVault;
  keys: IdentifierKeys;
  config: IdentityGraphConfig;
  defaultCountry: (brand: string) => string;
}

/** A batch with its CPU work done: identifiers normalized, keyed and sealed, ready for the database. */
export interface PreparedBatch {
  records: IdentityRecord[];
  normalized: Array<ReturnType<typeof normalizeIdentifiers>>;
  identifierRows: unknown[][];
}

/**
 * Normalizes, keys and seals a batch's identifiers. Pure CPU work that needs neither the database nor the
 * graph's write lock, so a batch can be prepared while the previous one is being written.
 */
export function prepareRecords(records: IdentityRecord[], deps: ResolverDependencies): PreparedBatch {
  const { config, keys } = deps;
  const normalized = records.map((record) =>
    normalizeIdentifiers(
      record.identifiers,
      { defaultCountry: deps.defaultCountry(record.brand), brand: record.brand },
      config,
    ),
  );
  const sightings = normalized.flatMap((result, index) => {
    const provisionalCustomerId =
      result.identifiers.length > 0 ? keys.ownCustomerId(result.identifiers[0]) : undefined;
    return result.identifiers.map((identifier) => ({
      identifier,
      seenAt: records[index].eventTime,
      provisionalCustomerId,
    }));
  });
  return { records, normalized, identifierRows: prepareIdentifierRows(sightings, keys, config) };
}

/**
 * Resolves a prepared batch to customer ids, set-based: the batch's identifiers are upserted in one
 * statement, its edges appended in one, the components around them recomputed from the edge log, and the
 * profiles (traits included) written back in one — a handful of round trips whatever the batch size.
 */
export async function resolvePrepared(
  tx: SqlExecutor,
  batch: PreparedBatch,
  deps: ResolverDependencies,
): Promise<ResolutionResult> {
  const { config, keys, vault } = deps;
  const { records } = batch;
  await reviveRegisteredTombstones(tx, batch, keys);
  const rows = await upsertIdentifiers(tx, batch.identifierRows, keys);
  // An erased person's identifiers (tombstones) take no part: dropped from their record, they link nothing,
  // and a record with nothing else belongs to no profile.
  const rowOf = (identifier: NormalizedIdentifier) => entryOf(rows, keys.key(identifier));
  const normalized = batch.normalized.map((result) => withoutTombstones(result, rowOf));

  // Each record links its identifiers to its strongest one (a star): n − 1 edges, not n².
  const candidateEdges = normalized.flatMap((result, index) => {
    const [strongest, ...others] = result.identifiers;
    if (strongest === undefined) return [];
    const record = records[index];
    return others.map((other) => ({
      a: rowOf(strongest).id,
      b: rowOf(other).id,
      kind: 'event' as const,
      eventTime: record.eventTime,
      eventSource: record.eventSource ?? null,
      eventId: record.eventId ?? null,
    }));
  });
  const written = await appendEdges(tx, candidateEdges);
  // Each written edge's origin: the record that asserted its pair first in event time, as the edge keeps.
  const origins = new Map<
    number,
    { eventSource?: string | null; eventId?: string | null; eventTime: Date }
  >();
  for (const edge of candidateEdges) {
    const [low, high] = edge.a < edge.b ? [edge.a, edge.b] : [edge.b, edge.a];
    const id = written.get(`${low}:${high}`);
    const known = id === undefined ? undefined : origins.get(id);
    if (id !== undefined && (known === undefined || edge.eventTime < known.eventTime)) origins.set(id, edge);
  }

  const book = new ProfileBook(vault);
  const seedNodes = [...rows.values()];
  // Components can only change around new identifiers, new (or earlier) edges and identifiers seen
  // earlier than before; a batch of known members with known links skips the recompute altogether.
  const byId = new Map(seedNodes.map((node) => [node.id, node]));
  const fresh = seedNodes.filter((node) => node.isNew);
  const touched = new Set(
    seedNodes.filter((node) => !node.isNew && node.firstSeenMoved).map((node) => node.customerId),
  );
  for (const pair of written.keys()) {
    for (const id of pair.split(':')) {
      const node = byId.get(Number(id));
      if (node !== undefined && !node.isNew) touched.add(node.customerId);
    }
  }
  const first = records.find((record) => record.eventId !== undefined);
  const customerIdOf = new Map(seedNodes.map((node) => [node.id, node.customerId]));
  let outcome: Pick<RecomputeResult, 'merges' | 'splits' | 'joins' | 'rejected' | 'blocked'> = {
    merges: [],
    splits: [],
    joins: [],
    rejected: new Map(),
    blocked: new Set(),
  };
  if (fresh.length > 0 || touched.size > 0 || written.size > 0) {
    const recomputed = await recomputeComponents(
      tx,
      {
        seedCustomerIds: [...touched],
        seedNodes: fresh,
        newEdges: origins,
        // Each merge names the event whose edge made it; a lone record is the cause of anything else.
        cause: {
          rule: 'deterministic: shared identifier',
          eventSource: records.length === 1 ? first?.eventSource : null,
          eventId: records.length === 1 ? first?.eventId : null,
        },
      },
      book,
      config,
    );
    for (const [id, customerId] of recomputed.customerIdOf) customerIdOf.set(id, customerId);
    outcome = recomputed;
  }
  const recomputed = { ...outcome, customerIdOf };
  const apart = normalized.flatMap((result) =>
    result.identifiers.filter(
      (identifier) =>
        customerIdOf.get(rowOf(identifier).id) !== customerIdOf.get(rowOf(result.identifiers[0]).id),
    ),
  );
  if (apart.length > 0 && fresh.length === 0 && touched.size === 0 && written.size === 0) {
    // Skipped the recompute, yet some identifiers stay apart: say whether a block is why.
    const ids = apart.map((identifier) => rowOf(identifier).id);
    for (const [low, high] of await blockedPairsTouching(tx, ids)) recomputed.blocked.add(`${low}:${high}`);
  }

  const pendingTraits: Array<{ customerId: string; traits: TraitValues; eventTime: Date }> = [];
  const apartFromRecords: ApartIdentifier[] = [];
  const resolved = normalized.map((result, index): ResolvedRecord => {
    const [strongest] = result.identifiers;
    if (strongest === undefined)
      return {
        customerId: null,
        identifiers: [],
        dropped: result.dropped,
        ...(result.erased ? { erased: true } : {}),
      };
    const customerId = entryOf(recomputed.customerIdOf, rowOf(strongest).id);
    const kept: NormalizedIdentifier[] = [];
    const dropped = [...result.dropped];
    const apart: Array<{ identifier: NormalizedIdentifier; at: number }> = [];
    for (const identifier of result.identifiers) {
      const node = rowOf(identifier);
      if (recomputed.customerIdOf.get(node.id) === customerId) kept.push(identifier);
      else {
        const pair = [rowOf(strongest).id, node.id].sort((a, b) => a - b).join(':');
        const blocked = recomputed.blocked.has(pair);
        const reason = blocked
          ? 'blocked pair: these identities were separated (a reversed merge or a rejected review)'
          : [...recomputed.rejected.entries()].find(([edgeId]) => written.get(pair) === edgeId)?.[1];
        if (!blocked) apart.push({ identifier, at: dropped.length });
        dropped.push({
          type: identifier.type,
          field: identifier.type === 'member' ? `member.${identifier.scope}` : identifier.type,
          reason: `not linked to ${customerId}: ${reason ?? 'kept apart by the graph rules (quarantine, caps or an anchor conflict)'}`,
        });
      }
    }
    // Anchors of a kind a profile holds one of (a brand's member id, a customer id): a contact point held by
    // another profile with a different one is shared by two members, recorded as such below.
    const recordAnchors = kept
      .filter(
        (identifier) =>
          config.types[identifier.type].anchor && config.types[identifier.type].maxPerProfile === 1,
      )
      .map((identifier) => ({ type: identifier.type, scope: identifier.scope, key: rowOf(identifier).key }));
    for (const { identifier, at } of apart)
      apartFromRecords.push({
        node: rowOf(identifier),
        customerId,
        heldBy: entryOf(recomputed.customerIdOf, rowOf(identifier).id),
        recordAnchors,
        eventTime: records[index].eventTime,
        eventId: records[index].eventId ?? null,
        dropped: dropped[at],
      });
    const traits = records[index].traits;
    if (traits !== undefined) pendingTraits.push({ customerId, traits, eventTime: records[index].eventTime });
    return { customerId, identifiers: kept, dropped };
  });
  // A shared contact point is on record (idempotently) and its drop says why it links nothing.
  const shared = await sharedCasesOf(tx, apartFromRecords);
  await recordSharedIdentifiers(tx, shared);
  for (const item of apartFromRecords) {
    const found = shared.find(
      (entry) => entry.identifierId === item.node.id && entry.customerId === item.customerId,
    );
    if (found !== undefined && item.dropped !== undefined)
      item.dropped.reason = `not linked to ${item.customerId}: ${sharedReason(found.anchor)}`;
  }
  // The recompute loaded every profile it touched; this only loads what it did not (usually nothing).
  await book.load(
    tx,
    pendingTraits.map((entry) => entry.customerId),
  );
  for (const entry of pendingTraits) book.applyTraits(entry.customerId, entry.traits, entry.eventTime);
  await book.flush(tx);
  return {
    records: resolved,
    merges: recomputed.merges,
    splits: recomputed.splits,
    joins: recomputed.joins,
  };
}

type Normalized = ReturnType<typeof normalizeIdentifiers>;

/** A record's identifiers without the erased ones (each dropped, saying so); `erased` when none is left. */
function withoutTombstones(
  result: Normalized,
  rowOf: (identifier: NormalizedIdentifier) => { quarantinedReason: string | null },
): Normalized & { erased?: boolean } {
  const erased = result.identifiers.filter(
    (identifier) => rowOf(identifier).quarantinedReason === ERASED_REASON,
  );
  if (erased.length === 0) return result;
  const identifiers = result.identifiers.filter((identifier) => !erased.includes(identifier));
  return {
    ...result,
    identifiers,
    dropped: [
      ...result.dropped,
      ...erased.map((identifier) => ({
        type: identifier.type,
        field: identifier.type === 'member' ? `member.${identifier.scope}` : identifier.type,
        reason:
          'erased: a data subject erasure keeps it out of every profile until the member registers again',
      })),
    ],
    ...(identifiers.length === 0 ? { erased: true } : {}),
  };
}

/**
 * A registration (a consent grant, an account link) brings the member's erased identifiers back: each
 * tombstone erased before the registration is set aside under a key of its own (`revived:<id>`: it holds no
 * value and is found by nothing), so the upsert that follows creates the identifier anew, live.
 */
async function reviveRegisteredTombstones(
  tx: SqlExecutor,
  batch: PreparedBatch,
  keys: IdentifierKeys,
): Promise<void> {
  const wanted: Array<[string, string, string, Date]> = [];
  batch.records.forEach((record, index) => {
    if (record.registeredAt === undefined) return;
    for (const identifier of batch.normalized[index].identifiers) {
      const live = keys.lookupKey(identifier);
      wanted.push([
        identifier.type,
        identifier.scope,
        keys.tombstoneKey(identifier.type, live) ?? live,
        record.registeredAt,
      ]);
    }
  });
  if (wanted.length === 0) return;
  await tx.query(
    `UPDATE identity_identifiers AS i
        SET lookup_key = 'revived:' || i.id, hashed_lookup_key = 'revived:' || i.id
       FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS v(type, scope, key, at)
      WHERE i.lookup_key = v.key AND i.type = v.type AND i.scope = v.scope
        AND i.quarantined_reason = $5 AND COALESCE(i.erased_at, '-infinity'::timestamptz) < v.at`,
    [
      wanted.map((row) => row[0]),
      wanted.map((row) => row[1]),
      wanted.map((row) => row[2]),
      wanted.map((row) => row[3]),
      ERASED_REASON,
    ],
  );
}
