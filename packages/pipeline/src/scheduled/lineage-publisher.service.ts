import type { CatalogEvent } from '@tessera/events';
import type { IdentityOutbox, OutboxEvent } from '@tessera/identity-graph';
import type { ResolvedEvent } from '@tessera/queues';
import type { CustomerBrands } from './customer-brands.repository';
import type { IdentityLineageReader } from './identity-lineage.repository';
import { mergeBasisOf } from './merge-basis';

/** The CloudEvents source of the identity graph's own events, and the registered source they count under. */
export const LINEAGE_EVENT_SOURCE = 'tessera://identity-graph';
export const LINEAGE_SOURCE_ID = 'identity-graph';

export interface LineagePublisherOptions {
  outbox: Pick<IdentityOutbox, 'pending' | 'markPublished'>;
  lineage: Pick<IdentityLineageReader, 'merges' | 'survivors' | 'wereMembers'>;
  brands: Pick<CustomerBrands, 'brandsOf'>;
  /** Queues a route job under `jobId`; the same id twice must be one job (BullMQ's job id dedupe). */
  route(events: ResolvedEvent[], jobId: string): Promise<void>;
  /** Outbox events read at a time (default 500). */
  pageSize?: number;
  /** Pages one run publishes at most, so a backlog never holds the maintenance queue (default 20). */
  maxPages?: number;
  now?: () => Date;
}

export interface LineagePublishOutcome {
  /** Outbox events marked published. */
  published: number;
  /** Route events queued (one per event and brand). */
  routed: number;
  /** Events published without routing: a merge reversed before it went out, or a profile of no known brand. */
  skipped: number;
}

/**
 * Publishes the identity graph's transactional outbox (`membership.merged`, `membership.split`) to the route
 * stage: each event goes, as a `ResolvedEvent` on the survivor's current profile, to every brand the profiles
 * belong to; merges carry how they were made (basis, guest or member, time) for ESP merge calls. An event is
 * marked published only after its route job is queued, and each one's job id is its stable event id, so a
 * crash in between publishes it again as the same job (or, once that job is gone, the same item keys).
 */
export class LineagePublisher {
  private readonly pageSize: number;

  constructor(private readonly options: LineagePublisherOptions) {
    this.pageSize = options.pageSize ?? 500;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1)
      throw new RangeError(`pageSize must be a positive integer, got ${options.pageSize}`);
  }

  async publish(): Promise<LineagePublishOutcome> {
    const outcome: LineagePublishOutcome = { published: 0, routed: 0, skipped: 0 };
    const maxPages = this.options.maxPages ?? 20;
    for (let page = 0; page < maxPages; page++) {
      const pending = await this.options.outbox.pending(this.pageSize);
      if (pending.length === 0) break;
      const jobs = await this.routeEvents(pending);
      await Promise.all(jobs.map(({ events, jobId }) => this.options.route(events, jobId)));
      outcome.routed += jobs.reduce((sum, job) => sum + job.events.length, 0);
      outcome.skipped += pending.length - jobs.length;
      outcome.published += await this.options.outbox.markPublished(pending.map((event) => event.id));
      if (pending.length < this.pageSize) break;
    }
    return outcome;
  }

  /** One route job per outbox event that has somewhere to go. */
  private async routeEvents(pending: OutboxEvent[]): Promise<{ events: ResolvedEvent[]; jobId: string }[]> {
    const { lineage } = this.options;
    const lineageIds = pending.flatMap((event) => {
      const id = lineageIdOf(event.eventId);
      return event.type === 'membership.merged' && id !== undefined ? [id] : [];
    });
    const merges = await lineage.merges(lineageIds);
    const survivors = await lineage.survivors(
      pending.flatMap((event) => [event.data.to_customer_id, event.data.from_customer_id]),
    );
    const survivorOf = (event: OutboxEvent) =>
      survivors.get(event.data.to_customer_id) ?? event.data.to_customer_id;
    const members = await lineage.wereMembers(
      pending
        .filter((event) => event.type === 'membership.merged')
        .map((event) => ({ customerId: event.data.from_customer_id, survivor: survivorOf(event) })),
    );
    const brands = await this.options.brands.brandsOf(
      pending.flatMap((event) => [event.data.from_customer_id, event.data.to_customer_id, survivorOf(event)]),
    );
    const receivedAt = (this.options.now?.() ?? new Date()).toISOString();

    const jobs: { events: ResolvedEvent[]; jobId: string }[] = [];
    for (const event of pending) {
      const lineageId = lineageIdOf(event.eventId);
      const merge = lineageId === undefined ? undefined : merges.get(lineageId);
      // Reversed before anyone heard of it: nothing to tell a destination (the split that reversed it says so).
      if (event.type === 'membership.merged' && merge?.reverted === true) continue;
      const customerId = survivorOf(event);
      const eventBrands = new Set<string>();
      for (const id of [event.data.from_customer_id, event.data.to_customer_id, customerId])
        for (const brand of brands.get(id) ?? []) eventBrands.add(brand);
      if (eventBrands.size === 0) continue;
      const catalogEvent = {
        specversion: '1.0',
        id: event.eventId,
        source: LINEAGE_EVENT_SOURCE,
        type: event.type,
        time: event.createdAt.toISOString(),
        data: event.data,
      } as CatalogEvent;
      const events = [...eventBrands].sort().map((brand): ResolvedEvent => ({
        key: { sourceId: LINEAGE_SOURCE_ID, eventSource: LINEAGE_EVENT_SOURCE, eventId: event.eventId },
        brand,
        receivedAt,
        customerId,
        event: catalogEvent,
        ...(event.type === 'membership.merged'
          ? {
              merge: {
                // No lineage row to show how it was made: never claim certainty for an irreversible merge.
                basis: merge === undefined ? 'probabilistic' : mergeBasisOf(merge.edgeKinds),
                mergedWasGuest: members.get(event.data.from_customer_id) === false,
                mergedAt: event.createdAt.toISOString(),
              },
            }
          : {}),
      }));
      jobs.push({ events, jobId: `lineage-${event.eventId}` });
    }
    return jobs;
  }
}

/** The lineage row behind an outbox event id (`tessera-lineage-<id>`). */
export function lineageIdOf(eventId: string): number | undefined {
  const match = /^tessera-lineage-(\d{1,15})$/.exec(eventId);
  return match === null ? undefined : Number(match[1]);
}
