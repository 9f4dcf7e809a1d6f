import type { Store } from '@tessera/store';

/** The figures of the delivery dashboard, read from the store and the queues at one moment. */
export interface DashboardFigures {
  at: Date;
  /** Events received over the last 10 seconds, per second. */
  eventsPerSecond: number;
  /** Items delivered and failed per destination over the last 5 minutes. */
  deliveriesByDestination: { destinationId: string; ok: number; failed: number }[];
  /** Dead letters by error class, failed in the last hour. */
  failuresByClass: Record<'validation' | 'auth' | 'retryable' | 'rejected', number>;
  /** From receipt to delivery, seconds, over the last 5 minutes' deliveries (null without any). */
  latency: { p50: number | null; p95: number | null; p99: number | null };
  queueDepths: { queue: string; waiting: number; active: number; delayed: number; failed: number }[];
  /** Dead letters waiting. */
  deadLetters: number;
  /** Of the last hour's deliveries, the share at the ESP within 10 minutes of receipt (null without any). */
  withinTenMinutesShare: number | null;
  /** Profiles whose contact points disagree for one brand, channel and purpose (one granted, one withdrawn). */
  conflictingConsentProfiles: number;
  /** Of the profiles holding a brand's member id, the share also linked to a group customer id. */
  accountLinkRate: number | null;
  pausedDestinations: { id: string; brand: string; reason: string | null; changedAt: Date }[];
}

export interface QueueCounter {
  queueName: string;
  counts(): Promise<Record<string, number>>;
}

const EVENT_WINDOW_SECONDS = 10;
/** Viewers streaming at once share one computation within this age. */
const FRESH_MS = 1_500;
/** The whole-graph figures (consent conflicts, link rate) scan every profile: once a minute is enough. */
const GRAPH_FIGURES_MS = 60_000;

interface GraphFigures {
  conflicting: number;
  members: number;
  linked: number;
}
const DELIVERY_WINDOW = '5 minutes';

/**
 * What the console's dashboard shows, computed in a few aggregate statements so that any process (the console
 * alone included) reads the same figures as the workers produce them: every figure is a window over the store's
 * own timestamps, not this process's counters.
 */
export class DeliveryDashboard {
  private latest: { at: number; figures: Promise<DashboardFigures> } | undefined;
  private graph: { at: number; figures: Promise<GraphFigures> } | undefined;

