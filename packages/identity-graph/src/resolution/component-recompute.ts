import type { SqlExecutor } from '@tessera/store';
import { insertRows } from '@tessera/store';
import { identifierLabel, type IdentityGraphConfig } from '../identifiers';
import type { ProfileBook } from '../profiles/profile-book';
import { compareCanonical, solveComponents, type GraphNode } from './component-solver';
import {
  activeEdgesTouching,
  blockedPairsTouching,
  identifiersByIds,
  identifiersOfCustomers,
  type EdgeRow,
  type IdentifierRow,
} from './graph-repository';
import { entryOf } from './entry-of';

/** Why the graph changed: the rule, and the event or the person behind it. */
export interface ChangeCause {
  rule: string;
  eventSource?: string | null;
  eventId?: string | null;
  actor?: string | null;
  batchId?: string | null;
  /**
   * Why the joins it makes hold, for lineage (`account.linked`, say); by default derived from the edges: the
   * shared identifier of an event edge (`shared email`), else the edges' kind (`manual`, `review`, …).
   */
  basis?: string | null;
}

export interface MergeNotice {
  lineageId: number;
  from: string;
  to: string;
  rule: string;
}

/**
 * New identifiers that joined an existing profile (no second profile existed: nothing to announce), in lineage
 * all the same so the join can be listed and reversed (`unmerge` by its lineage id).
 */
export interface JoinNotice {
  lineageId: number;
  /** The profile joined. */
  customerId: string;
  /** The id the joining identifiers would have had on their own (the lineage row's `loser`). */
  joined: string;
  /** The joining identifiers' labels (`member.flannels`, `anonymous_id`). */
  identifiers: string[];
  basis: string | null;
}

export interface SplitNotice {
  lineageId: number;
  from: string;
  to: string;
  rule: string;
}

export interface RecomputeResult {
  /** Every region identifier's customer id after the change. */
  customerIdOf: Map<number, string>;
  nodes: Map<number, IdentifierRow>;
  merges: MergeNotice[];
  splits: SplitNotice[];
  joins: JoinNotice[];
  /** Newly written edges that were refused, with the reason. */
  rejected: Map<number, string>;
  /** Blocked identifier pairs around the region, as `low:high`. */
  blocked: Set<string>;
}

export interface RecomputeInput {
  seedCustomerIds: Iterable<string>;
  /** Identifiers just written (new ones are not yet anyone's component). */
  seedNodes?: IdentifierRow[];
  /** Edges written by this change: the ones whose refusal is logged. */
  newEdges?: Map<number, { eventSource?: string | null; eventId?: string | null }>;
  /** Identifiers that must found a profile under a new id (the split-off side of a reversed merge). */
  freshCustomerIds?: Map<number, string>;
  cause: ChangeCause;
}

/** The lineage rule of a profile that changes id because an older anchor of the same person turned up. */
export const REKEY_RULE = 'rekey: the profile takes the id of its oldest anchor';

// How far a recompute may follow refused edges into neighbouring components; a bounded region keeps one
// batch's cost bounded even around a busy shared value.
const MAX_EXPANSION_ROUNDS = 3;

/**
 * Recomputes the components around the seeds from the edge log and writes the differences: identifiers'
 * customer ids, quarantines, profiles merged or split (with their traits), lineage rows and the outbox
 * events (`membership.merged`, `membership.split`). Must run inside the graph's write lock.
 */
