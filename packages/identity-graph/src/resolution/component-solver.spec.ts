import fc from 'fast-check';
import {
  DEFAULT_IDENTITY_CONFIG,
  identityConfig,
  type IdentifierType,
  type IdentityGraphConfig,
} from '../identifiers';
import {
  compareCanonical,
  solveComponents,
  type EdgeKind,
  type GraphEdge,
  type GraphNode,
  type SolvedComponents,
} from './component-solver';

const DAY_MS = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);
/** Day `n` after 2025-01-01 (fractions allowed). */
const day = (n: number) => new Date(T0 + n * DAY_MS);

const BLOCKED_REASON =
  'blocked pair: these identities were separated (a reversed merge or a rejected review)';
const PROBABILISTIC_REASON =
  'probabilistic match between two profiles that both hold anchors: never merged automatically';

/** A small graph under construction: nodes and edges with sequential ids, described by their keys. */
class Graph {
  readonly nodes: GraphNode[] = [];
  readonly edges: GraphEdge[] = [];

  node(
    type: IdentifierType,
    key: string,
    options: { scope?: string; firstSeen?: number; config?: IdentityGraphConfig } = {},
  ): GraphNode {
    const scope = options.scope ?? '';
    const typeConfig = (options.config ?? DEFAULT_IDENTITY_CONFIG).types[type];
    const node: GraphNode = {
      id: this.nodes.length + 1,
      type,
      scope,
      key,
      anchor: typeConfig.anchor,
      priority: typeConfig.priority,
      firstSeenAt: day(options.firstSeen ?? 0),
      ownCustomerId: `own:${type}${scope === '' ? '' : `.${scope}`}:${key}`,
    };
    this.nodes.push(node);
    return node;
  }

  member(brand: string, key: string, firstSeen = 0): GraphNode {
    return this.node('member', key, { scope: brand, firstSeen });
  }

  edge(a: GraphNode, b: GraphNode, kind: EdgeKind = 'event', at = 0): GraphEdge {
    const edge: GraphEdge = {
      id: 100 + this.edges.length + 1,
      low: Math.min(a.id, b.id),
      high: Math.max(a.id, b.id),
      kind,
      eventTime: day(at),
    };
    this.edges.push(edge);
    return edge;
  }

  solve(
    options: {
      config?: IdentityGraphConfig;
      blocked?: Array<[GraphNode, GraphNode]>;
      alreadyQuarantined?: Map<number, string>;
    } = {},
  ): SolvedComponents {
    return solveComponents(
      this.nodes,
      this.edges,
      (options.blocked ?? []).map(([a, b]) => [a.id, b.id] as const),
      options.config ?? DEFAULT_IDENTITY_CONFIG,
      options.alreadyQuarantined,
    );
  }
}

const idOf = (result: SolvedComponents, node: GraphNode) => result.customerIdOf.get(node.id);

