import { Counter, Gauge, type Registry } from 'prom-client';
import type { JobQueue } from '@tessera/queues';

export type EventOutcome = 'accepted' | 'duplicate' | 'rejected';

/** What the intake counts: events by outcome, type and source; the resolve queue's depth on each scrape. */
export class IntakeMetrics {
  private readonly events: Counter<'source' | 'type' | 'status'>;

  constructor(registry: Registry, resolveQueue?: JobQueue<'resolve'>) {
    this.events = new Counter({
      name: 'tessera_ingest_events_total',
      help: 'Events received by the intake, by outcome (accepted, duplicate, rejected), catalog type and source.',
      labelNames: ['source', 'type', 'status'],
      registers: [registry],
    });
    if (resolveQueue !== undefined) {
      new Gauge({
        name: 'tessera_queue_jobs',
        help: 'Jobs in a pipeline queue by state (each resolve job carries a batch of events).',
        labelNames: ['queue', 'state'],
        registers: [registry],
        async collect() {
          const counts = await resolveQueue.queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
          for (const [state, count] of Object.entries(counts))
            this.set({ queue: resolveQueue.name, state }, count);
        },
      });
    }
  }

  /** `type` must already be a catalog type or `unknown`, so labels stay bounded. */
  count(source: string, type: string, status: EventOutcome, by = 1): void {
    this.events.inc({ source, type, status }, by);
  }
}