export async function recomputeComponents(
  tx: SqlExecutor,
  input: RecomputeInput,
  book: ProfileBook,
  config: IdentityGraphConfig,
): Promise<RecomputeResult> {
  const nodes = new Map<number, IdentifierRow>();
  for (const node of input.seedNodes ?? []) nodes.set(node.id, node);
  for (const node of await identifiersOfCustomers(tx, [...new Set(input.seedCustomerIds)])) {
    // A seed node read back keeps what the caller knows of it (that it was just created, say).
    if (!nodes.has(node.id)) nodes.set(node.id, node);
  }

  const edges = new Map<number, EdgeRow>();
  const queried = new Set<number>();
  const regionCap = config.maxComponentSize * 20;
  for (let round = 0; round < MAX_EXPANSION_ROUNDS; round++) {
    const toQuery = [...nodes.keys()].filter(
      (id) => !queried.has(id) && entryOf(nodes, id).quarantinedReason === null,
    );
    if (toQuery.length === 0) break;
    toQuery.forEach((id) => queried.add(id));
    for (const edge of await activeEdgesTouching(tx, toQuery)) edges.set(edge.id, edge);
    const outside = [...edges.values()]
      .flatMap((edge) => [edge.low, edge.high])
      .filter((id) => !nodes.has(id));
    if (outside.length === 0 || nodes.size >= regionCap) break;
    const neighbours = await identifiersByIds(tx, [...new Set(outside)]);
    const neighbourComponents = await identifiersOfCustomers(tx, [
      ...new Set(neighbours.map((n) => n.customerId)),
    ]);
    for (const node of [...neighbours, ...neighbourComponents])
      if (!nodes.has(node.id)) nodes.set(node.id, node);
  }
  const blocked = await blockedPairsTouching(tx, [...nodes.keys()]);

  const solverNodes: GraphNode[] = [...nodes.values()].map((node) => ({
    ...node,
    ownCustomerId: input.freshCustomerIds?.get(node.id) ?? node.ownCustomerId,
  }));
  const stored = new Map(
    [...nodes.values()].flatMap((node) =>
      node.quarantinedReason === null ? [] : [[node.id, node.quarantinedReason] as const],
    ),
  );
  const solved = solveComponents(solverNodes, [...edges.values()], blocked, config, stored);

  // Identifiers whose component or quarantine changed.
  const changed = [...nodes.values()].filter((node) => {
    const quarantine = solved.quarantined.get(node.id) ?? null;
    return (
      solved.customerIdOf.get(node.id) !== node.customerId ||
      quarantine !== node.quarantinedReason ||
      input.freshCustomerIds?.has(node.id) === true
    );
  });
  if (changed.length > 0) {
    await tx.query(
      `UPDATE identity_identifiers AS i
          SET customer_id = v.customer_id, quarantined_reason = v.reason, own_customer_id = v.own
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS v(id, customer_id, reason, own)
        WHERE i.id = v.id`,
      [
        changed.map((node) => node.id),
        changed.map((node) => solved.customerIdOf.get(node.id)),
        changed.map((node) => solved.quarantined.get(node.id) ?? null),
        changed.map((node) => input.freshCustomerIds?.get(node.id) ?? node.ownCustomerId),
      ],
    );
  }

  // Old profile → the new profiles its identifiers went to.
  const before = new Map<string, Set<string>>();
  for (const node of nodes.values()) {
    // A just-created identifier belonged to no profile yet: joining one is not a merge.
    if (node.isNew) continue;
    const targets = before.get(node.customerId) ?? new Set<string>();
    targets.add(entryOf(solved.customerIdOf, node.id));
    before.set(node.customerId, targets);
  }
  const after = new Set(solved.customerIdOf.values());
  await book.load(tx, [...before.keys(), ...after]);
  for (const id of after) book.activate(id);

  type Change = {
    kind: 'merge' | 'split' | 'join';
    winner: string;
    loser: string;
    edgeIds: number[];
    rule: string;
    basis: string | null;
    /** The event that triggered it: the one whose new edge made the join, else the cause's. */
    eventSource?: string | null;
    eventId?: string | null;
    /** A join's identifiers, by label. */
    labels?: string[];
  };
  const changes: Change[] = [];
  /**
   * Why a join holds: the cause's basis, else the shared identifiers (the side already there) of its event
   * edges, else the kinds of its edges.
   */
  const basisOf = (edgeIds: number[], sharedSide: (edge: EdgeRow) => IdentifierRow): string | null => {
    if (input.cause.basis !== undefined) return input.cause.basis;
    if (edgeIds.length === 0) return null;
    const joining = edgeIds.map((edgeId) => entryOf(edges, edgeId));
    const byEvent = joining.filter((edge) => edge.kind === 'event');
    if (byEvent.length === 0) return [...new Set(joining.map((edge) => edge.kind))].sort().join(', ');
    return `shared ${[...new Set(byEvent.map((edge) => identifierLabel(sharedSide(edge))))].sort().join(', ')}`;
  };
  const triggerOf = (edgeIds: number[]) =>
    edgeIds.map((edgeId) => input.newEdges?.get(edgeId)).find((origin) => origin?.eventId);
  /** The old profile `oldId` is retired into `winner`, by the accepted edges that joined its identifiers there. */
  const retire = (oldId: string, winner: string) => {
    const wasOld = (node: IdentifierRow) => node.customerId === oldId && !node.isNew;
    const inWinner = (node: IdentifierRow) => solved.customerIdOf.get(node.id) === winner;
    const crossing = [...solved.accepted].filter((edgeId) => {
      const edge = entryOf(edges, edgeId);
      const [a, b] = [entryOf(nodes, edge.low), entryOf(nodes, edge.high)];
      return inWinner(a) && inWinner(b) && wasOld(a) !== wasOld(b);
    });
    crossing.sort((x, y) => x - y);
    const trigger = triggerOf(crossing);
    changes.push({
      kind: 'merge',
      winner,
      loser: oldId,
      edgeIds: crossing,
      eventSource: trigger?.eventSource,
      eventId: trigger?.eventId,
      // No edge crossed: the same identifiers simply took the id of an older anchor seen late.
      rule: crossing.length === 0 ? REKEY_RULE : input.cause.rule,
      // The profile joined through the winner's side of each crossing edge.
      basis:
        crossing.length === 0
          ? null
          : basisOf(crossing, (edge) => {
              const low = entryOf(nodes, edge.low);
              return wasOld(low) ? entryOf(nodes, edge.high) : low;
            }),
    });
  };
  for (const [oldId, targets] of before) {
    if (targets.size === 1) {
      const [target] = targets;
      if (target !== oldId && !after.has(oldId)) retire(oldId, target);
    } else {
      // The part that kept the old profile's canonical identifier carries it on; if that part now has
      // another id, the old profile is retired into it (a merge), and the other parts split off from it.
      const canonical = [...nodes.values()].find((node) => !node.isNew && node.ownCustomerId === oldId);
      const keeper = targets.has(oldId)
        ? oldId
        : canonical !== undefined
          ? entryOf(solved.customerIdOf, canonical.id)
          : [...targets].sort()[0];
      if (keeper !== oldId && !after.has(oldId)) retire(oldId, keeper);
      for (const target of [...targets].sort()) {
        if (target !== keeper) {
          changes.push({
            kind: 'split',
            winner: keeper,
            loser: target,
            edgeIds: [],
            rule: input.cause.rule,
            basis: null,
          });
        }
      }
    }
  }
  changes.push(
    ...joinsOf(nodes, edges, solved, before).map((join): Change => {
      const trigger = triggerOf(join.edgeIds);
      return {
        kind: 'join',
        winner: join.winner,
        loser: join.loser,
        edgeIds: join.edgeIds,
        rule: input.cause.rule,
        basis: basisOf(join.edgeIds, (edge) => {
          const low = entryOf(nodes, edge.low);
          return low.isNew ? entryOf(nodes, edge.high) : low;
        }),
        eventSource: trigger?.eventSource,
        eventId: trigger?.eventId,
        labels: join.labels,
      };
    }),
  );
  for (const change of changes) if (change.kind === 'merge') book.merge(change.loser, change.winner);

  const merges: MergeNotice[] = [];
  const splits: SplitNotice[] = [];
  const joins: JoinNotice[] = [];
  if (changes.length > 0) {
    // Merges, splits and joins alike in one statement, whatever the batch size.
    const lineage = await insertRows<{ id: number }>(
      tx,
      'identity_lineage',
      [
        'kind',
        'winner',
        'loser',
        'rule',
        'basis',
        'edge_ids',
        'event_source',
        'event_id',
        'actor',
        'batch_id',
      ],
      changes.map((change) => [
        change.kind,
        change.winner,
        change.loser,
        change.rule,
        change.basis,
        change.edgeIds,
        change.eventSource ?? input.cause.eventSource ?? null,
        change.eventId ?? input.cause.eventId ?? null,
        input.cause.actor ?? null,
        input.cause.batchId ?? null,
      ]),
      { returning: 'id', casts: { edge_ids: 'bigint[]' } },
    );
    changes.forEach((change, index) => {
      const notice = {
        lineageId: lineage[index].id,
        from: change.loser,
        to: change.winner,
        rule: change.rule,
      };
      if (change.kind === 'merge') merges.push(notice);
      else if (change.kind === 'split') splits.push({ ...notice, from: change.winner, to: change.loser });
      else
        joins.push({
          lineageId: notice.lineageId,
          customerId: change.winner,
          joined: change.loser,
          identifiers: change.labels ?? [],
          basis: change.basis,
        });
    });
    if (merges.length + splits.length > 0)
      await insertRows(
        tx,
        'identity_outbox',
        ['type', 'event_id', 'data'],
        [
          ...merges.map((merge) => [
            'membership.merged',
            `tessera-lineage-${merge.lineageId}`,
            JSON.stringify({ from_customer_id: merge.from, to_customer_id: merge.to, reason: merge.rule }),
          ]),
          ...splits.map((split) => [
            'membership.split',
            `tessera-lineage-${split.lineageId}`,
            JSON.stringify({ from_customer_id: split.from, to_customer_id: split.to, reason: split.rule }),
          ]),
        ],
        { casts: { data: 'jsonb' } },
      );
  }

  const rejected = new Map<number, string>();
  for (const [edgeId, reason] of solved.rejected)
    if (input.newEdges?.has(edgeId)) rejected.set(edgeId, reason);
  if (rejected.size > 0) {
    await insertRows(
      tx,
      'identity_rejected_edges',
      ['low_identifier', 'high_identifier', 'reason', 'event_source', 'event_id'],
      [...rejected].map(([edgeId, reason]) => {
        const edge = entryOf(edges, edgeId);
        const origin = entryOf(input.newEdges ?? new Map(), edgeId);
        return [edge.low, edge.high, reason, origin.eventSource ?? null, origin.eventId ?? null];
      }),
    );
  }
  return {
    customerIdOf: solved.customerIdOf,
    nodes,
    merges,
    splits,
    joins,
    rejected,
    blocked: new Set(blocked.map(([low, high]) => `${low}:${high}`)),
  };
}

