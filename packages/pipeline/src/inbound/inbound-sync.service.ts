import { createHash } from 'node:crypto';
import {
  consentContactPoint,
  planInboundUnsubscribes,
  type ConsentLedger,
  type SuppressionList,
} from '@tessera/consent';
import type { InboundSubscribedSighting, InboundUnsubscribe } from '@tessera/destination-kit';
import type { IdentityGraph } from '@tessera/identity-graph';
import type { DeliveryItem, EventKey } from '@tessera/queues';
import type { PiiVault } from '@tessera/store';
import type { DestinationDirectory } from '../destination-directory';
import { UNCHANGED_DETAIL } from '../stages/change-only-writes';
import type { DeliveryLog } from '../store/delivery-log.repository';
import type { DestinationSyncState } from '../store/destination-sync-state.repository';
import { InboundSightingBook } from '../store/inbound-sighting-book.repository';
import { redactContactPoints } from '../store/store-helpers';

/** An ESP's change time within this of Tessera's own delivered unsubscribe marks the change as its echo. */
export const ECHO_WINDOW_MS = 10 * 60_000;
/**
 * A polled opt-out younger than this, not explained by a logged delivery, waits for the next poll: the delivery
 * that caused it may not be logged yet (the ESP applies a write before the flush that sent it settles).
 */
export const ECHO_SETTLE_MS = 30_000;
/** How far back an opt-out timed by observation looks for an unsubscribe Tessera sent (bounded by the sighting). */
export const OBSERVED_ECHO_LOOKBACK_MS = 24 * 60 * 60_000;
/**
 * Where a forwarded item came from, as the delivery log and dead letters keep an event's key: source
 * `inbound:<reporting destination>`, event source `esp:<reporting destination>` (the ledger entry's source) and
 * the ESP's event id with any contact point in it redacted (Braze's ids carry the email; stored texts hold none).
 */
export function inboundOrigin(destinationId: string, espEventId: string): EventKey {
  return {
    sourceId: `${INBOUND_SOURCE_PREFIX}${destinationId}`,
    eventSource: `esp:${destinationId}`,
    eventId: redactContactPoints(espEventId),
  };
}

/** The source id prefix of items an inbound change caused (the profile API and the delivery log show it). */
export const INBOUND_SOURCE_PREFIX = 'inbound:';

/** The operations by which Tessera itself withdraws a member at an ESP, per channel. */
const WITHDRAWING_OPERATIONS: Record<InboundUnsubscribe['channel'], readonly string[]> = {
  email: ['unsubscribe', 'suppress'],
  sms: ['unsubscribe'],
};

export interface InboundSyncOutcome {
  /** Withdrawals appended to the consent ledger (repeats of an ESP event are not counted). */
  recorded: number;
  suppressed: number;
  /** Operations handed to the brand's other destinations. */
  forwarded: number;
  /** Opt-outs whose contact point matches no profile: recorded in the ledger, carried nowhere. */
  unmatched: number;
  /** Opt-outs that were Tessera's own unsubscribes read back (echoes): neither recorded nor carried. */
  echoes: number;
  /** Fresh opt-outs left for the next poll (`deferFresh`): neither recorded nor carried yet. */
  deferred: number;
}

export interface InboundSyncOptions {
  directory: DestinationDirectory;
  graph: Pick<IdentityGraph, 'resolveReference' | 'store' | 'defaultCountry'>;
  ledger: Pick<ConsentLedger, 'append'>;
  suppressions: Pick<SuppressionList, 'suppress'>;
  vault: PiiVault;
  deliver(destinationId: string, items: DeliveryItem[]): Promise<void>;
  /** What Tessera sent (echo recognition); without it every opt-out is taken as the member's. */
  sent?: Pick<DeliveryLog, 'sentBetween'>;
  /** What each destination holds as far as Tessera knows (the subscription state it last wrote). */
  syncState?: Pick<DestinationSyncState, 'read'>;
  /** When each ESP was last seen holding a contact point subscribed (observed-time opt-outs). */
  sightings?: Pick<InboundSightingBook, 'record' | 'lastSeen'>;
  /** Default ECHO_WINDOW_MS. */
  echoWindowMs?: number;
  /** Default ECHO_SETTLE_MS. */
  settleMs?: number;
  now?: () => Date;
}

