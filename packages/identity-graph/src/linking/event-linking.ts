import { insertRows, type SqlExecutor } from '@tessera/store';
import { IdentityChangeRefusedError, type IdentityGraph } from '../identity-graph';
import {
  identifierLabel,
  normalizeIdentifiers,
  type DroppedIdentifier,
  type RawIdentifiers,
} from '../identifiers';
import {
  identifiersOfCustomers,
  prepareIdentifierRows,
  upsertIdentifiers,
  type IdentifierRow,
  type NewEdge,
} from '../resolution/graph-repository';
import { entryOf } from '../resolution/entry-of';

/** An `account.linked` event: the member it names (its own identifiers) proved `link` is theirs too. */
export interface EventLink {
  /** The brand the event came in for (phones without a country take its default; member ids its scope). */
  brand: string;
  /** The event's identifiers: the member. */
  member: RawIdentifiers;
  /** `data.link`: a guest's anonymous id, a legacy member id of a brand, … */
  link: RawIdentifiers;
  /** `data.method`: how the member proved it (`login`, `verified_email`, …). */
  method?: string;
  eventSource: string;
  eventId: string;
  eventTime: Date;
}

/**
 * `linked`: the named identifiers (and the profiles they were in) are the member's now; `lineageIds` are the
 * merges and joins it wrote, each reversible by `unmerge`. `unchanged`: they already were. `refused`: nothing
 * linked, the reason recorded in `identity_rejected_edges` against the event.
 */
export type EventLinkOutcome =
  | { status: 'linked' | 'unchanged'; customerId: string; lineageIds: number[] }
  | { status: 'refused'; reason: string };

/** The lineage basis of a join an `account.linked` event made. */
export const ACCOUNT_LINKED_BASIS = 'account.linked';

const capKeyOf = (node: IdentifierRow) => `${node.type}\u0000${node.scope}`;
const describe = (dropped: DroppedIdentifier[]) =>
  dropped.length === 0 ? '' : ` (${dropped.map((entry) => `${entry.field}: ${entry.reason}`).join('; ')})`;

/**
 * Applies `account.linked` events: each identifier of `data.link` is joined to the member the event names by a
 * `link` edge attributed to the event (ranked above inferred edges), so a guest's profile — its identifiers,
 * traits and history — is merged into the member's, with lineage (basis `account.linked`, the event's id) and
 * reversible by `unmerge`. A link that would join two members anchored by the same identifier type (two group
 * customer ids, two member ids of one brand, two cards) is refused, as is one the graph's rules refuse (a
 * blocked pair, a cap, splitting a third profile): nothing is linked and the reason is recorded.
 */
export class EventLinking {
  constructor(private readonly graph: IdentityGraph) {}

  /** Applies links in order, in the caller's transaction under the graph's write lock; each all or nothing. */
  async linkByEvents(tx: SqlExecutor, links: readonly EventLink[]): Promise<EventLinkOutcome[]> {
    const outcomes: EventLinkOutcome[] = [];
    for (const link of links) outcomes.push(await this.apply(tx, link));
    return outcomes;
  }

  /** One link in a transaction of its own. */
  linkByEvent(link: EventLink): Promise<EventLinkOutcome> {
    return this.graph.write(async (tx) => (await this.linkByEvents(tx, [link]))[0]);
  }