/** The partition as sets of node keys, so two results can be compared whatever the node ids. */
function partitionOf(result: SolvedComponents, nodes: readonly GraphNode[]): string[][] {
  const groups = new Map<string, string[]>();
  for (const node of nodes) {
    const customerId = String(result.customerIdOf.get(node.id));
    groups.set(customerId, [...(groups.get(customerId) ?? []), node.key].sort());
  }
  return [...groups.values()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

describe('solveComponents', () => {
  describe('joins', () => {
    it('joins every identifier along a chain into one profile and leaves an unrelated one alone', () => {
      const g = new Graph();
      const anon = g.node('anonymous_id', 'anon-1');
      const email = g.node('email', 'ana@example.com');
      const phone = g.node('phone', '+447700900001');
      const device = g.node('device_id', 'dev-1');
      const loner = g.node('email', 'bruno@example.com');
      const edges = [
        g.edge(anon, email),
        g.edge(email, phone, 'event', 1),
        g.edge(phone, device, 'event', 2),
      ];

      const result = g.solve();

      const id = idOf(result, anon);
      expect([email, phone, device].map((node) => idOf(result, node))).toEqual([id, id, id]);
      expect(idOf(result, loner)).toBe(loner.ownCustomerId);
      expect(idOf(result, loner)).not.toBe(id);
      expect([...result.accepted].sort()).toEqual(edges.map((edge) => edge.id).sort());
      expect(result.rejected.size).toBe(0);
      expect(result.quarantined.size).toBe(0);
    });

    it('accepts an edge inside a component that is already joined', () => {
      const g = new Graph();
      const [a, b, c] = [
        g.node('email', 'a@x.io'),
        g.node('phone', '+447700900001'),
        g.node('anonymous_id', 'c'),
      ];
      g.edge(a, b);
      g.edge(b, c, 'event', 1);
      const closing = g.edge(a, c, 'event', 2);

      const result = g.solve();

      expect(result.accepted.has(closing.id)).toBe(true);
      expect(result.rejected.size).toBe(0);
    });

    it('ignores an edge whose endpoint is not among the nodes', () => {
      const g = new Graph();
      const a = g.node('email', 'a@x.io');
      const b = g.node('phone', '+447700900001');
      const dangling: GraphEdge = { id: 999, low: a.id, high: 77, kind: 'event', eventTime: day(0) };

      const result = solveComponents(g.nodes, [dangling], [], DEFAULT_IDENTITY_CONFIG);

      expect(result.accepted.has(999)).toBe(false);
      expect(result.rejected.has(999)).toBe(false);
      expect(idOf(result, a)).toBe(a.ownCustomerId);
      expect(idOf(result, b)).toBe(b.ownCustomerId);
      expect(result.customerIdOf.has(77)).toBe(false);
    });
  });

  describe('canonical id', () => {
    it('takes the oldest anchor, even when a non-anchor identifier was seen earlier', () => {
      const g = new Graph();
      const email = g.node('email', 'ana@example.com', { firstSeen: 0 });
      const customer = g.node('customer_id', 'C1', { firstSeen: 10 });
      const member = g.member('sports-direct', 'SD1', 5);
      g.edge(email, customer);
      g.edge(email, member, 'event', 1);

      const result = g.solve();

      for (const node of [email, customer, member]) expect(idOf(result, node)).toBe(member.ownCustomerId);
    });

    it('breaks a tie in first-seen time by priority, not by type name (member before loyalty_card)', () => {
      const g = new Graph();
      const card = g.node('loyalty_card', 'L1', { firstSeen: 3 });
      const member = g.member('sports-direct', 'SD1', 3);
      g.edge(card, member);

      const result = g.solve();

      expect(idOf(result, card)).toBe(member.ownCustomerId);
    });

    it('reads the priority from the node, so a configured priority decides the tie', () => {
      const g = new Graph();
      const card = g.node('loyalty_card', 'L1', { firstSeen: 3 });
      const member = g.member('sports-direct', 'SD1', 3);
      g.edge(card, member);
      card.priority = 5;

      const result = g.solve();

      expect(idOf(result, member)).toBe(card.ownCustomerId);
    });

    it('breaks a tie in time and priority by the identifier key', () => {
      const g = new Graph();
      const cardB = g.node('loyalty_card', 'card-b', { firstSeen: 2 });
      const cardA = g.node('loyalty_card', 'card-a', { firstSeen: 2 });
      g.edge(cardB, cardA);

      const result = g.solve();

      expect(idOf(result, cardB)).toBe(cardA.ownCustomerId);
    });

    it('gives an anchorless component the id of its earliest identifier, then by priority', () => {
      const g = new Graph();
      const email = g.node('email', 'ana@example.com', { firstSeen: 3 });
      const phone = g.node('phone', '+447700900001', { firstSeen: 1 });
      const anon = g.node('anonymous_id', 'anon-1', { firstSeen: 2 });
      g.edge(email, phone);
      g.edge(email, anon);
      // 'anonymous_id' sorts before 'phone', but the phone has the higher priority.
      const tiedAnon = g.node('anonymous_id', 'anon-2', { firstSeen: 4 });
      const tiedPhone = g.node('phone', '+447700900002', { firstSeen: 4 });
      g.edge(tiedPhone, tiedAnon);

      const result = g.solve();

      for (const node of [email, phone, anon]) expect(idOf(result, node)).toBe(phone.ownCustomerId);
      expect(idOf(result, tiedAnon)).toBe(tiedPhone.ownCustomerId);
    });

    it('compareCanonical orders anchors first, then time, priority and key', () => {
      const g = new Graph();
      const lateAnchor = g.node('loyalty_card', 'L1', { firstSeen: 9 });
      const earlyValue = g.node('email', 'a@x.io', { firstSeen: 0 });
      const early = g.node('loyalty_card', 'L2', { firstSeen: 1 });
      const sameTimeStronger = g.node('member', 'M1', { scope: 'flannels', firstSeen: 1 });
      const sameTimeOtherScope = g.node('member', 'M1', { scope: 'sports-direct', firstSeen: 1 });

      expect(compareCanonical(lateAnchor, earlyValue)).toBeLessThan(0);
      expect(compareCanonical(earlyValue, lateAnchor)).toBeGreaterThan(0);
      expect(compareCanonical(early, lateAnchor)).toBeLessThan(0);
      expect(compareCanonical(sameTimeStronger, early)).toBeLessThan(0);
      expect(compareCanonical(sameTimeStronger, sameTimeOtherScope)).toBeLessThan(0);
      expect(compareCanonical(sameTimeOtherScope, sameTimeStronger)).toBeGreaterThan(0);
      expect(compareCanonical(early, { ...early, id: 42 })).toBe(0);
    });
  });

  describe('order independence', () => {
    /** A graph full of conflicts, so the order edges are applied in decides the outcome. */
    function conflictedGraph(): Graph {
      const g = new Graph();
      const sd1 = g.member('sports-direct', 'SD1', 1);
      const sd2 = g.member('sports-direct', 'SD2', 2);
      const fl1 = g.member('flannels', 'FL1', 3);
      const c1 = g.node('customer_id', 'C1', { firstSeen: 4 });
      const c2 = g.node('customer_id', 'C2', { firstSeen: 0 });
      const family = g.node('email', 'family@example.com', { firstSeen: 1 });
      const ana = g.node('email', 'ana@example.com', { firstSeen: 2 });
      const bruno = g.node('email', 'bruno@example.com', { firstSeen: 2 });
      const phone = g.node('phone', '+447700900001', { firstSeen: 3 });
      const anon = g.node('anonymous_id', 'anon-1', { firstSeen: 5 });
      const cards = [1, 2, 3, 4].map((n) => g.node('loyalty_card', `card-${n}`, { firstSeen: n }));
      g.edge(sd1, family, 'event', 1);
      g.edge(sd2, family, 'event', 2);
      g.edge(fl1, family, 'event', 1);
      g.edge(sd1, ana, 'event', 3);
      g.edge(sd2, bruno, 'event', 3);
      g.edge(ana, phone, 'event', 4);
      g.edge(bruno, phone, 'manual', 9);
      g.edge(c1, phone, 'event', 5);
      g.edge(c2, anon, 'event', 5);
      g.edge(anon, ana, 'probabilistic', 0);
      g.edge(anon, fl1, 'review', 6);
      for (const card of cards) g.edge(card, c1, 'link', 7);
      g.edge(c2, bruno, 'bulk', 1);
      return g;
    }

    const describeEdges = (result: SolvedComponents, g: Graph) => {
      const keyOf = new Map(g.nodes.map((node) => [node.id, `${node.type}.${node.scope}:${node.key}`]));
      const name = (edge: GraphEdge) =>
        `${edge.kind} ${[keyOf.get(edge.low), keyOf.get(edge.high)].sort().join(' ~ ')}`;
      return {
        accepted: g.edges
          .filter((edge) => result.accepted.has(edge.id))
          .map(name)
          .sort(),
        // Which edges are refused, not why: when an edge breaks two cap rules at once, which reason is
        // reported still depends on the row ids (the order of the components' cap counts).
        rejected: g.edges
          .filter((edge) => result.rejected.has(edge.id))
          .map(name)
          .sort(),
        canonical: [...new Set(g.nodes.map((node) => result.customerIdOf.get(node.id)))].sort(),
      };
    };

    it('has conflicts to resolve (the reference outcome is not trivial)', () => {
      const g = conflictedGraph();
      const outcome = describeEdges(g.solve(), g);
      expect(outcome.rejected.length).toBeGreaterThanOrEqual(3);
      expect(outcome.accepted.length).toBeGreaterThanOrEqual(5);
    });

    it('gives the same partition, decisions and ids for any order of nodes and edges and any row ids', () => {
      const reference = conflictedGraph();
      const expected = {
        partition: partitionOf(reference.solve(), reference.nodes),
        ...describeEdges(reference.solve(), reference),
      };
      const nodeCount = reference.nodes.length;
      const edgeCount = reference.edges.length;
      fc.assert(
        fc.property(
          fc.shuffledSubarray(reference.nodes, { minLength: nodeCount, maxLength: nodeCount }),
          fc.shuffledSubarray(reference.edges, { minLength: edgeCount, maxLength: edgeCount }),
          fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), {
            minLength: nodeCount,
            maxLength: nodeCount,
          }),
          fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), {
            minLength: edgeCount,
            maxLength: edgeCount,
          }),
          (nodes, edges, nodeIds, edgeIds) => {
            // The reference graph numbers its nodes 1..n: node k gets nodeIds[k - 1].
            const newId = (id: number) => nodeIds[id - 1];
            const g = new Graph();
            g.nodes.push(...nodes.map((node) => ({ ...node, id: newId(node.id) })));
            g.edges.push(
              ...edges.map((edge) => {
                const [a, b] = [newId(edge.low), newId(edge.high)];
                return {
                  ...edge,
                  id: edgeIds[reference.edges.indexOf(edge)],
                  low: Math.min(a, b),
                  high: Math.max(a, b),
                };
              }),
            );
            const result = g.solve();
            expect({ partition: partitionOf(result, g.nodes), ...describeEdges(result, g) }).toEqual(
              expected,
            );
          },
        ),
        { numRuns: 200 },
      );
    });
  });

  describe('anchor conflicts', () => {
    it('refuses to join two member ids of the same brand, with the reason', () => {
      const g = new Graph();
      const sd1 = g.member('sports-direct', 'SD1');
      const sd2 = g.member('sports-direct', 'SD2');
      const email = g.node('email', 'family@example.com');
      const first = g.edge(email, sd1, 'event', 1);
      const second = g.edge(email, sd2, 'event', 2);

      const result = g.solve();

      expect(result.accepted).toEqual(new Set([first.id]));
      expect(result.rejected).toEqual(
        new Map([[second.id, 'anchor conflict: two different member.sports-direct values never merge']]),
      );
      expect(idOf(result, email)).toBe(idOf(result, sd1));
      expect(idOf(result, sd2)).toBe(sd2.ownCustomerId);
    });

    it('joins member ids of two different brands', () => {
      const g = new Graph();
      const sd1 = g.member('sports-direct', 'SD1');
      const fl1 = g.member('flannels', 'FL1');
      const email = g.node('email', 'ana@example.com');
      g.edge(email, sd1, 'event', 1);
      g.edge(email, fl1, 'event', 2);

      const result = g.solve();

      expect(result.rejected.size).toBe(0);
      expect(idOf(result, fl1)).toBe(idOf(result, sd1));
    });

    it('refuses two customer ids, and counts the whole component, not only the edge endpoints', () => {
      const g = new Graph();
      const c1 = g.node('customer_id', 'C1');
      const c2 = g.node('customer_id', 'C2');
      const email = g.node('email', 'ana@example.com');
      const phone = g.node('phone', '+447700900001');
      g.edge(c1, email, 'event', 1);
      g.edge(c2, phone, 'event', 1);
      const bridge = g.edge(email, phone, 'event', 2);

      const result = g.solve();

      expect(result.rejected).toEqual(
        new Map([[bridge.id, 'anchor conflict: two different customer_id values never merge']]),
      );
      expect(idOf(result, email)).toBe('own:customer_id:C1');
      expect(idOf(result, phone)).toBe('own:customer_id:C2');
    });

    it('joins customer ids the platform retired into another: no anchor, no cap, never quarantined', () => {
      const g = new Graph();
      const c1 = { ...g.node('customer_id', 'C1', { firstSeen: 0 }), anchor: false, retired: true };
      const c3 = { ...g.node('customer_id', 'C3', { firstSeen: 1 }), anchor: false, retired: true };
      const c2 = g.node('customer_id', 'C2', { firstSeen: 5 });
      g.nodes.splice(0, 2, c1, c3);
      // Two anchors beside one retired id: a plain non-anchor value there would be quarantined.
      const cards = [
        g.node('loyalty_card', 'K1', { firstSeen: 6 }),
        g.node('loyalty_card', 'K2', { firstSeen: 6 }),
      ];
      for (const card of cards) g.edge(c1, card, 'event', 1);
      g.edge(c1, c2, 'event', 6);
      g.edge(c3, c2, 'event', 7);

      const result = g.solve();

      expect(result.rejected.size).toBe(0);
      expect(result.quarantined.size).toBe(0);
      // The survivor's customer id names the profile, though the retired ones were seen first.
      for (const node of [c1, c3, c2, ...cards]) expect(idOf(result, node)).toBe('own:customer_id:C2');
    });
  });

  describe('caps', () => {
    it('refuses a sixth email: a profile may hold at most 5', () => {
      const g = new Graph();
      const customer = g.node('customer_id', 'C1');
      const emails = [1, 2, 3, 4, 5, 6].map((n) => g.node('email', `e${n}@example.com`));
      const edges = emails.map((email, index) => g.edge(customer, email, 'event', index + 1));

      const result = g.solve();

      expect(result.rejected).toEqual(
        new Map([[edges[5].id, 'cap: a profile may hold at most 5 email values']]),
      );
      expect(emails.slice(0, 5).every((email) => idOf(result, email) === 'own:customer_id:C1')).toBe(true);
      expect(idOf(result, emails[5])).toBe(emails[5].ownCustomerId);
    });

    it('counts both sides when two components with emails meet', () => {
      const g = new Graph();
      const left = g.node('anonymous_id', 'left');
      const right = g.node('anonymous_id', 'right');
      for (const n of [1, 2, 3]) g.edge(left, g.node('email', `l${n}@example.com`), 'event', 0);
      for (const n of [1, 2, 3]) g.edge(right, g.node('email', `r${n}@example.com`), 'event', 0);
      const bridge = g.edge(left, right, 'event', 1);

      const result = g.solve();

      expect(result.rejected).toEqual(
        new Map([[bridge.id, 'cap: a profile may hold at most 5 email values']]),
      );
    });

    it('caps loyalty cards (an anchor type allowing 3) with the cap reason, not an anchor conflict', () => {
      const g = new Graph();
      const customer = g.node('customer_id', 'C1');
      const cards = [1, 2, 3, 4].map((n) => g.node('loyalty_card', `L${n}`));
      const edges = cards.map((card, index) => g.edge(customer, card, 'event', index));

      const result = g.solve();

      expect(result.rejected).toEqual(
        new Map([[edges[3].id, 'cap: a profile may hold at most 3 loyalty_card values']]),
      );
    });

    it('counts device ids only within their window: older ones do not count against the 20', () => {
      const g = new Graph();
      const customer = g.node('customer_id', 'C1', { firstSeen: 0 });
      const now = 400;
      // 5 devices first seen long ago (outside 90 days), 20 seen recently.
      const old = [1, 2, 3, 4, 5].map((n) => g.node('device_id', `old-${n}`, { firstSeen: 100 + n }));
      const recent = Array.from({ length: 20 }, (_, n) =>
        g.node('device_id', `new-${String(n).padStart(2, '0')}`, { firstSeen: now - 60 + n }),
      );
      for (const device of [...old, ...recent]) g.edge(customer, device, 'event', now);

      const result = g.solve();

      expect(result.rejected.size).toBe(0);
      expect(new Set([...old, ...recent].map((device) => idOf(result, device)))).toEqual(
        new Set(['own:customer_id:C1']),
      );
    });

    it('refuses the 21st device id first seen within the window, with the window in the reason', () => {
      const g = new Graph();
      const customer = g.node('customer_id', 'C1', { firstSeen: 0 });
      const now = 400;
      const old = g.node('device_id', 'old-1', { firstSeen: 100 });
      const recent = Array.from({ length: 21 }, (_, n) =>
        g.node('device_id', `new-${String(n).padStart(2, '0')}`, { firstSeen: now - 60 }),
      );
      g.edge(customer, old, 'event', now);
      const edges = recent.map((device, n) => g.edge(customer, device, 'event', now + n / 24));

      const result = g.solve();

      expect(result.rejected).toEqual(
        new Map([[edges[20].id, 'cap: a profile may hold at most 20 device_id values within 90 days']]),
      );
      expect(idOf(result, old)).toBe('own:customer_id:C1');
    });

    it('refuses an edge that would make a component larger than maxComponentSize', () => {
      const config = identityConfig({ maxComponentSize: 3 });
      const g = new Graph();
      const customer = g.node('customer_id', 'C1');
      const emails = [1, 2, 3].map((n) => g.node('email', `e${n}@example.com`));
      const edges = emails.map((email, index) => g.edge(customer, email, 'event', index));
      const a = g.node('anonymous_id', 'a');
      const b = g.node('anonymous_id', 'b');
      const c = g.node('phone', '+447700900001');
      const d = g.node('phone', '+447700900002');
      g.edge(a, b, 'event', 0);
      g.edge(c, d, 'event', 0);
      const pairs = g.edge(b, c, 'event', 1);

      const result = g.solve({ config });

      expect(result.rejected).toEqual(
        new Map([
          [edges[2].id, 'component size cap: a profile may hold at most 3 identifiers'],
          [pairs.id, 'component size cap: a profile may hold at most 3 identifiers'],
        ]),
      );
      expect(idOf(result, emails[1])).toBe('own:customer_id:C1');
      expect(idOf(result, a)).not.toBe(idOf(result, d));
    });

    it('accepts a component of exactly maxComponentSize identifiers', () => {
      const g = new Graph();
      const customer = g.node('customer_id', 'C1');
      g.edge(customer, g.node('email', 'e1@example.com'));
      g.edge(customer, g.node('email', 'e2@example.com'));

      expect(g.solve({ config: identityConfig({ maxComponentSize: 3 }) }).rejected.size).toBe(0);
    });
  });

  describe('probabilistic edges', () => {
    it('never join two components that both hold anchors', () => {
      const g = new Graph();
      const c1 = g.node('customer_id', 'C1');
      const email = g.node('email', 'ana@example.com');
      const sd1 = g.member('sports-direct', 'SD1');
      const phone = g.node('phone', '+447700900001');
      g.edge(c1, email);
      g.edge(sd1, phone);
      const guess = g.edge(email, phone, 'probabilistic', 1);

      const result = g.solve();

      expect(result.rejected).toEqual(new Map([[guess.id, PROBABILISTIC_REASON]]));
      expect(idOf(result, email)).not.toBe(idOf(result, phone));
    });

    it('join an anchored component and one without an anchor', () => {
      const g = new Graph();
      const c1 = g.node('customer_id', 'C1');
      const email = g.node('email', 'ana@example.com');
      const other = g.node('email', 'ana.smith@example.com');
      const anon = g.node('anonymous_id', 'anon-1');
      g.edge(c1, email);
      g.edge(other, anon);
      const guess = g.edge(email, other, 'probabilistic', 1);

      const result = g.solve();

      expect(result.accepted.has(guess.id)).toBe(true);
      expect(idOf(result, anon)).toBe('own:customer_id:C1');
    });

    it('are applied after deterministic edges, even when they are older', () => {
      const g = new Graph();
      const c1 = g.node('customer_id', 'C1');
      const c2 = g.node('customer_id', 'C2');
      const email = g.node('email', 'ana@example.com');
      const other = g.node('email', 'ana.smith@example.com');
      g.edge(c1, email, 'event', 0);
      const guess = g.edge(email, other, 'probabilistic', 1);
      const later = g.edge(c2, other, 'event', 5);

      const result = g.solve();

      expect(result.accepted.has(later.id)).toBe(true);
      expect(result.rejected).toEqual(new Map([[guess.id, PROBABILISTIC_REASON]]));
      expect(idOf(result, other)).toBe('own:customer_id:C2');
    });
  });

  describe('edge kind order', () => {
    it('lets an earlier edge of the same kind win a conflict', () => {
      const g = new Graph();
      const sd1 = g.member('sports-direct', 'SD1');
      const sd2 = g.member('sports-direct', 'SD2');
      const email = g.node('email', 'ana@example.com');
      g.edge(email, sd2, 'event', 10);
      g.edge(email, sd1, 'event', 1);

      const result = g.solve();

      expect(idOf(result, email)).toBe(sd1.ownCustomerId);
    });

    it.each([
      ['manual', 'event'],
      ['manual', 'link'],
      ['link', 'review'],
      ['review', 'event'],
      ['event', 'bulk'],
    ] as const)('a later %s edge beats an earlier %s edge in a conflict', (strong, weak) => {
      const g = new Graph();
      const sd1 = g.member('sports-direct', 'SD1');
      const sd2 = g.member('sports-direct', 'SD2');
      const email = g.node('email', 'ana@example.com');
      const early = g.edge(email, sd1, weak, 1);
      const late = g.edge(email, sd2, strong, 10);

      const result = g.solve();

      expect(result.accepted.has(late.id)).toBe(true);
      expect(result.rejected).toEqual(
        new Map([[early.id, 'anchor conflict: two different member.sports-direct values never merge']]),
      );
      expect(idOf(result, email)).toBe(sd2.ownCustomerId);
    });
  });

  describe('blocked pairs', () => {
    it('refuses an edge between a blocked pair, in either order of the pair', () => {
      for (const reversed of [false, true]) {
        const g = new Graph();
        const a = g.node('email', 'a@example.com');
        const b = g.node('phone', '+447700900001');
        const edge = g.edge(a, b);

        const result = g.solve({ blocked: [reversed ? [b, a] : [a, b]] });

        expect(result.rejected).toEqual(new Map([[edge.id, BLOCKED_REASON]]));
        expect(idOf(result, a)).not.toBe(idOf(result, b));
      }
    });

    it('keeps a blocked pair apart through an indirect path', () => {
      const g = new Graph();
      const a = g.node('email', 'a@example.com');
      const b = g.node('email', 'b@example.com');
      const c = g.node('phone', '+447700900001');
      const first = g.edge(a, c, 'event', 1);
      const second = g.edge(c, b, 'event', 2);

      const result = g.solve({ blocked: [[a, b]] });

      expect(result.accepted).toEqual(new Set([first.id]));
      expect(result.rejected).toEqual(new Map([[second.id, BLOCKED_REASON]]));
      expect(idOf(result, c)).toBe(idOf(result, a));
      expect(idOf(result, b)).toBe(b.ownCustomerId);
    });

    it('still joins when the blocked pair names an identifier outside the graph', () => {
      const g = new Graph();
      const a = g.node('email', 'a@example.com');
      const c = g.node('phone', '+447700900001');
      g.edge(a, c);
      const outsider = { ...a, id: 5000 };

      const result = g.solve({ blocked: [[a, outsider]] });

      expect(result.rejected.size).toBe(0);
      expect(idOf(result, c)).toBe(idOf(result, a));
    });
  });

  describe('quarantine', () => {
    it('quarantines an email touching 4 member ids of one brand, and none of its edges count', () => {
      const g = new Graph();
      const email = g.node('email', 'family@example.com');
      const members = [1, 2, 3, 4].map((n) => g.member('sports-direct', `SD${n}`, n));
      const anon = g.node('anonymous_id', 'anon-1');
      const edges = [
        ...members.map((member, n) => g.edge(email, member, 'event', n)),
        g.edge(email, anon, 'manual', 9),
      ];

      const result = g.solve();

      const reason = 'quarantined email: one value touches 4 profiles (at most 3)';
      expect(result.quarantined).toEqual(new Map([[email.id, reason]]));
      expect(result.rejected).toEqual(new Map(edges.map((edge) => [edge.id, reason])));
      expect(result.accepted.size).toBe(0);
      for (const node of [email, anon, ...members]) expect(idOf(result, node)).toBe(node.ownCustomerId);
    });

    it('does not quarantine an email touching 3 member ids of one brand (the anchor rule keeps them apart)', () => {
      const g = new Graph();
      const email = g.node('email', 'family@example.com');
      const members = [1, 2, 3].map((n) => g.member('sports-direct', `SD${n}`, n));
      members.forEach((member, n) => g.edge(email, member, 'event', n));

      const result = g.solve();

      expect(result.quarantined.size).toBe(0);
      expect(idOf(result, email)).toBe(members[0].ownCustomerId);
      expect([...result.rejected.values()]).toEqual([
        'anchor conflict: two different member.sports-direct values never merge',
        'anchor conflict: two different member.sports-direct values never merge',
      ]);
    });

    it('counts anchors per kind: 4 member ids of 4 brands do not quarantine an email', () => {
      const g = new Graph();
      const email = g.node('email', 'ana@example.com');
      const members = ['sports-direct', 'flannels', 'group', 'evans'].map((brand) => g.member(brand, 'M1'));
      members.forEach((member) => g.edge(email, member));

      const result = g.solve();

      expect(result.quarantined.size).toBe(0);
      expect(result.rejected.size).toBe(0);
      expect(new Set(members.map((member) => idOf(result, member))).size).toBe(1);
    });

    it('counts distinct anchors, not edges: repeated edges to one member do not quarantine', () => {
      const g = new Graph();
      const email = g.node('email', 'ana@example.com');
      const member = g.member('sports-direct', 'SD1');
      for (const n of [0, 1, 2, 3, 4]) g.edge(email, member, 'event', n);

      const result = g.solve();

      expect(result.quarantined.size).toBe(0);
      expect(result.rejected.size).toBe(0);
    });

    it('uses the type limit: a device id touching 6 customer ids (at most 5)', () => {
      const g = new Graph();
      const device = g.node('device_id', 'till-7');
      const customers = [1, 2, 3, 4, 5, 6].map((n) => g.node('customer_id', `C${n}`));
      customers.forEach((customer) => g.edge(device, customer));

      const result = g.solve();

      expect(result.quarantined).toEqual(
        new Map([[device.id, 'quarantined device_id: one value touches 6 profiles (at most 5)']]),
      );
    });

    it('keeps an earlier quarantine (alreadyQuarantined) with its reason, even when the edges no longer call for it', () => {
      const g = new Graph();
      const email = g.node('email', 'shop@example.com');
      const customer = g.node('customer_id', 'C1');
      const edge = g.edge(email, customer);
      const stale = new Map([
        [email.id, 'quarantined email: one value touches 4 profiles (at most 3)'],
        [9999, 'quarantined phone: one value touches 9 profiles (at most 3)'],
      ]);

      const result = g.solve({ alreadyQuarantined: stale });

      expect(result.quarantined).toEqual(
        new Map([[email.id, 'quarantined email: one value touches 4 profiles (at most 3)']]),
      );
      expect(result.rejected).toEqual(
        new Map([[edge.id, 'quarantined email: one value touches 4 profiles (at most 3)']]),
      );
      expect(idOf(result, email)).toBe(email.ownCustomerId);
    });

    it('keeps the stored reason when the value would be quarantined again', () => {
      const g = new Graph();
      const email = g.node('email', 'family@example.com');
      for (const n of [1, 2, 3, 4, 5]) g.edge(email, g.member('sports-direct', `SD${n}`));

      const result = g.solve({ alreadyQuarantined: new Map([[email.id, 'quarantined by an operator']]) });

      expect(result.quarantined).toEqual(new Map([[email.id, 'quarantined by an operator']]));
    });
  });
});
