/**
 * `npm run bench:pipeline`: the whole pipeline in the all-in-one process (ingest → resolve → route → deliver)
 * delivering to a Braze emulator that this process runs in the ESP sandbox (limits lifted), on loopback.
 *
 * 1. Baseline, same run, same Redis: raw BullMQ no-op rate — a Queue filled with `addBulk` and a Worker with
 *    an empty processor at the pipeline's deliver/route concurrency (2), counted for a few seconds.
 * 2. Per store (BENCH_PIPELINE_STORES, default all three: `pglite`, the embedded default; `postgres`; and
 *    `postgres-split`, `npm run ingest` and `npm run worker` as two processes, the worker measured), each
 *    process started with the heap flags of the npm scripts:
 *    - warm-up: one event per member (20,000 members), so the measured runs are the steady state;
 *    - sustained throughput: signed batches as fast as the pipeline takes them, with the events sent but not
 *      yet at the emulator bounded (so the rate measured is the pipeline's, not the intake's);
 *    - latency: 1,000 events/s paced for ~20 s, each event's send time to the emulator receiving the profile
 *      update that carries it (the event's `new_balance` is a sequence number, mapped by the destination's
 *      rules to the custom attribute `bench_seq`);
 *    - the all-in-one process's (or the worker's) RSS (VmRSS, sampled every 250 ms), with its heap figures.
 * 3. Redis bytes per queued event: the intake alone (`apps/ingest`, no worker) queues events under its own
 *    prefix; the prefix's keys are sized with MEMORY USAGE (INFO used_memory delta beside it).
 * Writes the figures into docs/benchmarks.md between the pipeline markers; exits non-zero on a missed target.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { Client } from 'pg';
import { BrazeEmulator } from '@tessera/destination-braze';
import {
  EspSandbox,
  type EmulatorTools,
  type SandboxRequest,
  type SandboxResponse,
} from '@tessera/destination-kit';
import { DEFAULT_JOB_OPTIONS, deliverQueueName } from '@tessera/queues';
import { newWebhookSecret } from '@tessera/runtime';
import { deleteKeysWithPrefix, signedHeaders, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { REPO_ROOT, startEntry, startTessera, type TesseraProcess } from '../support/tessera-process';
import { BENCHMARKS_DOC, writeBenchmarkSection } from './benchmark-report';

const SECONDS = Number(process.env.BENCH_PIPELINE_SECONDS ?? 60);
const LATENCY_SECONDS = Number(process.env.BENCH_PIPELINE_LATENCY_SECONDS ?? 20);
const STORES = (process.env.BENCH_PIPELINE_STORES ?? 'pglite,postgres,postgres-split')
  .split(',')
  .map((store) => store.trim());
const MEMBERS = Number(process.env.BENCH_PIPELINE_MEMBERS ?? 20_000);
// Extra Node flags for the all-in-one process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to find the hot spots.
const HEAP_METRICS = [
  'nodejs_heap_size_used_bytes',
  'nodejs_heap_size_total_bytes',
  'nodejs_external_memory_bytes',
] as const;
const NODE_ARGS = (process.env.BENCH_PIPELINE_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
const BATCH = Number(process.env.BENCH_PIPELINE_BATCH ?? 500);
const REQUESTS_IN_FLIGHT = Number(process.env.BENCH_PIPELINE_IN_FLIGHT ?? 8);
/** Events sent and not yet at the emulator, at most: the sender waits above it. */
const BACKLOG = Number(process.env.BENCH_PIPELINE_BACKLOG ?? 20_000);
const LATENCY_RATE = 1000;
/** Events per request in the paced run: one request every LATENCY_BATCH ms at 1,000 events/s. */
const LATENCY_BATCH = Number(process.env.BENCH_PIPELINE_LATENCY_BATCH ?? 100);
const LATENCY_TICK_MS = (1000 * LATENCY_BATCH) / LATENCY_RATE;
const REDIS_SAMPLE_EVENTS = 10_000;
const BASELINE_JOBS = 60_000;
const BASELINE_SECONDS = 5;
const ADMIN_DATABASE_URL =
  process.env.BENCH_PIPELINE_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DESTINATION = 'bench-braze';