  private async apply(tx: SqlExecutor, link: EventLink): Promise<EventLinkOutcome> {
    const { config } = this.graph;
    const context = { defaultCountry: this.graph.defaultCountry(link.brand), brand: link.brand };
    const member = normalizeIdentifiers(link.member, context, config);
    const linked = normalizeIdentifiers(link.link, context, config);
    if (member.identifiers.length === 0) {
      return {
        status: 'refused',
        reason: `account.linked names no usable member identifier${describe(member.dropped)}`,
      };
    }
    if (linked.identifiers.length === 0) {
      return {
        status: 'refused',
        reason: `account.linked: data.link names no usable identifier${describe(linked.dropped)}`,
      };
    }
    const upsert = async () => {
      const rows = await upsertIdentifiers(
        tx,
        prepareIdentifierRows(
          [...member.identifiers, ...linked.identifiers].map((identifier) => ({
            identifier,
            seenAt: link.eventTime,
          })),
          this.graph.keys,
          config,
        ),
        this.graph.keys,
      );
      const rowOf = (identifier: (typeof member.identifiers)[number]) =>
        entryOf(rows, this.graph.keys.key(identifier));
      return {
        anchor: rowOf(member.identifiers[0]),
        targets: linked.identifiers.map(rowOf).filter((row) => row.id !== rowOf(member.identifiers[0]).id),
        fresh: [
          ...new Map([...rows.values()].filter((row) => row.isNew).map((row) => [row.id, row])).values(),
        ],
      };
    };

    await tx.query('SAVEPOINT account_link');
    let rows: Awaited<ReturnType<typeof upsert>> | undefined;
    try {
      rows = await upsert();
      const { anchor, targets, fresh } = rows;
      const apart = targets.some((row) => row.isNew || row.customerId !== anchor.customerId);
      const conflict = await this.sameTypeAnchors(tx, anchor, targets);
      if (conflict !== undefined) throw new IdentityChangeRefusedError(conflict);
      const edges: NewEdge[] = targets.map((target) => ({
        a: anchor.id,
        b: target.id,
        kind: 'link',
        eventTime: link.eventTime,
        eventSource: link.eventSource,
        eventId: link.eventId,
        consentReference: `account.linked:${link.method ?? 'unspecified'}`,
      }));
      const result = await this.graph.connect(
        tx,
        edges,
        {
          rule: `account link: account.linked${link.method === undefined ? '' : ` (${link.method})`}`,
          eventSource: link.eventSource,
          eventId: link.eventId,
          basis: ACCOUNT_LINKED_BASIS,
        },
        targets.map((target) => [anchor.id, target.id]),
        fresh,
      );
      await tx.query('RELEASE SAVEPOINT account_link');
      return {
        status: apart ? 'linked' : 'unchanged',
        customerId: entryOf(result.customerIdOf, anchor.id),
        lineageIds: [...result.merges, ...result.joins]
          .map((change) => change.lineageId)
          .sort((a, b) => a - b),
      };
    } catch (error) {
      await tx.query('ROLLBACK TO SAVEPOINT account_link');
      await tx.query('RELEASE SAVEPOINT account_link');
      if (!(error instanceof IdentityChangeRefusedError) || rows === undefined) throw error;
      await this.recordRefusal(tx, link, await upsert(), error.message);
      return { status: 'refused', reason: error.message };
    }
  }

  /**
   * Why the link would join two members anchored by the same identifier type, or undefined: the member's
   * anchors against those of each profile being linked (or of a linked anchor never seen before).
   */
  private async sameTypeAnchors(
    tx: SqlExecutor,
    anchor: IdentifierRow,
    targets: IdentifierRow[],
  ): Promise<string | undefined> {
    const others = targets.filter((row) => row.isNew || row.customerId !== anchor.customerId);
    if (others.length === 0) return undefined;
    const known = await identifiersOfCustomers(tx, [
      ...new Set([anchor, ...others].filter((row) => !row.isNew).map((row) => row.customerId)),
    ]);
    const anchorsOf = (customerId: string) =>
      known.filter((row) => row.customerId === customerId && row.anchor && row.quarantinedReason === null);
    const mine = anchor.isNew ? (anchor.anchor ? [anchor] : []) : anchorsOf(anchor.customerId);
    for (const other of others) {
      const theirs = other.isNew ? (other.anchor ? [other] : []) : anchorsOf(other.customerId);
      for (const a of mine) {
        const b = theirs.find((candidate) => capKeyOf(candidate) === capKeyOf(a) && candidate.key !== a.key);
        if (b === undefined) continue;
        const shown = (row: IdentifierRow) => (this.graph.config.types[row.type].pii ? '***' : row.key);
        return `account.linked would join two members anchored by ${identifierLabel(a)} (${shown(a)} and ${shown(b)}): never linked`;
      }
    }
    return undefined;
  }

  /**
   * A refused link leaves the identifiers the event named known to the graph (as any event naming them would),
   * each in its own profile if new, and the refusal against the event in `identity_rejected_edges`.
   */
  private async recordRefusal(
    tx: SqlExecutor,
    link: EventLink,
    rows: { anchor: IdentifierRow; targets: IdentifierRow[]; fresh: IdentifierRow[] },
    reason: string,
  ): Promise<void> {
    if (rows.fresh.length > 0)
      await this.graph.connect(
        tx,
        [],
        { rule: 'account link refused', eventSource: link.eventSource, eventId: link.eventId },
        [],
        rows.fresh,
      );
    await insertRows(
      tx,
      'identity_rejected_edges',
      ['low_identifier', 'high_identifier', 'reason', 'event_source', 'event_id'],
      rows.targets.map((target) => {
        const [low, high] =
          rows.anchor.id < target.id ? [rows.anchor.id, target.id] : [target.id, rows.anchor.id];
        return [low, high, reason, link.eventSource, link.eventId];
      }),
    );
  }
}
