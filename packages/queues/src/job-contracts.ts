import type { Sealed } from '@tessera/crypto';
import type { CatalogEvent } from '@tessera/events';

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

/**
 * Job data per job name. Events travel in batches (one job, many events) and sealed with the
 * queue-payload key, because Redis persists them to disk and they carry contact points.
 */
export interface JobDataMap {
  'resolve.events': { count: number; events: Sealed<IngestedEvent[]> };
}

export type JobName = keyof JobDataMap;

/** The queue each job name runs on. */
export const JOB_QUEUES = {
  'resolve.events': 'resolve',
} as const satisfies Record<JobName, string>;

export type QueueName = (typeof JOB_QUEUES)[JobName];

/** The key purpose under which job payloads are sealed (see KeyRing). */
export const QUEUE_PAYLOAD_KEY_PURPOSE = 'queue-payload';