const BRAZE_KEY = 'braze-bench-key';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

/** Every event sent, by sequence number: when it left, for which member, and when its update arrived. */
class Tracker {
  sentAt: number[] = [];
  member: number[] = [];
  arrivedAt: number[] = [];
  delivered = 0;
  /** Per member, the sequence numbers sent and not yet carried by an update (ascending). */
  private readonly pending = new Map<number, number[]>();

  sent(seq: number, member: number, at: number): void {
    this.sentAt[seq] = at;
    this.member[seq] = member;
    const list = this.pending.get(member);
    if (list === undefined) this.pending.set(member, [seq]);
    else list.push(seq);
  }

  /** Forgets a send the intake did not accept. */
  unsent(seq: number): void {
    const list = this.pending.get(this.member[seq] ?? -1);
    const index = list?.indexOf(seq) ?? -1;
    if (list !== undefined && index >= 0) list.splice(index, 1);
  }

  /**
   * The emulator stored an update carrying `seq`: it and every earlier event of the same member (coalesced
   * into it, or superseded) are now reflected at the ESP.
   */
  arrived(seq: number, at: number): void {
    const list = this.pending.get(this.member[seq] ?? -1);
    if (list === undefined) return;
    while (list.length > 0 && (list[0] ?? Infinity) <= seq) {
      const done = list.shift() ?? seq;
      this.arrivedAt[done] = at;
      this.delivered++;
    }
  }
}

let tracker = new Tracker();

/** The Braze emulator, noting the time each profile update it stored reached it. */
class TimedBrazeEmulator extends BrazeEmulator {
  override handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    const at = performance.now();
    const response = super.handle(request, tools);
    if (request.path === '/users/track' && response.status >= 200 && response.status < 300) {
      const body = JSON.parse(request.rawBody.toString()) as { attributes?: Array<Record<string, unknown>> };
      const answer = response.body as { errors?: Array<{ index: number }> } | undefined;
      const refused = new Set((answer?.errors ?? []).map((error) => error.index));
      (body.attributes ?? []).forEach((object, index) => {
        const seq = object['bench_seq'];
        if (!refused.has(index) && typeof seq === 'number') tracker.arrived(seq, at);
      });
    }
    return response;
  }
}

const memberId = (member: number) => `B${String(member).padStart(6, '0')}`;

function eventOf(runId: string, seq: number, member: number): string {
  return JSON.stringify({
    specversion: '1.0',
    id: `${runId}-${seq}`,
    source: 'https://loyalty.example.com',
    type: 'points.updated',
    data: {
      customer_id: memberId(member),
      email: `member${member}@example.com`,
      delta: 10,
      new_balance: seq,
      reason: 'purchase',
    },
  });
}

interface Target {
  baseUrl: string;
  secret: string;
  runId: string;
}

let nextSeq = 0;
/** Events the intake did not accept (so they never count as missing). */
let rejectedTotal = 0;

