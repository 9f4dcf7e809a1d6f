import type { IdentifierType, IdentityGraphConfig } from '../identifiers';
import { entryOf } from './entry-of';

export type EdgeKind = 'manual' | 'link' | 'review' | 'event' | 'bulk' | 'probabilistic';

/** Explicit, human or member-proven edges are applied before inferred ones, so they win any conflict. */
const KIND_RANK: Record<EdgeKind, number> = {
  manual: 0,
  link: 1,
  review: 2,
  event: 3,
  bulk: 4,
  probabilistic: 5,
};

export interface GraphNode {
  id: number;
  type: IdentifierType;
  scope: string;
  key: string;
  anchor: boolean;
  priority: number;
  firstSeenAt: Date;
  ownCustomerId: string;
  /**
   * A customer id the loyalty platform merged into another (`retired_into`): it still links (events that
   * carry it land in the survivor) but is no anchor and counts against no cap, nor is it ever quarantined.
   */
  retired?: boolean;
}

export interface GraphEdge {
  id: number;
  low: number;
  high: number;
  kind: EdgeKind;
  eventTime: Date;
}

export interface SolvedComponents {
  /** The customer id of every node's component. */
  customerIdOf: Map<number, string>;
  /** Edges that joined two components or lay inside one. */
  accepted: Set<number>;
  /** Edges refused, with the reason. */
  rejected: Map<number, string>;
  /** Nodes that touch too many profiles to be trusted as a link; their edges are ignored. */
  quarantined: Map<number, string>;
}

export const pairKey = (a: number, b: number): string => (a < b ? `${a}:${b}` : `${b}:${a}`);

/** The one key an identifier is known by in memory (type, scope, lookup key): also the solver's order. */
export const identifierKey = (type: string, scope: string, lookupKey: string): string =>
  `${type}\u0000${scope}\u0000${lookupKey}`;

const nodeOrder = (node: GraphNode): string => identifierKey(node.type, node.scope, node.key);
const label = (node: Pick<GraphNode, 'type' | 'scope'>) =>
  node.type === 'member' ? `member.${node.scope}` : node.type;

