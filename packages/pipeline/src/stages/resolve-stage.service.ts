import type { ConsentLedger, ConsentEntry, SuppressionList } from '@tessera/consent';
import { entriesFromConsentEvent } from '@tessera/consent';
import type { CatalogEvent, MembershipMergedData } from '@tessera/events';
import type { IdentityGraph, PlatformMerge } from '@tessera/identity-graph';
import { EventLinking } from '@tessera/identity-graph';
import type { EventKey, IngestedEvent, ResolvedEvent } from '@tessera/queues';
import type { PiiVault, SqlExecutor } from '@tessera/store';
import { eventKeyOf, eventKeyString, identityRecordOf } from './event-identity';
import { accountLinkOf } from './account-link';

/** How far the raw event log says each event has come: the resolve stage's authoritative dedupe. */
export interface EventProgress {
  customerId: string | null;
  resolved: boolean;
  routed: boolean;
  /** An erased person's event (its tombstone): done, never stored nor resolved again. */
  erased?: boolean;
}

/** The raw event log as the resolve stage uses it. */
export interface RawEventJournal {
  /** Stores each event once (unique on source and id); a repeat is ignored. */
  append(events: IngestedEvent[]): Promise<boolean[]>;
  /** Progress of each stored event, by `eventKeyString`. */
  progress(keys: EventKey[]): Promise<Map<string, EventProgress>>;
  /** Marks events resolved to their profile, inside the identity graph's transaction. */
  markResolved(
    assignments: { key: EventKey; customerId: string | null }[],
    executor: SqlExecutor,
  ): Promise<void>;
  /** Marks events handed to the route stage. */
  markRouted(keys: EventKey[]): Promise<void>;
  /** Deletes these events, leaving each its tombstone (an erased person's events). */
  erase(filter: { customerIds: readonly string[]; keys?: readonly EventKey[] }): Promise<unknown>;
  /** These customers registered again after an erasure: re-send paths stop treating them as erased. */
  untombstoneCustomers(customerIds: readonly string[]): Promise<void>;
}

export interface ResolveOutcome {
  /** Events in the job. */
  received: number;
  /** Repeats of an event already resolved and routed (an earlier job, or the same job twice). */
  duplicates: number;
  /**
   * Events of an erased person, dropped: retries of events an erasure removed (recognised by their tombstone),
   * and new events carrying only identifiers an erasure turned into tombstones (deleted, leaving one).
   */
  erased: number;
  /** Events resolved now. */
  resolved: number;
  /** Events with no usable identifier: kept in the raw log, not routed. */
  unresolved: number;
  /** Events handed to the route stage. */
  routed: number;
  /** The loyalty platform's `membership.merged` events that joined two profiles in the identity graph now. */
  merged: number;
  /** Those the graph refused (anchor conflict, blocked pair, …), with its reason: they route all the same. */
  mergesRefused: { key: EventKey; reason: string }[];
  /** `account.linked` events that linked something new to their member now (a guest merged in, an id joined). */
  linked: number;
  /** Those the graph refused (two members anchored by one type, a blocked pair, …), with its reason. */
  linksRefused: { key: EventKey; reason: string }[];
}

export interface ResolveStageOptions {
  journal: RawEventJournal;
  graph: IdentityGraph;
  ledger: ConsentLedger;
  vault: PiiVault;
  /** Hands resolved events to the route stage; must be idempotent for the same events (a deterministic job id). */
  route(events: ResolvedEvent[]): Promise<void>;
  /** Where a consent grant after an erasure ends the erasure's suppression for its brand (a registration). */
  suppressions?: Pick<SuppressionList, 'endErasure'>;
}

/** The graph merge a loyalty platform's `membership.merged` event asks for, or undefined for any other event. */
function platformMergeOf(ingested: IngestedEvent): PlatformMerge | undefined {
  if (ingested.event.type !== 'membership.merged') return undefined;
  const data = (ingested.event.data ?? {}) as Partial<MembershipMergedData>;
  if (typeof data.from_customer_id !== 'string' || typeof data.to_customer_id !== 'string') return undefined;
  return {
    fromCustomerId: data.from_customer_id,
    toCustomerId: data.to_customer_id,
    eventSource: ingested.event.source,
    eventId: ingested.event.id,
    eventTime: new Date(ingested.event.time ?? ingested.receivedAt),
    ...(data.reason === undefined ? {} : { reason: data.reason }),
  };
}