/** Sends one signed batch; resolves with the number of events the intake accepted (202/207). */
async function sendBatch(target: Target, members: number[]): Promise<number> {
  const seqs = members.map(() => nextSeq++);
  const body = `[${seqs.map((seq, i) => eventOf(target.runId, seq, members[i] ?? 0)).join(',')}]`;
  const at = performance.now();
  seqs.forEach((seq, i) => tracker.sent(seq, members[i] ?? 0, at));
  let accepted = 0;
  try {
    const response = await fetch(`${target.baseUrl}/v1/sources/bench/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/cloudevents-batch+json',
        ...signedHeaders(target.secret, body),
      },
      body,
    });
    const answer = (await response.json()) as { results?: Array<{ status: string }> };
    if (response.status === 202 || response.status === 207) {
      (answer.results ?? []).forEach((result, i) => {
        if (result.status === 'accepted') accepted++;
        else tracker.unsent(seqs[i] ?? -1);
      });
      return accepted;
    }
  } catch {
    // counted below as not accepted
  }
  for (const seq of seqs) tracker.unsent(seq);
  return 0;
}

/** A member picker: xorshift over MEMBERS, so members repeat at random as in real traffic. */
function randomMembers(seed: number): (count: number) => number[] {
  let state = seed || 1;
  return (count) =>
    Array.from({ length: count }, () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % MEMBERS;
    });
}

interface LoadResult {
  accepted: number;
  seconds: number;
  deliveredInWindow: number;
  rejected: number;
}

/**
 * Sends batches with REQUESTS_IN_FLIGHT requests at once, as long as fewer than BACKLOG events are between
 * the bench and the emulator, until `events` are sent or `seconds` have passed.
 */
async function saturate(
  target: Target,
  pick: (count: number) => number[],
  options: { seconds?: number; events?: number },
): Promise<LoadResult> {
  const started = performance.now();
  const deadline = started + (options.seconds ?? Infinity) * 1000;
  const deliveredBefore = tracker.delivered;
  let accepted = 0;
  let rejected = 0;
  let sent = 0;
  await Promise.all(
    Array.from({ length: REQUESTS_IN_FLIGHT }, async () => {
      for (;;) {
        if (performance.now() >= deadline) return;
        if (options.events !== undefined && sent >= options.events) return;
        if (nextSeq - tracker.delivered - rejectedTotal > BACKLOG) {
          await sleep(5);
          continue;
        }
        const count = Math.min(BATCH, (options.events ?? Infinity) - sent);
        sent += count;
        const ok = await sendBatch(target, pick(count));
        accepted += ok;
        rejected += count - ok;
        rejectedTotal += count - ok;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { accepted, seconds, deliveredInWindow: tracker.delivered - deliveredBefore, rejected };
}

/** Waits until every accepted event is at the emulator, or `ms` pass; resolves with the events still missing. */
async function drain(ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  while (nextSeq - tracker.delivered - rejectedTotal > 0 && Date.now() < deadline) await sleep(50);
  return nextSeq - tracker.delivered - rejectedTotal;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN);

interface LatencyResult {
  rate: number;
  events: number;
  missing: number;
  p50: number;
  p99: number;
  max: number;
  metricWithin500ms: number;
}

/** The end-to-end histogram of the metrics endpoint: cumulative counts by upper bound. */
async function latencyBuckets(baseUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const buckets = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('tessera_end_to_end_latency_seconds_bucket{')) continue;
    if (!line.includes(`destination="${DESTINATION}"`)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le !== undefined) buckets.set(le, Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return buckets;
}

/** LATENCY_RATE events/s for LATENCY_SECONDS in small batches on a fixed schedule; members in turn. */
/** `metricsUrl`: the process that delivers (the all-in-one, or the worker when split) observes the latency. */
async function paced(target: Target, metricsUrl: string): Promise<LatencyResult> {
  const before = await latencyBuckets(metricsUrl);
  const perTick = (LATENCY_RATE * LATENCY_TICK_MS) / 1000;
  const ticks = Math.round((LATENCY_SECONDS * 1000) / LATENCY_TICK_MS);
  const first = nextSeq;
  let member = 0;
  const started = performance.now();
  const requests: Promise<number>[] = [];
  for (let tick = 0; tick < ticks; tick++) {
    const due = started + tick * LATENCY_TICK_MS;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const members = Array.from({ length: perTick }, () => {
      // A stride through the members: no member twice within the run, so nothing coalesces.
      member = (member + 7919) % MEMBERS;
      return member;
    });
    requests.push(sendBatch(target, members));
  }
  const accepted = (await Promise.all(requests)).reduce((sum, count) => sum + count, 0);
  const seconds = (performance.now() - started) / 1000;
  rejectedTotal += ticks * perTick - accepted;
  const missing = await drain(30_000);
  const latencies: number[] = [];
  for (let seq = first; seq < nextSeq; seq++) {
    const arrived = tracker.arrivedAt[seq];
    const sent = tracker.sentAt[seq];
    if (arrived !== undefined && sent !== undefined) latencies.push(arrived - sent);
  }
  latencies.sort((a, b) => a - b);
  await sleep(1500); // the worker records its histogram after the ESP answers
  const after = await latencyBuckets(metricsUrl);
  const delta = (le: string) => (after.get(le) ?? 0) - (before.get(le) ?? 0);
  return {
    rate: accepted / seconds,
    events: latencies.length,
    missing,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: latencies[latencies.length - 1] ?? NaN,
    metricWithin500ms: delta('+Inf') === 0 ? NaN : delta('0.5') / delta('+Inf'),
  };
}

interface StageTiming {
  stage: string;
  jobs: number;
  eventsPerJob: number;
  waitP50: number;
  runP50: number;
  runP99: number;
}

/**
 * Where the time goes: each stage's jobs that finished since `sinceMs` (BullMQ keeps the last 10,000
 * completed jobs), from their own timestamps — queued → taken (wait) and taken → finished (run).
 */
async function stageTimings(redis: Redis, prefix: string, sinceMs: number): Promise<StageTiming[]> {
  const timings: StageTiming[] = [];
  for (const [stage, name] of [
    ['resolve', 'resolve'],
    ['route', 'route'],
    ['deliver', deliverQueueName(DESTINATION)],
  ] as const) {
    const connection = redis.duplicate();
    const queue = new Queue(name, { connection, prefix });
    const jobs = (await queue.getJobs(['completed'], 0, 2000)).filter(
      (job) => (job.finishedOn ?? 0) >= sinceMs,
    );
    const waits = jobs.map((job) => (job.processedOn ?? 0) - job.timestamp).sort((a, b) => a - b);
    const runs = jobs.map((job) => (job.finishedOn ?? 0) - (job.processedOn ?? 0)).sort((a, b) => a - b);
    const events = jobs.reduce((sum, job) => sum + Number((job.data as { count?: number }).count ?? 0), 0);
    timings.push({
      stage,
      jobs: jobs.length,
      eventsPerJob: jobs.length === 0 ? 0 : events / jobs.length,
      waitP50: percentile(waits, 0.5),
      runP50: percentile(runs, 0.5),
      runP99: percentile(runs, 0.99),
    });
    await queue.close();
    await connection.quit();
  }
  return timings;
}

/**
 * After a drain: members whose Braze user holds the `bench_seq` of an older event than the last one sent for
 * them (an older event's data applied after a newer one's).
 */
function olderEventLast(sandbox: EspSandbox): { members: number; older: number } {
  const lastSent = new Map<number, number>();
  for (let seq = 0; seq < nextSeq; seq++) {
    const member = tracker.member[seq];
    if (member !== undefined && tracker.arrivedAt[seq] !== undefined) lastSent.set(member, seq);
  }
  let members = 0;
  let older = 0;
  for (const user of sandbox.emulator<TimedBrazeEmulator>('braze').state().users) {
    const seq = user.attributes['bench_seq'];
    if (typeof seq !== 'number') continue;
    members++;
    const last = lastSent.get(tracker.member[seq] ?? -1);
    if (last !== undefined && seq < last) older++;
  }
  return { members, older };
}

/** VmRSS of a process, in bytes (0 once it is gone). */
function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

/** Raw BullMQ: N jobs queued with addBulk, then a no-op worker at concurrency 2, for BASELINE_SECONDS. */
async function rawBullmqRate(redis: Redis, prefix: string): Promise<number> {
  const producer = redis.duplicate();
  const queue = new Queue('raw-noop', {
    connection: producer,
    prefix,
    defaultJobOptions: DEFAULT_JOB_OPTIONS,
  });
  const data = { event: eventOf('baseline', 0, 0) };
  for (let added = 0; added < BASELINE_JOBS; added += 1000) {
    await queue.addBulk(Array.from({ length: 1000 }, () => ({ name: 'noop', data })));
  }
  let completed = 0;
  const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const worker = new Worker('raw-noop', async () => undefined, {
    connection,
    prefix,
    concurrency: 2,
    autorun: false,
  });
  worker.on('completed', () => completed++);
  const started = performance.now();
  void worker.run();
  while (performance.now() - started < BASELINE_SECONDS * 1000 && completed < BASELINE_JOBS) await sleep(50);
  const rate = completed / ((performance.now() - started) / 1000);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  await producer.quit();
  return rate;
}

interface StoreFigures {
  store: string;
  warmUp: LoadResult;
  sustained: LoadResult;
  drainMs: number;
  missingAfterDrain: number;
  latency: LatencyResult;
  peakRss: number;
  meanRss: number;
  failedJobs: string;
  sustainedStages: StageTiming[];
  latencyStages: StageTiming[];
  ordering: { members: number; older: number };
}

function workspaceFile(dir: string, secret: string, sandboxRoot: string): string {
  const file = join(dir, 'workspace.json');
  writeFileSync(
    file,
    JSON.stringify({
      brands: [{ id: 'bench', name: 'Bench', defaultCountry: 'GB' }],
      sources: [{ id: 'bench', brand: 'bench', secrets: [secret], rateLimit: 10_000_000 }],
      destinations: [
        {
          id: DESTINATION,
          brand: 'bench',
          type: 'braze',
          settings: { apiKey: BRAZE_KEY, baseUrl: `${sandboxRoot}/braze` },
          mappings: {
            mappings: {
              loyalty_tier: 'profile.?loyalty_tier.orValue("Member")',
              points: 'profile.?points_balance.orValue(0)',
              bench_seq: 'event.data.new_balance',
            },
            segments: [{ segment: 'Gold', when: 'profile.?loyalty_tier.orValue("") == "Gold"' }],
          },
        },
      ],
    }),
  );
  return file;
}

/** A scratch PostgreSQL database; resolves with its URL and a function that drops it. */
async function scratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `bench_pipeline_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new Client({ connectionString: ADMIN_DATABASE_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

async function benchStore(
  store: string,
  redis: Redis,
  sandbox: EspSandbox,
  sandboxRoot: string,
): Promise<StoreFigures> {
  sandbox.reset();
  tracker = new Tracker();
  nextSeq = 0;
  rejectedTotal = 0;
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-pipeline-'));
  const secret = newWebhookSecret();
  const database = store === 'pglite' ? undefined : await scratchDatabase();
  // `postgres-split`: `npm run ingest` and `npm run worker` as two processes; the worker is the one measured.
  const split = store === 'postgres-split';
  let tessera: TesseraProcess | undefined;
  let ingest: TesseraProcess | undefined;
  const samples: number[] = [];
  let sampler: NodeJS.Timeout | undefined;
  let heapSampler: NodeJS.Timeout | undefined;
  const heapPeaks = new Map<string, number>();
  try {
    const env = {
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_DATA_DIR: dataDir,
      TESSERA_WORKSPACE_FILE: workspaceFile(dataDir, secret, sandboxRoot),
      TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
      TESSERA_DEMO: 'off',
      TESSERA_INGEST_MAX_QUEUE_DEPTH: '100000000',
      LOG_LEVEL: 'warn',
      ...(database === undefined ? {} : { DATABASE_URL: database.url }),
    };
    if (split) {
      ingest = await startEntry('apps/ingest/src/main.ts', env, 'ingest', NODE_ARGS);
      tessera = await startEntry('apps/worker/src/main.ts', env, 'health', NODE_ARGS);
    } else tessera = await startTessera(env, NODE_ARGS);
    const pid = tessera.child.pid ?? 0;
    sampler = setInterval(() => samples.push(rssOf(pid)), 250);
    // Where the memory is: the process's own heap figures (prom-client's default metrics), every 2 s.
    heapSampler = setInterval(() => {
      void fetch(`${tessera?.baseUrl}/metrics`)
        .then((response) => response.text())
        .then((text) => {
          for (const name of HEAP_METRICS) {
            const value = Number(
              new RegExp(`^tessera_process_${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1],
            );
            if (Number.isFinite(value)) heapPeaks.set(name, Math.max(heapPeaks.get(name) ?? 0, value));
          }
        })
        .catch(() => undefined);
    }, 2_000);
    const target: Target = {
      baseUrl: (ingest ?? tessera).baseUrl,
      secret,
      runId: `bench-${process.pid}-${Date.now()}`,
    };

    // Warm-up: every member once, in order, so the runs below meet known members (the steady state).
    let member = 0;
    const inOrder = (count: number) => Array.from({ length: count }, () => member++ % MEMBERS);
    const warmUp = await saturate(target, inOrder, { events: MEMBERS });
    await drain(60_000);
    process.stdout.write(
      `${store}: warm-up ${fmt(warmUp.accepted)} events (new members) in ${warmUp.seconds.toFixed(1)} s\n`,
    );

    const sustainedFrom = Date.now();
    const sustained = await saturate(target, randomMembers(42), { seconds: SECONDS });
    const drainStarted = performance.now();
    const missingAfterDrain = await drain(30_000);
    const drainMs = performance.now() - drainStarted;
    process.stdout.write(
      `${store}: sustained ${fmt(sustained.accepted / sustained.seconds)} events/s accepted, ` +
        `${fmt(sustained.deliveredInWindow / sustained.seconds)} events/s delivered over ${sustained.seconds.toFixed(1)} s; ` +
        `drained in ${(drainMs / 1000).toFixed(1)} s, ${missingAfterDrain} missing; ${sustained.rejected} not accepted\n`,
    );

    const ordering = olderEventLast(sandbox);
    process.stdout.write(
      `${store}: after the drain, ${fmt(ordering.older)} of ${fmt(ordering.members)} Braze users hold an older event's bench_seq than their member's last\n`,
    );
    const sustainedStages = await stageTimings(redis, prefix, sustainedFrom);
    const latencyFrom = Date.now();
    const latency = await paced(target, tessera.baseUrl);
    const latencyStages = await stageTimings(redis, prefix, latencyFrom);
    for (const [phase, timings] of [
      ['sustained', sustainedStages],
      ['paced', latencyStages],
    ] as const) {
      process.stdout.write(
        `${store}: ${phase} stages: ${timings.map((t) => `${t.stage} ${t.jobs} jobs × ${t.eventsPerJob.toFixed(0)} events, wait p50 ${fmt(t.waitP50)} ms, run p50 ${fmt(t.runP50)} ms / p99 ${fmt(t.runP99)} ms`).join('; ')}\n`,
      );
    }
    process.stdout.write(
      `${store}: at ${fmt(latency.rate)} events/s: p50 ${fmt(latency.p50)} ms, p99 ${fmt(latency.p99)} ms, ` +
        `max ${fmt(latency.max)} ms over ${fmt(latency.events)} events (${latency.missing} missing); ` +
        `metric: ${(latency.metricWithin500ms * 100).toFixed(1)}% ≤ 0.5 s\n`,
    );
    clearInterval(sampler);
    clearInterval(heapSampler);
    process.stdout.write(
      `${store}: memory peaks: ${HEAP_METRICS.map((name) => `${name} ${fmt((heapPeaks.get(name) ?? 0) / 2 ** 20)} MB`).join(', ')}\n`,
    );
    const metrics = await (await fetch(`${tessera.baseUrl}/metrics`)).text();
    const failedJobs = [...metrics.matchAll(/^tessera_queue_depth\{queue="([^"]+)",state="failed"\} (\d+)/gm)]
      .filter((match) => match[2] !== '0')
      .map((match) => `${match[1]}: ${match[2]}`)
      .join(', ');
    const live = samples.filter((sample) => sample > 0);
    return {
      store,
      warmUp,
      sustained,
      drainMs,
      missingAfterDrain,
      latency,
      peakRss: Math.max(...live),
      meanRss: live.reduce((sum, sample) => sum + sample, 0) / Math.max(1, live.length),
      failedJobs,
      sustainedStages,
      latencyStages,
      ordering,
    };
  } finally {
    if (sampler !== undefined) clearInterval(sampler);
    if (heapSampler !== undefined) clearInterval(heapSampler);
    await ingest?.stop();
    const code = await tessera?.stop();
    if (code !== 0 && tessera !== undefined) {
      process.stdout.write(`${store}: all-in-one exited with ${code}:\n${tessera.output().slice(-2000)}\n`);
    }
    await deleteKeysWithPrefix(redis, prefix);
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The intake alone (`apps/ingest`), as `npm run ingest` starts it. */
function startIngestOnly(env: Record<string, string>): Promise<{ baseUrl: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/ingest/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ingest did not start in 20 s:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /ingest\s+(http:\/\/[^/\s]+)\//.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ baseUrl: match[1] ?? '', child });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ingest exited with ${code}:\n${output}`));
    });
  });
}

interface RedisFigures {
  events: number;
  queueBytes: number;
  dedupeBytes: number;
  usedMemoryDelta: number;
  jobs: number;
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

/** Queues REDIS_SAMPLE_EVENTS events through the intake alone (nothing consumes them) and sizes the keys. */
async function redisBytesPerEvent(redis: Redis, sandboxRoot: string): Promise<RedisFigures> {
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-pipeline-'));
  const secret = newWebhookSecret();
  let child: ChildProcess | undefined;
  try {
    const ingest = await startIngestOnly({
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_DATA_DIR: dataDir,
      TESSERA_WORKSPACE_FILE: workspaceFile(dataDir, secret, sandboxRoot),
      TESSERA_DEMO: 'off',
      TESSERA_INGEST_MAX_QUEUE_DEPTH: '100000000',
      LOG_LEVEL: 'warn',
    });
    child = ingest.child;
    tracker = new Tracker();
    nextSeq = 0;
    rejectedTotal = 0;
    const target: Target = { baseUrl: ingest.baseUrl, secret, runId: `redis-${process.pid}-${Date.now()}` };
    await sendBatch(target, [0]); // opens the queue
    const sizes = async () => {
      let queue = 0;
      let dedupe = 0;
      let jobs = 0;
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          const bytes = Number((await redis.memory('USAGE', key, 'SAMPLES', '0')) ?? 0);
          if (key.startsWith(`${prefix}:seen:`)) dedupe += bytes;
          else queue += bytes;
          if (/:resolve:[^:]+$/.test(key) && !/:(id|meta|events|wait|active|stalled-check|marker)$/.test(key))
            jobs++;
        }
      } while (cursor !== '0');
      return { queue, dedupe, jobs };
    };
    const before = await sizes();
    const memoryBefore = await usedMemory(redis);
    const pick = randomMembers(7);
    let accepted = 0;
    for (let sent = 0; sent < REDIS_SAMPLE_EVENTS; sent += BATCH)
      accepted += await sendBatch(target, pick(BATCH));
    const after = await sizes();
    const memoryAfter = await usedMemory(redis);
    return {
      events: accepted,
      queueBytes: after.queue - before.queue,
      dedupeBytes: after.dedupe - before.dedupe,
      usedMemoryDelta: memoryAfter - memoryBefore,
      jobs: after.jobs - before.jobs,
    };
  } finally {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await deleteKeysWithPrefix(redis, prefix);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const STORE_NAMES: Record<string, string> = {
  pglite: 'PGlite (embedded default, on disk in the data dir)',
  postgres: 'PostgreSQL 15 (loopback, scratch database)',
  'postgres-split': 'PostgreSQL 15, separate ingest and worker processes (RSS: the worker)',
};

async function main(): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  const baselinePrefix = uniqueRedisPrefix();
  const sandbox = new EspSandbox([new TimedBrazeEmulator({ apiKey: BRAZE_KEY })], { limitsLifted: true });
  const sandboxRoot = await sandbox.listen();
  try {
    process.stdout.write(
      `bench: ${SECONDS} s sustained, ${LATENCY_SECONDS} s at ${LATENCY_RATE}/s, stores ${STORES.join(', ')}, ` +
        `${fmt(MEMBERS)} members, batches of ${BATCH}, ${REQUESTS_IN_FLIGHT} requests in flight, backlog ≤ ${fmt(BACKLOG)}\n`,
    );
    const raw = await rawBullmqRate(redis, baselinePrefix);
    process.stdout.write(`raw BullMQ no-op worker (concurrency 2): ${fmt(raw)} jobs/s\n`);
    const figures: StoreFigures[] = [];
    for (const store of STORES) figures.push(await benchStore(store, redis, sandbox, sandboxRoot));
    const memory = await redisBytesPerEvent(redis, sandboxRoot);
    const perEvent = (memory.queueBytes + memory.dedupeBytes) / memory.events;
    process.stdout.write(
      `redis: ${fmt(memory.events)} events queued in ${memory.jobs} resolve jobs: ${fmt(memory.queueBytes / memory.events)} B/event in the queue + ` +
        `${fmt(memory.dedupeBytes / memory.events)} B/event of dedupe keys = ${fmt(perEvent)} B/event ` +
        `(used_memory delta ${fmt(memory.usedMemoryDelta / memory.events)} B/event)\n`,
    );

    let missed = false;
    const rows: string[] = [];
    for (const result of figures) {
      const { sustained, latency } = result;
      const accepted = sustained.accepted / sustained.seconds;
      const delivered = sustained.deliveredInWindow / sustained.seconds;
      const ratio = delivered / raw;
      const rssMb = result.peakRss / 2 ** 20;
      const ok = {
        rate: delivered >= 3000,
        ratio: ratio >= 0.25,
        p99: latency.p99 <= 500 && latency.missing === 0,
        rss: rssMb <= 400,
      };
      missed ||= !ok.rate || !ok.ratio || !ok.p99 || !ok.rss || result.missingAfterDrain > 0;
      rows.push(
        `| ${STORE_NAMES[result.store] ?? result.store} | ${fmt(accepted)} events/s | ${fmt(delivered)} events/s (≥ 3,000: ${verdict(ok.rate)}) | ` +
          `${(ratio * 100).toFixed(0)}% (≥ 25%: ${verdict(ok.ratio)}) | ` +
          `p50 ${fmt(latency.p50)} ms, p99 ${fmt(latency.p99)} ms (≤ 500 ms: ${verdict(ok.p99)}); ${(latency.metricWithin500ms * 100).toFixed(0)}% ≤ 0.5 s by the metric | ` +
          `${fmt(rssMb)} MB peak, ${fmt(result.meanRss / 2 ** 20)} MB mean (≤ 400 MB: ${verdict(ok.rss)}) |`,
      );
    }
    const redisOk = perEvent <= 2048;
    missed ||= !redisOk;
    const failures = figures
      .map(
        (result) =>
          `${result.store}: warm-up ${fmt(result.warmUp.accepted)} new members in ${result.warmUp.seconds.toFixed(1)} s, ` +
          `${result.sustained.rejected + result.warmUp.rejected} events not accepted, drained in ${(result.drainMs / 1000).toFixed(1)} s with ${result.missingAfterDrain} missing, ` +
          `latency run ${fmt(result.latency.rate)} events/s with ${result.latency.missing} missing, ` +
          `${fmt(result.ordering.older)} of ${fmt(result.ordering.members)} ESP users left holding an older event than their last` +
          (result.failedJobs === '' ? '' : `, failed jobs: ${result.failedJobs}`),
      )
      .join('; ');
    const section = [
      '<!-- pipeline:begin (written by `npm run bench:pipeline`) -->',
      '',
      `Run on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, Redis on loopback; ` +
        `${SECONDS} s sustained, ${LATENCY_SECONDS} s paced at ${fmt(LATENCY_RATE)} events/s; ${fmt(MEMBERS)} members, batches of ${BATCH}, ${REQUESTS_IN_FLIGHT} requests in flight, at most ${fmt(BACKLOG)} events between sender and ESP. ` +
        `Baseline in the same run: raw BullMQ no-op worker, concurrency 2: **${fmt(raw)} jobs/s**.`,
      '',
      '| store | accepted by ingest | delivered to the sandbox (sustained) | delivered ÷ raw BullMQ | end-to-end latency at 1,000 events/s | RSS (all-in-one, or the worker when split) |',
      '| --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
      `Redis per queued event (intake alone, ${fmt(memory.events)} events in ${memory.jobs} resolve jobs, nothing consuming): ` +
        `${fmt(memory.queueBytes / memory.events)} B in the queue + ${fmt(memory.dedupeBytes / memory.events)} B of dedupe keys = **${fmt(perEvent)} B** ` +
        `(≤ 2 KB: ${verdict(redisOk)}; INFO used_memory delta ${fmt(memory.usedMemoryDelta / memory.events)} B/event). Runs: ${failures}.`,
      '',
      '<!-- pipeline:end -->',
    ].join('\n');
    await writeBenchmarkSection('pipeline', section);
    process.stdout.write(`\n${section}\n\nwrote ${BENCHMARKS_DOC}\n`);
    if (missed) process.exitCode = 1;
  } finally {
    await sandbox.close();
    await deleteKeysWithPrefix(redis, baselinePrefix);
    await redis.quit();
  }
}

void main();