/**
 * New identifiers that joined a profile that already existed: each group of them connected among themselves
 * (by accepted edges) whose component kept an existing profile's id is one join, made by the accepted edges
 * from the group to that profile's identifiers. Its `loser` is the id the group would have had alone (its
 * canonical identifier's own id). A component that is new as a whole, or that took a new anchor's id (a
 * merge, in lineage as such), is no join.
 */
function joinsOf(
  nodes: Map<number, IdentifierRow>,
  edges: Map<number, EdgeRow>,
  solved: ReturnType<typeof solveComponents>,
  before: Map<string, Set<string>>,
): Array<{ winner: string; loser: string; edgeIds: number[]; labels: string[] }> {
  const customerOf = (node: IdentifierRow) => entryOf(solved.customerIdOf, node.id);
  const existing = new Set(
    [...nodes.values()]
      .filter((node) => !node.isNew)
      .map(customerOf)
      .filter((id) => before.has(id)),
  );
  const joining = [...nodes.values()].filter(
    (node) => node.isNew && !solved.quarantined.has(node.id) && existing.has(customerOf(node)),
  );
  if (joining.length === 0) return [];
  const parent = new Map(joining.map((node) => [node.id, node.id]));
  const find = (id: number): number => {
    let root = id;
    while (parent.get(root) !== root) root = entryOf(parent, root);
    return root;
  };
  const crossing = new Map<number, number[]>();
  for (const edgeId of [...solved.accepted].sort((x, y) => x - y)) {
    const edge = entryOf(edges, edgeId);
    const [low, high] = [entryOf(nodes, edge.low), entryOf(nodes, edge.high)];
    if (parent.has(low.id) && parent.has(high.id)) parent.set(find(low.id), find(high.id));
  }
  for (const edgeId of [...solved.accepted].sort((x, y) => x - y)) {
    const edge = entryOf(edges, edgeId);
    const [low, high] = [entryOf(nodes, edge.low), entryOf(nodes, edge.high)];
    const [joiner, anchor] = parent.has(low.id) ? [low, high] : [high, low];
    if (!parent.has(joiner.id) || anchor.isNew || customerOf(anchor) !== customerOf(joiner)) continue;
    const root = find(joiner.id);
    crossing.set(root, [...(crossing.get(root) ?? []), edgeId]);
  }
  const groups = new Map<number, IdentifierRow[]>();
  for (const node of joining) {
    const root = find(node.id);
    groups.set(root, [...(groups.get(root) ?? []), node]);
  }
  return [...groups].flatMap(([root, members]) => {
    const edgeIds = crossing.get(root);
    if (edgeIds === undefined) return [];
    const canonical = members.reduce((best, node) => (compareCanonical(node, best) < 0 ? node : best));
    return [
      {
        winner: customerOf(canonical),
        loser: canonical.ownCustomerId,
        edgeIds,
        labels: [...new Set(members.map((node) => identifierLabel(node)))].sort(),
      },
    ];
  });
}
