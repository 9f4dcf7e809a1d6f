/**
 * What `npm run bench:delivery` reads back from the running process and its store: the sandbox's request
 * counts per ESP (before and after a phase), the process's queue depths (to know when a phase has drained),
 * its end-to-end latency histogram, and, once the process has stopped, the delivery log joined to the raw
 * events (the item's settlement and the moment the event was received).
 */
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import type { Store } from '@tessera/store';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The sandbox's counts for one ESP mount (GET /sandbox/{esp}/_sandbox/stats). */
export interface EspStats {
  total: number;
  byStatus: Record<string, number>;
  byEndpoint: Record<string, number>;
  throttled: number;
  throttledByEmulator: number;
  injectedFaults: number;
}

export async function sandboxStats(baseUrl: string, esp: string): Promise<EspStats> {
  const response = await fetch(`${baseUrl}/sandbox/${esp}/_sandbox/stats`);
  if (response.status !== 200)
    throw new Error(
      `GET /sandbox/${esp}/_sandbox/stats answered ${response.status}: ${await response.text()}`,
    );
  return (await response.json()) as EspStats;
}

const subtractCounts = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(after)
      .map(([key, count]) => [key, count - (before[key] ?? 0)] as const)
      .filter(([, count]) => count !== 0),
  );

/** The requests of a phase: the counts after it minus the counts before (stats only grow between resets). */
export function statsDelta(after: EspStats, before: EspStats): EspStats {
  return {
    total: after.total - before.total,
    byStatus: subtractCounts(after.byStatus, before.byStatus),
    byEndpoint: subtractCounts(after.byEndpoint, before.byEndpoint),
    throttled: after.throttled - before.throttled,
    throttledByEmulator: after.throttledByEmulator - before.throttledByEmulator,
    injectedFaults: after.injectedFaults - before.injectedFaults,
  };
}

/** A Prometheus text exposition as `name{labels}` → value. */
export async function scrapeMetrics(baseUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    series.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return series;
}

/** What the bench needs to look into the pipeline: its metrics, and its delivery windows in Redis. */
export interface PipelineProbe {
  baseUrl: string;
  redis: Redis;
  /** The process's TESSERA_REDIS_PREFIX. */
  prefix: string;
  destinationIds: readonly string[];
}

/**
 * Items waiting longer than this are parked, not pending: a drain does not wait for them (a Braze merge waits
 * out its 24 h cooling-off in the window; a retry may wait minutes).
 */
export const PARKED_AFTER_MS = 30_000;

/** The delivery window's sorted set of waiting items (member: `operation|key@attempt`, score: ready time). */
const windowWaiting = (probe: PipelineProbe, destinationId: string) =>
  `${probe.prefix}:window:{${destinationId}}:waiting`;

/**
 * The work still in the pipeline: jobs waiting, running or delayed in resolve and route, jobs waiting or
 * running in every deliver queue, and window items ready within PARKED_AFTER_MS (a deliver queue's delayed
 * jobs are the flushes of those items).
 */
export async function pendingWork(probe: PipelineProbe): Promise<{ total: number; detail: string }> {
  const parts: string[] = [];
  let total = 0;
  for (const [key, value] of await scrapeMetrics(probe.baseUrl)) {
    const match =
      /^tessera_(?:stage_)?queue_jobs\{queue="(resolve|route|deliver-[^"]+)",state="(waiting|active|delayed)"\}$/.exec(
        key,
      );
    if (match === null || value === 0) continue;
    if (match[1]?.startsWith('deliver-') === true && match[2] === 'delayed') continue;
    total += value;
    parts.push(`${match[1]} ${match[2]} ${value}`);
  }
  const horizon = Date.now() + PARKED_AFTER_MS;
  for (const destinationId of probe.destinationIds) {
    const due = await probe.redis.zcount(windowWaiting(probe, destinationId), '-inf', horizon);
    if (due === 0) continue;
    total += due;
    parts.push(`${destinationId} window ${due}`);
  }
  return { total, detail: parts.join(', ') };
}

/** Per destination, the window items ready only after PARKED_AFTER_MS from now, counted by operation. */
export async function parkedItems(probe: PipelineProbe): Promise<Map<string, Record<string, number>>> {
  const parked = new Map<string, Record<string, number>>();
  const horizon = Date.now() + PARKED_AFTER_MS;
  for (const destinationId of probe.destinationIds) {
    const ids = await probe.redis.zrangebyscore(windowWaiting(probe, destinationId), `(${horizon}`, '+inf');
    if (ids.length === 0) continue;
    const byOperation: Record<string, number> = {};
    for (const id of ids) {
      const operation = id.slice(0, id.indexOf('|'));
      byOperation[operation] = (byOperation[operation] ?? 0) + 1;
    }
    parked.set(destinationId, byOperation);
  }
  return parked;
}