/** The node whose id the component takes: its oldest anchor (earliest first seen, then by key). */
export function compareCanonical(a: GraphNode, b: GraphNode): number {
  if (a.anchor !== b.anchor) return a.anchor ? -1 : 1;
  const time = a.firstSeenAt.getTime() - b.firstSeenAt.getTime();
  if (time !== 0) return time;
  if (a.priority !== b.priority) return a.priority - b.priority;
  const ka = nodeOrder(a);
  const kb = nodeOrder(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

interface Component {
  size: number;
  nodes: GraphNode[];
  /** Values per identifier type (anchors per type and scope), for the caps. */
  counts: Map<string, number>;
  anchored: boolean;
}

const capKey = (node: GraphNode) => (node.anchor ? `${node.type}\u0000${node.scope}` : node.type);
const DAY_MS = 86_400_000;

/**
 * Connected components over identifier edges, with guards, as a pure function of the nodes, the active
 * edges and the blocked pairs: the result does not depend on the order anything arrived in. Edges are
 * applied in a fixed order (kind, then event time, then the identifiers' own keys, never row ids); an edge
 * that would break a rule is refused and its endpoints stay apart:
 * - a blocked pair (a reversed merge or a rejected review) spanning the two components;
 * - an anchor conflict (two different values of an anchor type that allows one, e.g. two member ids of
 *   one brand), or more values of a type than a profile may hold (counted over the type's window);
 * - the component size cap;
 * - a probabilistic edge between two components that both hold anchors (never auto-merged).
 * A non-anchor value adjacent to more anchored identities of one kind than its type allows is
 * quarantined first: none of its edges count.
 */
export function solveComponents(
  nodes: readonly GraphNode[],
  edges: readonly GraphEdge[],
  blockedPairs: ReadonlyArray<readonly [number, number]>,
  config: IdentityGraphConfig,
  alreadyQuarantined: ReadonlyMap<number, string> = new Map(),
): SolvedComponents {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  // Quarantine is sticky: the edges around a value only grow, so a value once quarantined stays so (an
  // operator can clear it) and its neighbourhood need not be reloaded each time it is seen.
  const quarantined = new Map([...alreadyQuarantined].filter(([id]) => byId.has(id)));
  for (const [id, reason] of quarantine(byId, edges, config))
    if (!quarantined.has(id)) quarantined.set(id, reason);
  const parent = new Map<number, number>();
  const components = new Map<number, Component>();
  for (const node of nodes) {
    parent.set(node.id, node.id);
    components.set(node.id, {
      size: 1,
      nodes: [node],
      counts: new Map(node.retired === true ? [] : [[capKey(node), 1]]),
      anchored: node.anchor,
    });
  }
  const find = (id: number): number => {
    let root = id;
    while (parent.get(root) !== root) root = parent.get(root) as number;
    let cursor = id;
    while (cursor !== root) {
      const next = parent.get(cursor) as number;
      parent.set(cursor, root);
      cursor = next;
    }
    return root;
  };

  const ordered = edges
    .filter((edge) => byId.has(edge.low) && byId.has(edge.high))
    .map((edge) => {
      const [first, second] = [
        nodeOrder(entryOf(byId, edge.low)),
        nodeOrder(entryOf(byId, edge.high)),
      ].sort();
      return { edge, sortKey: `${first}\u0001${second}` };
    })
    .sort(
      (a, b) =>
        KIND_RANK[a.edge.kind] - KIND_RANK[b.edge.kind] ||
        a.edge.eventTime.getTime() - b.edge.eventTime.getTime() ||
        (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0),
    );

  const accepted = new Set<number>();
  const rejected = new Map<number, string>();
  for (const { edge } of ordered) {
    const quarantineReason = quarantined.get(edge.low) ?? quarantined.get(edge.high);
    if (quarantineReason !== undefined) {
      rejected.set(edge.id, quarantineReason);
      continue;
    }
    const rootA = find(edge.low);
    const rootB = find(edge.high);
    if (rootA === rootB) {
      accepted.add(edge.id);
      continue;
    }
    const a = entryOf(components, rootA);
    const b = entryOf(components, rootB);
    const reason = refusal(a, b, edge, rootA, rootB, blockedPairs, find, config);
    if (reason !== undefined) {
      rejected.set(edge.id, reason);
      continue;
    }
    const [big, small, bigRoot, smallRoot] = a.size >= b.size ? [a, b, rootA, rootB] : [b, a, rootB, rootA];
    parent.set(smallRoot, bigRoot);
    big.size += small.size;
    big.nodes.push(...small.nodes);
    for (const [key, count] of small.counts) big.counts.set(key, (big.counts.get(key) ?? 0) + count);
    big.anchored ||= small.anchored;
    components.delete(smallRoot);
    accepted.add(edge.id);
  }

  const customerIdOf = new Map<number, string>();
  for (const component of components.values()) {
    const canonical = component.nodes.reduce((best, node) =>
      compareCanonical(node, best) < 0 ? node : best,
    );
    for (const node of component.nodes) customerIdOf.set(node.id, canonical.ownCustomerId);
  }
  return { customerIdOf, accepted, rejected, quarantined };
}

function refusal(
  a: Component,
  b: Component,
  edge: GraphEdge,
  rootA: number,
  rootB: number,
  blockedPairs: ReadonlyArray<readonly [number, number]>,
  find: (id: number) => number,
  config: IdentityGraphConfig,
): string | undefined {
  for (const [p, q] of blockedPairs) {
    const rp = find(p);
    const rq = find(q);
    if ((rp === rootA && rq === rootB) || (rp === rootB && rq === rootA)) {
      return 'blocked pair: these identities were separated (a reversed merge or a rejected review)';
    }
  }
  if (edge.kind === 'probabilistic' && a.anchored && b.anchored) {
    return 'probabilistic match between two profiles that both hold anchors: never merged automatically';
  }
  if (a.size + b.size > config.maxComponentSize) {
    return `component size cap: a profile may hold at most ${config.maxComponentSize} identifiers`;
  }
  // Shared keys in a fixed order, so an edge that breaks two rules always reports the same one.
  for (const key of [...a.counts.keys()].filter((candidate) => b.counts.has(candidate)).sort()) {
    const countA = entryOf(a.counts, key);
    const countB = entryOf(b.counts, key);
    const [type, scope] = key.split('\u0000') as [IdentifierType, string | undefined];
    const typeConfig = config.types[type];
    const total = typeConfig.maxPerProfileWindowDays
      ? withinWindow([...a.nodes, ...b.nodes], type, edge.eventTime, typeConfig.maxPerProfileWindowDays)
      : countA + countB;
    if (total > typeConfig.maxPerProfile) {
      return typeConfig.anchor && typeConfig.maxPerProfile === 1
        ? `anchor conflict: two different ${label({ type, scope: scope ?? '' })} values never merge`
        : `cap: a profile may hold at most ${typeConfig.maxPerProfile} ${type} values` +
            (typeConfig.maxPerProfileWindowDays ? ` within ${typeConfig.maxPerProfileWindowDays} days` : '');
    }
  }
  return undefined;
}

function withinWindow(nodes: GraphNode[], type: IdentifierType, at: Date, days: number): number {
  const from = at.getTime() - days * DAY_MS;
  return nodes.filter(
    (node) => node.type === type && node.retired !== true && node.firstSeenAt.getTime() >= from,
  ).length;
}

/**
 * A shared value (a household or shop email, a till's device id) adjacent to more anchored identities of
 * one kind than its type allows is quarantined: it stays on record but links nothing.
 */
function quarantine(
  byId: Map<number, GraphNode>,
  edges: readonly GraphEdge[],
  config: IdentityGraphConfig,
): Map<number, string> {
  const anchorsByValue = new Map<number, Map<string, Set<number>>>();
  const note = (value: GraphNode, anchor: GraphNode) => {
    if (value.anchor || value.retired === true || !anchor.anchor) return;
    const groups = anchorsByValue.get(value.id) ?? new Map<string, Set<number>>();
    const group = groups.get(capKey(anchor)) ?? new Set<number>();
    group.add(anchor.id);
    groups.set(capKey(anchor), group);
    anchorsByValue.set(value.id, groups);
  };
  for (const edge of edges) {
    const low = byId.get(edge.low);
    const high = byId.get(edge.high);
    if (low === undefined || high === undefined) continue;
    note(low, high);
    note(high, low);
  }
  const quarantined = new Map<number, string>();
  for (const [valueId, groups] of anchorsByValue) {
    const node = entryOf(byId, valueId);
    const limit = config.types[node.type].maxProfilesPerValue;
    const touched = Math.max(...[...groups.values()].map((group) => group.size));
    if (touched > limit) {
      quarantined.set(
        valueId,
        `quarantined ${label(node)}: one value touches ${touched} profiles (at most ${limit})`,
      );
    }
  }
  return quarantined;
}