/**
 * The resolve stage, for one batch of accepted events:
 * 1. every event goes into the raw event log once (unique on source and id) — the authoritative dedupe;
 * 2. consent changes go into the consent ledger (idempotent: entries dedupe on the event);
 * 3. events not yet resolved are resolved by the identity graph, in the same transaction that marks them
 *    resolved, so a crash never applies an event twice (sums would double) nor loses it; the loyalty
 *    platform's `membership.merged` events merge their two profiles there too (`mergeByEvents`), and resolve
 *    to the survivor;
 * 4. resolved events not yet routed go to the route stage, then are marked routed.
 * A job run twice (a stalled job, a crash) redoes only what the log says is left.
 */
export class ResolveStage {
  constructor(private readonly options: ResolveStageOptions) {}

  async handle(events: IngestedEvent[]): Promise<ResolveOutcome> {
    const { journal, graph } = this.options;
    // One event per key, first occurrence: a batch may repeat an event.
    const unique = new Map<string, IngestedEvent>();
    for (const event of events) {
      const key = eventKeyString(eventKeyOf(event));
      if (!unique.has(key)) unique.set(key, event);
    }
    const batch = [...unique.values()];
    await journal.append(batch);
    const keys = batch.map(eventKeyOf);
    const progress = await journal.progress(keys);
    const pending = batch.filter(
      (event) => progress.get(eventKeyString(eventKeyOf(event)))?.resolved !== true,
    );

    await this.recordConsent(pending);

    const customerIds = new Map<string, string | null>();
    for (const [key, state] of progress) customerIds.set(key, state.customerId);
    // Only platform merges take this path: an ordinary batch pays one pass over its types.
    const merges = pending.flatMap((event, index) => {
      const merge = platformMergeOf(event);
      return merge === undefined ? [] : [{ index, merge }];
    });
    let merged = 0;
    const mergesRefused: ResolveOutcome['mergesRefused'] = [];
    const linksRefused: ResolveOutcome['linksRefused'] = [];
    let linked = 0;
    const erasedNow: EventKey[] = [];
    const registered: string[] = [];
    if (pending.length > 0) {
      const records = pending.map(identityRecordOf);
      await graph.resolveIdentities(records, {
        alsoInTransaction: async (tx, result) => {
          const resolvedTo = pending.map((_, index) => result.records[index]?.customerId ?? null);
          result.records.forEach((record, index) => {
            if (record.erased === true) erasedNow.push(eventKeyOf(pending[index]));
            else if (record.customerId !== null && records[index].registeredAt !== undefined)
              registered.push(record.customerId);
          });
          if (merges.length > 0) {
            const outcomes = await graph.mergeByEvents(
              tx,
              merges.map(({ merge }) => merge),
            );
            // Counted where they are applied: a re-run job finds the events resolved and merges nothing again.
            outcomes.forEach((outcome, position) => {
              const { index } = merges[position];
              if (outcome.status === 'refused') {
                mergesRefused.push({ key: eventKeyOf(pending[index]), reason: outcome.reason });
                return;
              }
              if (outcome.status === 'merged') merged += 1;
              resolvedTo[index] = outcome.customerId;
            });
            // A merge may have retired a profile other events of the batch resolved to: they go to its survivor.
            if (merged > 0) {
              const survivors = await graph.survivorsOf(
                tx,
                resolvedTo.filter((id): id is string => id !== null),
              );
              resolvedTo.forEach((id, index) => {
                if (id !== null) resolvedTo[index] = survivors.get(id) ?? id;
              });
            }
          }
          linked = await this.applyLinks(tx, pending, resolvedTo, linksRefused);
          const assignments = pending.map((event, index) => ({
            key: eventKeyOf(event),
            customerId: resolvedTo[index],
          }));
          for (const assignment of assignments) {
            customerIds.set(eventKeyString(assignment.key), assignment.customerId);
          }
          await journal.markResolved(assignments, tx);
        },
      });
    }

    // An erased person's new event: nothing of it is kept (its key is, hashed, so a retry is known).
    if (erasedNow.length > 0) await journal.erase({ customerIds: [], keys: erasedNow });
    if (registered.length > 0) await journal.untombstoneCustomers(registered);
    const erasedNames = new Set(erasedNow.map(eventKeyString));
    const toRoute: ResolvedEvent[] = [];
    let unresolved = 0;
    for (const event of batch) {
      const key = eventKeyOf(event);
      const name = eventKeyString(key);
      if (progress.get(name)?.routed === true || erasedNames.has(name)) continue;
      const customerId = customerIds.get(name) ?? null;
      if (customerId === null) {
        unresolved += 1;
        continue;
      }
      toRoute.push({ key, brand: event.brand, receivedAt: event.receivedAt, customerId, event: event.event });
    }
    if (toRoute.length > 0) {
      await this.options.route(toRoute);
      await journal.markRouted(toRoute.map((event) => event.key));
    }
    const alreadyDone = batch.filter(
      (event) => progress.get(eventKeyString(eventKeyOf(event)))?.routed === true,
    );
    return {
      received: events.length,
      duplicates: events.length - batch.length + alreadyDone.length,
      erased:
        alreadyDone.filter((event) => progress.get(eventKeyString(eventKeyOf(event)))?.erased === true)
          .length + erasedNow.length,
      resolved: pending.length,
      unresolved,
      routed: toRoute.length,
      merged,
      mergesRefused,
      linked,
      linksRefused,
    };
  }