/** Events the resolve and route stages have finished with (routed, unresolved or duplicate), as counted. */
export function eventsThroughRoute(metrics: Map<string, number>): number {
  return (
    (metrics.get('tessera_stage_events_total{stage="route",outcome="routed"}') ?? 0) +
    (metrics.get('tessera_stage_events_total{stage="resolve",outcome="unresolved"}') ?? 0) +
    (metrics.get('tessera_stage_events_total{stage="resolve",outcome="duplicate"}') ?? 0)
  );
}

export interface DrainResult {
  drained: boolean;
  /** From the call until nothing was pending (seen twice in a row), or the timeout. */
  ms: number;
  /** What was left at the timeout. */
  left: string;
}

/** Waits until nothing is pending (twice in a row, 500 ms apart), or `timeoutMs`. */
export async function drain(probe: PipelineProbe, timeoutMs: number): Promise<DrainResult> {
  const started = performance.now();
  let firstEmptyAt: number | undefined;
  let left = '';
  while (performance.now() - started < timeoutMs) {
    const pending = await pendingWork(probe);
    left = pending.detail;
    if (pending.total > 0) firstEmptyAt = undefined;
    else if (firstEmptyAt === undefined) firstEmptyAt = performance.now();
    else return { drained: true, ms: firstEmptyAt - started, left: '' };
    await sleep(500);
  }
  return { drained: false, ms: performance.now() - started, left };
}

/** Per destination: how many delivered items the end-to-end histogram saw, and how many within 5 s. */
export function latencyHistogram(
  metrics: Map<string, number>,
): Map<string, { count: number; within5s: number }> {
  const byDestination = new Map<string, { count: number; within5s: number }>();
  for (const [key, value] of metrics) {
    const match = /^tessera_end_to_end_latency_seconds_bucket\{destination="([^"]+)",le="([^"]+)"\}$/.exec(
      key,
    );
    if (match === null) continue;
    const entry = byDestination.get(match[1] ?? '') ?? { count: 0, within5s: 0 };
    if (match[2] === '+Inf') entry.count = value;
    if (match[2] === '5') entry.within5s = value;
    byDestination.set(match[1] ?? '', entry);
  }
  return byDestination;
}

/** How a delivery log row ended, for the report. */
export type ItemKind =
  | 'sent'
  | 'sent without a field'
  | 'unchanged'
  | 'skipped'
  | 'superseded'
  | 'stale'
  | 'merge undone'
  | 'rejected'
  | 'dead-lettered';

export interface DestinationItems {
  /** Distinct events with at least one item logged for the destination. */
  events: number;
  items: Partial<Record<ItemKind, number>>;
  /** Ingest → ESP (ms) over the items sent and accepted (not the unchanged ones, which sent nothing). */
  latency: { count: number; p50: number; p95: number; p99: number; max: number };
  /** The most frequent details of dropped and dead-lettered items. */
  problems: Array<{ kind: string; detail: string; items: number }>;
}

const KIND_SQL = `CASE
  WHEN d.status = 'delivered' AND d.detail LIKE 'unchanged%' THEN 'unchanged'
  WHEN d.status = 'delivered' AND d.detail LIKE 'delivered without%' THEN 'sent without a field'
  WHEN d.status = 'delivered' THEN 'sent'
  WHEN d.status = 'dropped' AND d.detail LIKE 'superseded%' THEN 'superseded'
  WHEN d.status = 'dropped' AND d.detail LIKE 'stale%' THEN 'stale'
  WHEN d.status = 'dropped' AND d.detail LIKE 'merge undone%' THEN 'merge undone'
  WHEN d.status = 'dropped' THEN 'skipped'
  WHEN d.status = 'rejected' THEN 'rejected'
  ELSE 'dead-lettered' END`;

const IN_PHASE = `FROM delivery_log d
  JOIN raw_events r ON r.source_id = d.source_id AND r.event_source = d.event_source AND r.event_id = d.event_id
  WHERE r.received_at >= $1 AND r.received_at < $2`;

/**
 * The delivery log of the events received in [from, to), per destination. "Ingest → ESP" is the log row's `at`
 * (written once the flush's requests were answered) minus the event's `received_at` (when the intake accepted
 * it): exact per item, and at most the rest of its flush later than the ESP's answer to its own request.
 */
