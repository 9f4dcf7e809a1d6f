import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The playbook's SLA: an update is at the ESP within 10 minutes of its event's arrival. */
export const DELIVERY_SLA_SECONDS = 600;

/**
 * What the pipeline counts, on every worker process: deliveries by destination and result, failures by
 * class, retries, dead letters, the end-to-end latency from ingest to ESP acceptance (and so the share
 * within the SLA), paused destinations, dropped events and queue depths.
 */
export class PipelineMetrics {
  private readonly deliveries: Counter<'destination' | 'status'>;
  private readonly failures: Counter<'destination' | 'class'>;
  private readonly retries: Counter<'destination'>;
  private readonly dropped: Counter<'destination' | 'reason'>;
  private readonly withinSla: Counter<'destination'>;
  private readonly latency: Histogram<'destination'>;
  private readonly paused: Gauge<'destination'>;
  private readonly stageEvents: Counter<'stage' | 'outcome'>;
  private readonly dsrDue: Gauge<'state'>;
  private readonly echoes: Counter<'destination'>;

  constructor(
    registry: Registry,
    collectors: {
      /** Dead letters waiting, by destination (read on each scrape). */
      deadLetters?: () => Promise<Map<string, number>>;
      /** Jobs per queue and state (read on each scrape). */
      queueDepths?: () => Promise<{ queue: string; state: string; count: number }[]>;
    } = {},
  ) {
    this.deliveries = new Counter({
      name: 'tessera_deliveries_total',
      help: 'Items settled by the deliver stage, by destination and result (delivered, dead_lettered, dropped).',
      labelNames: ['destination', 'status'],
      registers: [registry],
    });
    this.failures = new Counter({
      name: 'tessera_delivery_failures_total',
      help: 'Failed delivery attempts by destination and error class (rejected, retryable, auth).',
      labelNames: ['destination', 'class'],
      registers: [registry],
    });
    this.retries = new Counter({
      name: 'tessera_delivery_retries_total',
      help: 'Items put back on a deliver queue to be tried again, by destination.',
      labelNames: ['destination'],
      registers: [registry],
    });
    this.dropped = new Counter({
      name: 'tessera_route_dropped_total',
      help: 'Events not routed to a destination, by destination and reason (disabled, consent).',
      labelNames: ['destination', 'reason'],
      registers: [registry],
    });
    this.withinSla = new Counter({
      name: 'tessera_delivered_within_sla_total',
      help: `Items accepted by the ESP within ${DELIVERY_SLA_SECONDS / 60} minutes of their event's arrival; divide by tessera_deliveries_total{status="delivered"} for the share.`,
      labelNames: ['destination'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'tessera_end_to_end_latency_seconds',
      help: 'From the ingest accepting an event to the ESP accepting its update, by destination.',
      labelNames: ['destination'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 1800, 3600],
      registers: [registry],
    });
    this.paused = new Gauge({
      name: 'tessera_destination_paused',
      help: '1 while a destination is paused (by an operator, or after two refused credentials in a row).',
      labelNames: ['destination'],
      registers: [registry],
    });
    this.stageEvents = new Counter({
      name: 'tessera_stage_events_total',
      help: 'Events through the resolve and route stages by outcome (resolved, duplicate, unresolved, routed, merged, merge_refused).',
      labelNames: ['stage', 'outcome'],
      registers: [registry],
    });
    this.echoes = new Counter({
      name: 'tessera_inbound_echoes_total',
      help: "Opt-outs a destination reported that were Tessera's own unsubscribes or suppressions read back (not recorded as the member's), by destination.",
      labelNames: ['destination'],
      registers: [registry],
    });
    this.dsrDue = new Gauge({
      name: 'tessera_dsr_requests_due',
      help: 'Unfinished data subject requests due within 24 hours (due_soon) or past their due date (overdue), as of the last hourly check.',
      labelNames: ['state'],
      registers: [registry],
    });
    const deadLetters = collectors.deadLetters;
    if (deadLetters !== undefined) {
      new Gauge({
        name: 'tessera_dead_letters',
        help: 'Dead letters waiting for a replay, by destination.',
        labelNames: ['destination'],
        registers: [registry],
        async collect() {
          this.reset();
          for (const [destination, count] of await deadLetters()) this.set({ destination }, count);
        },
      });
    }
    const queueDepths = collectors.queueDepths;
    if (queueDepths !== undefined) {
      new Gauge({
        name: 'tessera_stage_queue_jobs',
        help: "Jobs in the route and deliver queues by state (each job carries a batch), and items waiting in each deliver queue's delivery window (state in_window).",
        labelNames: ['queue', 'state'],
        registers: [registry],
        async collect() {
          for (const { queue, state, count } of await queueDepths()) this.set({ queue, state }, count);
        },
      });
    }
  }

  delivered(destination: string, receivedAt: string[], nowMs: number): void {
    this.deliveries.inc({ destination, status: 'delivered' }, receivedAt.length);
    let within = 0;
    for (const at of receivedAt) {
      const seconds = Math.max(0, (nowMs - Date.parse(at)) / 1000);
      this.latency.observe({ destination }, seconds);
      if (seconds <= DELIVERY_SLA_SECONDS) within += 1;
    }
    if (within > 0) this.withinSla.inc({ destination }, within);
  }

  settled(destination: string, status: 'dead_lettered' | 'dropped', count: number): void {
    if (count > 0) this.deliveries.inc({ destination, status }, count);
  }

  failed(destination: string, errorClass: 'rejected' | 'retryable' | 'auth', count = 1): void {
    if (count > 0) this.failures.inc({ destination, class: errorClass }, count);
  }

  retried(destination: string, count: number): void {
    if (count > 0) this.retries.inc({ destination }, count);
  }

  routeDropped(destination: string, reason: 'disabled' | 'consent', count: number): void {
    if (count > 0) this.dropped.inc({ destination, reason }, count);
  }

  stage(stage: 'resolve' | 'route', outcome: string, count: number): void {
    if (count > 0) this.stageEvents.inc({ stage, outcome }, count);
  }

  /** Opt-outs an ESP reported that were Tessera's own writes read back (not recorded as the member's). */
  inboundEchoes(destination: string, count: number): void {
    if (count > 0) this.echoes.inc({ destination }, count);
  }

  setDsrDue(counts: Record<'due_soon' | 'overdue', number>): void {
    for (const [state, count] of Object.entries(counts)) this.dsrDue.set({ state }, count);
  }

  setPaused(destination: string, paused: boolean): void {
    this.paused.set({ destination }, paused ? 1 : 0);
  }
}
