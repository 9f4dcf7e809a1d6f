import type { Sealed } from '@tessera/crypto';
import type { CatalogEvent } from '@tessera/events';
import type { InboundUnsubscribe, ProfileMerge } from '@tessera/destination-kit';
import type { DestinationOperation } from '@tessera/transform';

/** An accepted event as the intake hands it to the pipeline. */
export interface IngestedEvent {
  /** The registered source it came through (the path's `{sourceId}`). */
  sourceId: string;
  /** The brand that source belongs to. */
  brand: string;
  /** When Tessera accepted it (ISO 8601). */
  receivedAt: string;
  /** The source's own type name, when its typeMap translated it. */
  sourceType?: string;
  event: CatalogEvent;
}

/** What identifies an event for good: the registered source, the CloudEvents source and id. */
export interface EventKey {
  sourceId: string;
  eventSource: string;
  eventId: string;
}

/** What the identity graph knows of a merge it announces, and an ESP's merge call needs. */
export interface MergeLineage {
  basis: ProfileMerge['basis'];
  /** The merged-away profile had no member identity (no customer id, member id or card). */
  mergedWasGuest: boolean;
  /** When the graph merged them (ISO 8601). */
  mergedAt: string;
}

/** An event after resolution: its profile is known. */
export interface ResolvedEvent {
  key: EventKey;
  brand: string;
  receivedAt: string;
  customerId: string;
  event: CatalogEvent;
  /**
   * Set on the identity graph's own `membership.merged` events (the lineage publisher): the only ones the route
   * stage turns into an ESP merge (the loyalty platform's own event merges in the graph, which announces it).
   */
  merge?: MergeLineage;
  /**
   * Set on events Tessera makes for one plugin (the points-stagnation check): only that plugin runs, and only
   * at the destinations that configure it; rules and other plugins do not see the event.
   */
  onlyPlugin?: string;
  /** Set by a rehydration: its deliveries are full writes (`DeliveryItem.force`), whatever the sync state says. */
  fullWrite?: boolean;
}

/** One operation on its way to one destination instance, with what the retry schedule and the logs need. */
export interface DeliveryItem {
  operation: DestinationOperation;
  /** Idempotency key: an item with this key already delivered is not delivered again (replays). */
  itemKey: string;
  /** The event it came from (absent for operations Tessera starts itself: inbound sync, DSR, schedules). */
  event?: EventKey;
  customerId?: string;
  /** When Tessera accepted the originating event (ISO 8601): the end-to-end latency starts here. */
  receivedAt: string;
  /** Delivery attempts made so far. */
  attempts: number;
  /** First failed attempt (ISO 8601): the retry window (≥ 4 h and ≥ 3 attempts) runs from here. */
  firstFailedAt?: string;
  /**
   * A full write: sent whole even where the destination's sync state says it holds it already (replays,
   * rehydration, reconciliation repairs), and the sync state updated from the answer.
   */
  force?: boolean;
}

/**
 * Job data per job name. Events travel in batches (one job, many events) and sealed with the
 * queue-payload key, because Redis persists them to disk and they carry contact points.
 */
export interface JobDataMap {
  'resolve.events': { count: number; events: Sealed<IngestedEvent[]> };
  'route.events': { count: number; events: Sealed<ResolvedEvent[]> };
  /** Items for a destination, from before delivery windows: they join the destination's window. */
  'deliver.items': { destinationId: string; count: number; items: Sealed<DeliveryItem[]> };
  /** Takes what is ready in a destination's delivery window and delivers it (the items wait in the window). */
  'deliver.flush': { destinationId: string };
  /** Opt-outs an ESP reported through its webhook, verified by the intake. */
  'inbound.changes': { destinationId: string; count: number; changes: Sealed<InboundUnsubscribe[]> };
  /** Read a polling ESP's opt-outs since its stored cursor (run by a job scheduler). */
  'inbound.poll': { destinationId: string };
  /** Run a data subject's erasure at every destination (re-run: only the destinations not yet done). */
  'dsr.erasure': { requestId: string };
  /** Write a data subject's access export. */
  'dsr.access': { requestId: string };
  /** The daily retention run (raw events, delivery log, exports), by a job scheduler. */
  'maintenance.retention': Record<string, never>;
  /** Publishes the identity graph's outbox (`membership.merged` / `membership.split`) to the route stage. */
  'maintenance.lineage': Record<string, never>;
  /** The daily points-stagnation check for win-back: members whose points stopped moving are routed again. */
  'maintenance.stagnation': Record<string, never>;
  /** The hourly look at data subject requests due within 24 hours or overdue (metric, warnings, audit). */
  'maintenance.dsr-due': Record<string, never>;
  /** Every minute: profiles changed since the last run are scored for probable matches (merges, review queue). */
  'maintenance.matching': Record<string, never>;
}

export type JobName = keyof JobDataMap;

/** The queue each job name runs on. */
export const JOB_QUEUES = {
  'resolve.events': 'resolve',
  'route.events': 'route',
  'deliver.items': 'deliver',
  'deliver.flush': 'deliver',
  'inbound.changes': 'inbound',
  'inbound.poll': 'inbound',
  'dsr.erasure': 'dsr',
  'dsr.access': 'dsr',
  'maintenance.retention': 'maintenance',
  'maintenance.lineage': 'maintenance',
  'maintenance.stagnation': 'maintenance',
  'maintenance.dsr-due': 'maintenance',
  'maintenance.matching': 'maintenance',
} as const satisfies Record<JobName, string>;

export type QueueName = (typeof JOB_QUEUES)[JobName];

/**
 * The BullMQ queue of one destination instance: one queue each, so that one ESP's limits, pauses and
 * failures never hold up another's (BullMQ rate limits and pauses are per queue).
 */
export function deliverQueueName(destinationId: string): string {
  return `deliver-${destinationId}`;
}

/** The key purpose under which job payloads are sealed (see KeyRing). */
export const QUEUE_PAYLOAD_KEY_PURPOSE = 'queue-payload';