export async function deliveryFigures(
  store: Store,
  from: number,
  to: number,
): Promise<Map<string, DestinationItems>> {
  const range = [new Date(from).toISOString(), new Date(to).toISOString()];
  const figures = new Map<string, DestinationItems>();
  const entry = (destination: string): DestinationItems => {
    let known = figures.get(destination);
    if (known === undefined) {
      known = {
        events: 0,
        items: {},
        latency: { count: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN },
        problems: [],
      };
      figures.set(destination, known);
    }
    return known;
  };
  for (const row of await store.query<{ destination_id: string; events: number }>(
    `SELECT d.destination_id, count(DISTINCT (d.source_id, d.event_source, d.event_id))::int AS events
       ${IN_PHASE} GROUP BY d.destination_id`,
    range,
  ))
    entry(row.destination_id).events = row.events;
  for (const row of await store.query<{ destination_id: string; kind: ItemKind; items: number }>(
    `SELECT d.destination_id, ${KIND_SQL} AS kind, count(*)::int AS items ${IN_PHASE} GROUP BY 1, 2`,
    range,
  ))
    entry(row.destination_id).items[row.kind] = row.items;
  for (const row of await store.query<{
    destination_id: string;
    n: number;
    p50: number;
    p95: number;
    p99: number;
    max: number;
  }>(
    `SELECT d.destination_id, count(*)::int AS n,
            percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
            percentile_disc(0.95) WITHIN GROUP (ORDER BY ms) AS p95,
            percentile_disc(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
            max(ms) AS max
       FROM (SELECT d.destination_id, extract(epoch FROM (d.at - r.received_at)) * 1000 AS ms
               ${IN_PHASE} AND d.status = 'delivered' AND (d.detail IS NULL OR d.detail NOT LIKE 'unchanged%')) d
      GROUP BY d.destination_id`,
    range,
  ))
    entry(row.destination_id).latency = {
      count: row.n,
      p50: Number(row.p50),
      p95: Number(row.p95),
      p99: Number(row.p99),
      max: Number(row.max),
    };
  for (const row of await store.query<{
    destination_id: string;
    kind: string;
    detail: string;
    items: number;
  }>(
    `SELECT d.destination_id, ${KIND_SQL} AS kind, left(coalesce(d.detail, ''), 160) AS detail, count(*)::int AS items
       ${IN_PHASE} AND d.status <> 'delivered' AND (d.status <> 'dropped' OR d.detail NOT LIKE 'superseded%')
      GROUP BY 1, 2, 3 ORDER BY items DESC`,
    range,
  ))
    entry(row.destination_id).problems.push({ kind: row.kind, detail: row.detail, items: row.items });
  return figures;
}

/** Events the store holds as received in [from, to). */
export async function eventsReceived(store: Store, from: number, to: number): Promise<number> {
  const rows = await store.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM raw_events WHERE received_at >= $1 AND received_at < $2',
    [new Date(from).toISOString(), new Date(to).toISOString()],
  );
  return rows[0]?.n ?? 0;
}

export interface StageTiming {
  stage: 'resolve' | 'route';
  jobs: number;
  eventsPerJob: number;
  /** Queued → taken, and taken → finished (ms), of the jobs finished since the phase began. */
  waitP50: number;
  waitP99: number;
  runP50: number;
  runP99: number;
}

const quantile = (sorted: readonly number[], q: number) =>
  sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN);

/**
 * Where a phase's time went in the resolve and route stages, from their completed jobs' own timestamps (BullMQ
 * keeps them; the deliver stage's flush jobs are removed on completion).
 */
export async function stageTimings(redis: Redis, prefix: string, sinceMs: number): Promise<StageTiming[]> {
  const timings: StageTiming[] = [];
  for (const stage of ['resolve', 'route'] as const) {
    const connection = redis.duplicate();
    const queue = new Queue(stage, { connection, prefix });
    try {
      const jobs = (await queue.getJobs(['completed'], 0, 5000)).filter(
        (job) => (job.finishedOn ?? 0) >= sinceMs,
      );
      const waits = jobs.map((job) => (job.processedOn ?? 0) - job.timestamp).sort((a, b) => a - b);
      const runs = jobs.map((job) => (job.finishedOn ?? 0) - (job.processedOn ?? 0)).sort((a, b) => a - b);
      const events = jobs.reduce((sum, job) => sum + Number((job.data as { count?: number }).count ?? 0), 0);
      timings.push({
        stage,
        jobs: jobs.length,
        eventsPerJob: jobs.length === 0 ? 0 : events / jobs.length,
        waitP50: quantile(waits, 0.5),
        waitP99: quantile(waits, 0.99),
        runP50: quantile(runs, 0.5),
        runP99: quantile(runs, 0.99),
      });
    } finally {
      await queue.close();
      await connection.quit();
    }
  }
  return timings;
}

/**
 * The machine's pace right now: a BullMQ worker with an empty processor at concurrency 2 (the resolve and route
 * stages'), over jobs queued beforehand under `prefix`, for `seconds` — bench:pipeline's baseline, so that its
 * figure can be read against this run's load.
 */
export async function rawBullmqRate(redisUrl: string, prefix: string, seconds: number): Promise<number> {
  const producer = new Redis(redisUrl);
  const queue = new Queue('raw-noop', { connection: producer, prefix });
  const data = { event: 'x'.repeat(400) };
  for (let added = 0; added < 60_000; added += 1000)
    await queue.addBulk(Array.from({ length: 1000 }, () => ({ name: 'noop', data })));
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  let completed = 0;
  const worker = new Worker('raw-noop', async () => undefined, {
    connection,
    prefix,
    concurrency: 2,
    autorun: false,
  });
  worker.on('completed', () => completed++);
  const started = performance.now();
  void worker.run();
  while (performance.now() - started < seconds * 1000 && completed < 60_000) await sleep(50);
  const rate = completed / ((performance.now() - started) / 1000);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  await producer.quit();
  return rate;
}