  constructor(
    private readonly store: Store,
    private readonly queues: () => readonly QueueCounter[],
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The figures, computed at most once per 1.5 s whatever the number of viewers. */
  figures(): Promise<DashboardFigures> {
    const now = this.now().getTime();
    if (this.latest === undefined || now - this.latest.at >= FRESH_MS) {
      const figures = this.compute();
      this.latest = { at: now, figures };
      // A failed computation is not kept: the next viewer tries again.
      figures.catch(() => {
        if (this.latest?.figures === figures) this.latest = undefined;
      });
    }
    return this.latest.figures;
  }

  private graphFigures(): Promise<GraphFigures> {
    const now = this.now().getTime();
    if (this.graph === undefined || now - this.graph.at >= GRAPH_FIGURES_MS) {
      const figures = Promise.all([
        this.store.query<{ n: number }>(
          `SELECT count(DISTINCT customer_id)::int AS n FROM (
           SELECT i.customer_id FROM consent_state c
             JOIN identity_identifiers i ON i.lookup_key = c.subject_key AND i.type = c.subject_type
            GROUP BY i.customer_id, c.brand, c.channel, c.purpose
           HAVING count(DISTINCT c.decision) > 1) AS conflicting`,
        ),
        this.store.query<{ members: number; linked: number }>(
          `SELECT count(*)::int AS members, count(*) FILTER (WHERE has_group)::int AS linked FROM (
           SELECT customer_id, bool_or(type = 'customer_id') AS has_group FROM identity_identifiers
            GROUP BY customer_id HAVING bool_or(type = 'member')) AS members`,
        ),
      ]).then(([consent, links]) => ({
        conflicting: consent[0]?.n ?? 0,
        members: links[0]?.members ?? 0,
        linked: links[0]?.linked ?? 0,
      }));
      this.graph = { at: now, figures };
      figures.catch(() => {
        if (this.graph?.figures === figures) this.graph = undefined;
      });
    }
    return this.graph.figures;
  }

  private async compute(): Promise<DashboardFigures> {
    const at = this.now();
    const [events, deliveries, failures, latency, letters, graph, paused, queueDepths] = await Promise.all([
      this.store.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM raw_events WHERE received_at > $1::timestamptz - interval '${EVENT_WINDOW_SECONDS} seconds'`,
        [at],
      ),
      this.store.query<{ destination_id: string; ok: number; failed: number }>(
        `SELECT destination_id,
                count(*) FILTER (WHERE status = 'delivered')::int AS ok,
                count(*) FILTER (WHERE status IN ('rejected', 'dead_lettered'))::int AS failed
           FROM delivery_log WHERE at > $1::timestamptz - interval '${DELIVERY_WINDOW}'
          GROUP BY destination_id ORDER BY destination_id`,
        [at],
      ),
      this.store.query<{ error_class: string; n: number }>(
        `SELECT error_class, count(*)::int AS n FROM dead_letters
          WHERE last_failed_at > $1::timestamptz - interval '1 hour' GROUP BY error_class`,
        [at],
      ),
      this.store.query<{
        p50: number | null;
        p95: number | null;
        p99: number | null;
        within: number | null;
      }>(
        `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) FILTER (WHERE recent) AS p50,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY s) FILTER (WHERE recent) AS p95,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY s) FILTER (WHERE recent) AS p99,
                avg(CASE WHEN s <= 600 THEN 1.0 ELSE 0.0 END) AS within
           FROM (SELECT extract(epoch FROM d.at - r.received_at)::float8 AS s,
                        d.at > $1::timestamptz - interval '${DELIVERY_WINDOW}' AS recent
                   FROM delivery_log d
                   JOIN raw_events r ON r.source_id = d.source_id AND r.event_source = d.event_source
                                    AND r.event_id = d.event_id
                  WHERE d.status = 'delivered' AND d.at > $1::timestamptz - interval '1 hour') AS timed`,
        [at],
      ),
      this.store.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM dead_letters WHERE replayed_at IS NULL',
      ),
      this.graphFigures(),
      this.store.query<{ destination_id: string; brand: string; reason: string | null; changed_at: Date }>(
        `SELECT destination_id, brand, reason, changed_at FROM destination_states WHERE state = 'paused' ORDER BY changed_at`,
      ),
      Promise.all(
        this.queues().map(async (queue) => {
          const counts = await queue.counts();
          return {
            queue: queue.queueName,
            waiting: counts['waiting'] ?? 0,
            active: counts['active'] ?? 0,
            delayed: counts['delayed'] ?? 0,
            failed: counts['failed'] ?? 0,
          };
        }),
      ),
    ]);
    const failuresByClass = { validation: 0, auth: 0, retryable: 0, rejected: 0 };
    for (const row of failures) {
      if (row.error_class in failuresByClass)
        failuresByClass[row.error_class as keyof typeof failuresByClass] = row.n;
    }
    const timing = latency[0];
    return {
      at,
      eventsPerSecond: (events[0]?.n ?? 0) / EVENT_WINDOW_SECONDS,
      deliveriesByDestination: deliveries.map((row) => ({
        destinationId: row.destination_id,
        ok: row.ok,
        failed: row.failed,
      })),
      failuresByClass,
      latency: { p50: timing?.p50 ?? null, p95: timing?.p95 ?? null, p99: timing?.p99 ?? null },
      queueDepths,
      deadLetters: letters[0]?.n ?? 0,
      withinTenMinutesShare:
        timing?.within === null || timing?.within === undefined ? null : Number(timing.within),
      conflictingConsentProfiles: graph.conflicting,
      accountLinkRate: graph.members === 0 ? null : graph.linked / graph.members,
      pausedDestinations: paused.map((row) => ({
        id: row.destination_id,
        brand: row.brand,
        reason: row.reason,
        changedAt: row.changed_at,
      })),
    };
  }
}