  /**
   * The batch's `account.linked` events, in the resolve transaction: each links its `data.link` to its member
   * (`EventLinking`: a link edge, lineage, all or nothing) and resolves to the member; events of the batch that
   * resolved to a profile a link merged away go to the member too. Returns how many linked something new.
   */
  private async applyLinks(
    tx: SqlExecutor,
    pending: IngestedEvent[],
    resolvedTo: (string | null)[],
    refused: ResolveOutcome['linksRefused'],
  ): Promise<number> {
    const links = pending.flatMap((event, index) => {
      const link = accountLinkOf(event);
      return link === undefined ? [] : [{ index, link }];
    });
    if (links.length === 0) return 0;
    const { graph } = this.options;
    const outcomes = await new EventLinking(graph).linkByEvents(
      tx,
      links.map(({ link }) => link),
    );
    let linked = 0;
    outcomes.forEach((outcome, position) => {
      const { index } = links[position];
      if (outcome.status === 'refused') {
        refused.push({ key: eventKeyOf(pending[index]), reason: outcome.reason });
        return;
      }
      if (outcome.status === 'linked') linked += 1;
      resolvedTo[index] = outcome.customerId;
    });
    if (linked > 0) {
      const survivors = await graph.survivorsOf(
        tx,
        resolvedTo.filter((id): id is string => id !== null),
      );
      resolvedTo.forEach((id, index) => {
        if (id !== null) resolvedTo[index] = survivors.get(id) ?? id;
      });
    }
    return linked;
  }

  private async recordConsent(events: IngestedEvent[]): Promise<void> {
    const entries: ConsentEntry[] = [];
    for (const ingested of events) {
      if (ingested.event.type !== 'consent.changed') continue;
      const { entries: fromEvent } = entriesFromConsentEvent(
        ingested.event as CatalogEvent<'consent.changed'>,
        {
          vault: this.options.vault,
          defaultCountry: this.options.graph.defaultCountry(ingested.brand),
          sourceId: ingested.sourceId,
          receivedAt: new Date(ingested.receivedAt),
        },
      );
      entries.push(...fromEvent);
    }
    if (entries.length === 0) return;
    await this.options.ledger.append(entries);
    // A grant is the member registering: an erasure's suppression captured before it ends for its brand.
    const { suppressions, graph } = this.options;
    if (suppressions === undefined) return;
    for (const entry of entries) {
      if (entry.decision !== 'granted') continue;
      await suppressions.endErasure(
        entry.subject.key,
        entry.scope.brand,
        new Date(entry.provenance.capturedAt),
        graph.brandIds(),
      );
    }
  }
}