/**
 * Two-way sync, Tessera side: opt-outs one ESP reported (a webhook or a poll) go into the consent ledger (and
 * ESP suppressions into the suppression list), and out to the brand's other destinations as `unsubscribe` /
 * `suppress`, so an opt-out in one ESP is an opt-out in all of them. Opt-outs that name no customer are
 * matched to a profile by their contact point first. Idempotent: the ledger dedupes on the ESP's event id and
 * the forwarded items have deterministic keys.
 *
 * Echoes: an opt-out that is Tessera's own unsubscribe or suppression read back (a delivered `unsubscribe` /
 * `suppress` to that destination for that customer within `echoWindowMs` of the ESP's change time) is not the
 * member's act and is neither recorded nor carried. An opt-out the ESP gave no change time for is an echo when
 * Tessera sent one since the ESP was last seen holding the member subscribed and has not subscribed them since.
 */
export class InboundSync {
  private readonly now: () => Date;

  constructor(private readonly options: InboundSyncOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async handle(
    destinationId: string,
    changes: InboundUnsubscribe[],
    /** Members the poll saw subscribed (recorded first: the bound for observed-time opt-outs). */
    subscribed: readonly InboundSubscribedSighting[] = [],
    /**
     * A poll passes true: opt-outs younger than `settleMs` that are not (yet) explained by a delivery are left
     * for the next poll (reported in `deferred`; the caller keeps its cursor), since Tessera logs a delivery only
     * once the flush that sent it settled and the ESP may report it back before then.
     */
    deferFresh = false,
  ): Promise<InboundSyncOutcome> {
    const { directory, graph } = this.options;
    const destination = directory.get(destinationId);
    if (destination === undefined) throw new Error(`Unknown destination "${destinationId}"`);
    const defaultCountry = graph.defaultCountry(destination.brand);
    await this.recordSightings(destinationId, subscribed, defaultCountry);
    const matched = await this.matchCustomers(changes);
    const lastSeen = await this.lastSeenSubscribed(destinationId, matched, defaultCountry);
    const echoes = await this.echoesOf(destinationId, matched, lastSeen);
    const freshFrom = this.now().getTime() - (this.options.settleMs ?? ECHO_SETTLE_MS);
    const deferred = deferFresh
      ? matched.filter(
          (change) =>
            !echoes.has(change) &&
            change.customerId !== undefined &&
            change.timeBasis !== 'observed' &&
            Date.parse(change.occurredAt) > freshFrom,
        )
      : [];
    const genuine = matched.filter((change) => !echoes.has(change) && !deferred.includes(change));
    const plan = planInboundUnsubscribes(genuine, {
      vault: this.options.vault,
      defaultCountry,
      brand: destination.brand,
      destinationId,
      receivedAt: this.now(),
      brandDestinations: directory.destinationsOf(destination.brand).map((candidate) => candidate.id),
      seenSubscribedAt: (change) => lastSeen.get(change)?.toISOString(),
    });
    const appended = plan.entries.length > 0 ? await this.options.ledger.append(plan.entries) : undefined;
    const suppressed =
      plan.suppressions.length > 0 ? await this.options.suppressions.suppress(plan.suppressions) : 0;
    const byDestination = new Map<string, DeliveryItem[]>();
    const receivedAt = this.now().toISOString();
    for (const routed of plan.operations) {
      const items = byDestination.get(routed.destinationId) ?? [];
      const item = routed.operation.item as { customerId: string };
      items.push({
        operation: routed.operation,
        itemKey: createHash('sha256')
          .update(
            `inbound\u0000${destinationId}\u0000${routed.destinationId}\u0000${routed.operation.operation}\u0000${JSON.stringify(routed.operation.item)}`,
          )
          .digest('base64url')
          .slice(0, 32),
        customerId: item.customerId,
        event: inboundOrigin(destinationId, routed.espEventId),
        receivedAt,
        attempts: 0,
      });
      byDestination.set(routed.destinationId, items);
    }
    for (const [target, items] of byDestination) await this.options.deliver(target, items);
    return {
      recorded: appended?.appended ?? 0,
      suppressed,
      forwarded: plan.operations.length,
      unmatched: plan.unresolved.length,
      echoes: echoes.size,
      deferred: deferred.length,
    };
  }

  /** The blind index of a change's or sighting's contact point, undefined when it names none that normalizes. */
  private subjectKeyOf(
    values: { channel: 'email' | 'sms'; email?: string; phone?: string },
    defaultCountry: string,
  ): string | undefined {
    const subject = consentContactPoint(
      values.channel,
      { email: values.email, phone: values.phone },
      this.options.vault,
      defaultCountry,
    );
    return subject.ok ? subject.key : undefined;
  }

  private async recordSightings(
    destinationId: string,
    subscribed: readonly InboundSubscribedSighting[],
    defaultCountry: string,
  ): Promise<void> {
    const book = this.options.sightings;
    if (book === undefined || subscribed.length === 0) return;
    const sightings = subscribed.flatMap((sighting) => {
      const subjectKey = this.subjectKeyOf(sighting, defaultCountry);
      const seenAt = new Date(sighting.seenAt);
      return subjectKey === undefined || Number.isNaN(seenAt.getTime())
        ? []
        : [{ subjectKey, channel: sighting.channel, seenAt }];
    });
    await book.record(destinationId, sightings);
  }

  /** For each opt-out timed by observation: when the ESP was last seen holding its contact point subscribed. */
  private async lastSeenSubscribed(
    destinationId: string,
    changes: readonly InboundUnsubscribe[],
    defaultCountry: string,
  ): Promise<Map<InboundUnsubscribe, Date>> {
    const seen = new Map<InboundUnsubscribe, Date>();
    const book = this.options.sightings;
    const observed = changes.flatMap((change) => {
      if (change.timeBasis !== 'observed') return [];
      const subjectKey = this.subjectKeyOf(change, defaultCountry);
      return subjectKey === undefined ? [] : [{ change, key: { subjectKey, channel: change.channel } }];
    });
    if (book === undefined || observed.length === 0) return seen;
    const known = await book.lastSeen(
      destinationId,
      observed.map(({ key }) => key),
    );
    for (const { change, key } of observed) {
      const at = known.get(InboundSightingBook.key(key));
      if (at !== undefined) seen.set(change, at);
    }
    return seen;
  }

  /** The opt-outs that are Tessera's own withdrawals read back (see the class comment). */
  private async echoesOf(
    destinationId: string,
    changes: readonly InboundUnsubscribe[],
    lastSeen: ReadonlyMap<InboundUnsubscribe, Date>,
  ): Promise<Set<InboundUnsubscribe>> {
    const echoes = new Set<InboundUnsubscribe>();
    const { sent, syncState } = this.options;
    if (sent === undefined) return echoes;
    const window = this.options.echoWindowMs ?? ECHO_WINDOW_MS;
    const candidates = changes.flatMap((change) => {
      const at = Date.parse(change.occurredAt);
      if (change.customerId === undefined || Number.isNaN(at)) return [];
      const customerId = change.customerId;
      if (change.timeBasis !== 'observed')
        return [{ change, customerId, from: at - window, to: at + window }];
      const seen = lastSeen.get(change)?.getTime() ?? Number.NEGATIVE_INFINITY;
      return [{ change, customerId, from: Math.max(seen, at - OBSERVED_ECHO_LOOKBACK_MS), to: at }];
    });
    if (candidates.length === 0) return echoes;
    const customerIds = [...new Set(candidates.map((candidate) => candidate.customerId))];
    const deliveries = await sent.sentBetween({
      destinationId,
      customerIds,
      operations: WITHDRAWING_OPERATIONS.email,
      from: new Date(Math.min(...candidates.map((candidate) => candidate.from))),
      to: new Date(Math.max(...candidates.map((candidate) => candidate.to))),
      skipDetail: UNCHANGED_DETAIL,
    });
    if (deliveries.length === 0) return echoes;
    const anyObserved = candidates.some((candidate) => candidate.change.timeBasis === 'observed');
    const held =
      anyObserved && syncState !== undefined ? await syncState.read(destinationId, customerIds) : undefined;
    for (const { change, customerId, from, to } of candidates) {
      // Timed by observation, the ESP's state is Tessera's echo only if Tessera has not subscribed them since.
      if (
        change.timeBasis === 'observed' &&
        held?.get(customerId)?.subscriptions[change.channel] === 'subscribed'
      )
        continue;
      const operations = WITHDRAWING_OPERATIONS[change.channel];
      const echoed = deliveries.some(
        (delivery) =>
          delivery.customerId === customerId &&
          operations.includes(delivery.operation) &&
          delivery.at.getTime() >= from &&
          delivery.at.getTime() <= to,
      );
      if (echoed) echoes.add(change);
    }
    return echoes;
  }

  /** Fills in the customer id of opt-outs that carry only a contact point, from the identity graph. */
  private async matchCustomers(changes: InboundUnsubscribe[]): Promise<InboundUnsubscribe[]> {
    const { graph } = this.options;
    const matched: InboundUnsubscribe[] = [];
    for (const change of changes) {
      if (change.customerId !== undefined) {
        matched.push(change);
        continue;
      }
      const contact = change.channel === 'email' ? change.email : change.phone;
      const type = change.channel === 'email' ? 'email' : 'phone';
      let customerId: string | undefined;
      if (contact !== undefined) {
        try {
          customerId = await graph.resolveReference(graph.store, `${type}:${contact}`);
        } catch {
          customerId = undefined; // a contact point that does not normalize matches no profile
        }
      }
      matched.push(customerId === undefined ? change : { ...change, customerId });
    }
    return matched;
  }
}
