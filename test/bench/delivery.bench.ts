/**
 * `npm run bench:delivery`: the delivery economy of the running pipeline. The all-in-one process started as
 * `npm start` starts it (PGlite, the embedded default; BENCH_DELIVERY_STORE=postgres runs it on a scratch
 * PostgreSQL database) with the DEMO workspace: two brands, their sources, four destinations on the process's
 * own ESP sandbox (rate limits enforced), the demo's rules, plugins and sandbox configuration. The demo's own
 * generators make the traffic (seeded members, then the live stream), signed with the demo sources' secrets and
 * posted to the intake. Per phase, requests are counted AT THE SANDBOX (`GET /sandbox/{esp}/_sandbox/stats`,
 * read before and after: a reset would also forget the seeded members), and once the process has stopped the
 * delivery log gives each item's settlement and its ingest → ESP time. Phases, one process, drained between:
 *
 * 1. seed: the demo members (300 for the trickle + the stream's), their profile, consent, points and tier;
 * 2. trickle: single-event requests at 50 events/s over the first 300 members;
 * 3. unwindowed: the same trickle, shorter, with every destination's `windowMs` set to 0 through the console
 *    API (the baseline: delivery as it was before windows), then set back;
 * 4. stream: 1,000 events/s in a request of 100 events per source every 100 ms over the other members;
 * 5. saturation: batches of 500 as fast as the pipeline takes them, for the sustained throughput, compared
 *    with the figure docs/benchmarks.md holds for `bench:pipeline` on the same store.
 *
 * Writes the figures into docs/benchmarks.md between the delivery markers, then exits non-zero on a missed
 * target.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import {
  DEMO_MEMBER_SEED,
  DEMO_SANDBOX_CONFIG,
  DemoEventStream,
  demoMembers,
  demoSeedEvents,
} from '@tessera/runtime';
import { openScratchStore, openStore, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { BENCHMARKS_DOC, writeBenchmarkSection } from './benchmark-report';
import {
  deliveryFigures,
  drain,
  eventsReceived,
  eventsThroughRoute,
  latencyHistogram,
  parkedItems,
  rawBullmqRate,
  stageTimings,
  scrapeMetrics,
  statsDelta,
} from './delivery-figures';
import { allStats, processLogSummary, setWindows, startDemoProcess, type Running } from './delivery-process';
import { deliverySection, missedTargets, type PhaseName, type PhaseRun } from './delivery-report';
import {
  IntakeTally,
  sendPaced,
  sendSaturating,
  sendSeed,
  type IntakeTarget,
  type PacedResult,
} from './delivery-traffic';

const env = process.env;
const STORE = env.BENCH_DELIVERY_STORE ?? 'pglite';
const TRICKLE_SECONDS = Number(env.BENCH_DELIVERY_TRICKLE_SECONDS ?? 120);
const TRICKLE_RATE = 50;
const TRICKLE_MEMBERS = 300;
const BASELINE_SECONDS = Number(env.BENCH_DELIVERY_BASELINE_SECONDS ?? 30);
const STREAM_SECONDS = Number(env.BENCH_DELIVERY_STREAM_SECONDS ?? 60);
const STREAM_RATE = 1000;
const STREAM_MEMBERS = Number(env.BENCH_DELIVERY_STREAM_MEMBERS ?? 20_000);
const STREAM_BATCH_MS = 100;
const SATURATION_SECONDS = Number(env.BENCH_DELIVERY_SATURATION_SECONDS ?? 30);
const SATURATION_BATCH = 500;
const SATURATION_IN_FLIGHT = 8;
/** Events accepted and not yet through route, at most, while saturating (as bench:pipeline bounds it). */
const SATURATION_BACKLOG = 20_000;
const DRAIN_MS = Number(env.BENCH_DELIVERY_DRAIN_SECONDS ?? 120) * 1000;
const SEED_DRAIN_MS = Number(env.BENCH_DELIVERY_SEED_DRAIN_SECONDS ?? 600) * 1000;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const say = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** The `delivered to the sandbox (sustained)` figure of bench:pipeline's row for this store in the doc. */
function pipelineReference(): { eventsPerSecond: number; rawBullmq: number; source: string } {
  const doc = readFileSync(BENCHMARKS_DOC, 'utf8');
  const section = /<!-- pipeline:begin[\s\S]*?<!-- pipeline:end -->/.exec(doc)?.[0] ?? '';
  const row = STORE === 'postgres' ? /^\| PostgreSQL 15 \(loopback[^|]*\|/m : /^\| PGlite[^|]*\|/m;
  const line = section.split('\n').find((candidate) => row.test(candidate)) ?? '';
  const delivered = /^\|[^|]*\|[^|]*\|\s*([\d,]+) events\/s/.exec(line)?.[1];
  const runOn = /Run on (\d{4}-\d{2}-\d{2})/.exec(section)?.[1] ?? 'an undated run';
  const raw = /raw BullMQ no-op worker, concurrency 2: \*\*([\d,]+) jobs\/s/.exec(section)?.[1];
  if (delivered === undefined) throw new Error(`docs/benchmarks.md has no bench:pipeline row for ${STORE}`);
  return {
    eventsPerSecond: Number(delivered.replace(/,/g, '')),
    rawBullmq: Number((raw ?? 'NaN').replace(/,/g, '')),
    source: `docs/benchmarks.md's \`bench:pipeline\` section (run on ${runOn}, read by this script)`,
  };
}

/** Runs one phase: counts before, the traffic, the drain, counts after. The store figures come later. */
async function runPhase(
  running: Running,
  name: PhaseName,
  shape: string,
  send: (tally: IntakeTally) => Promise<PacedResult>,
): Promise<PhaseRun> {
  say(`${name}: ${shape}`);
  const statsBefore = await allStats(running);
  const metricsBefore = await scrapeMetrics(running.baseUrl);
  const tally = new IntakeTally();
  const sending = await send(tally);
  const throughRoute =
    eventsThroughRoute(await scrapeMetrics(running.baseUrl)) - eventsThroughRoute(metricsBefore);
  const drained = await drain(running.probe, DRAIN_MS);
  const parked = await parkedItems(running.probe);
  const stages = await stageTimings(running.probe.redis, running.probe.prefix, sending.startedAt);
  await sleep(1_000); // a flush's log rows and metrics follow its last request
  const statsAfter = await allStats(running);
  const histogramBefore = latencyHistogram(metricsBefore);
  const histogram = new Map(
    [...latencyHistogram(await scrapeMetrics(running.baseUrl))].map(([destination, after]) => {
      const before = histogramBefore.get(destination) ?? { count: 0, within5s: 0 };
      return [destination, { count: after.count - before.count, within5s: after.within5s - before.within5s }];
    }),
  );
  const phaseEnd = Date.now();
  const rssPeak = Math.max(
    0,
    ...running.rss.filter(([at]) => at >= sending.startedAt && at <= phaseEnd).map(([, rss]) => rss),
  );
  const requests = new Map(
    [...statsAfter].map(([esp, after]) => [esp, statsDelta(after, statsBefore.get(esp) ?? after)]),
  );
  say(
    `${name}: ${tally.summary()}; ${drained.drained ? `drained in ${(drained.ms / 1000).toFixed(1)} s` : `NOT drained: ${drained.left}`}; ` +
      `requests ${[...requests].map(([esp, stats]) => `${esp} ${stats.total} (429 by emulator ${stats.throttledByEmulator})`).join(', ')}`,
  );
  return {
    name,
    shape,
    sending,
    tally,
    drain: drained,
    requests,
    histogram,
    rssPeak,
    throughRoute,
    parked,
    stages,
    items: new Map(),
    eventsStored: 0,
  };
}

async function main(): Promise<void> {
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-delivery-'));
  const logFile = join(tmpdir(), `tessera-bench-delivery-${Date.now()}.log`);
  const database = STORE === 'postgres' ? await openScratchStore('postgres') : undefined;
  const redis = new Redis(TEST_REDIS_URL);
  let running: Running | undefined;
  let store: Store | undefined;
  try {
    say(
      `bench:delivery on ${STORE}: trickle ${TRICKLE_SECONDS} s, unwindowed ${BASELINE_SECONDS} s, stream ${STREAM_SECONDS} s over ` +
        `${fmt(STREAM_MEMBERS)} members, saturation ${SATURATION_SECONDS} s`,
    );
    const reference = pipelineReference();
    const rawPrefix = uniqueRedisPrefix();
    const raw = await rawBullmqRate(TEST_REDIS_URL, rawPrefix, 5);
    await deleteKeysWithPrefix(redis, rawPrefix);
    say(
      `raw BullMQ no-op worker (concurrency 2): ${fmt(raw)} jobs/s; bench:pipeline's run had ${fmt(reference.rawBullmq)}`,
    );
    running = await startDemoProcess(dataDir, prefix, redis, database, say);

    const members = demoMembers(DEMO_MEMBER_SEED, TRICKLE_MEMBERS + STREAM_MEMBERS);
    const seedEvents = demoSeedEvents(members, new Date());
    const seedTally = new IntakeTally();
    const seedStarted = performance.now();
    await sendSeed(running.target, seedEvents, seedTally, { batch: 500, inFlight: 4 });
    const seedDrain = await drain(running.probe, SEED_DRAIN_MS);
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    const seed =
      `${fmt(members.length)} demo members, ${seedTally.summary()}; through the pipeline in ${seedSeconds.toFixed(1)} s` +
      (seedDrain.drained ? '.' : ` (**not drained**: ${seedDrain.left}).`);
    say(`seed: ${seed}`);

    const runId = Date.now().toString(36);
    const trickleStream = new DemoEventStream(members.slice(0, TRICKLE_MEMBERS), {
      seed: 17,
      runId: `trickle-${runId}`,
    });
    const trickleShape = (seconds: number, windows: string) =>
      `${TRICKLE_RATE} events/s, one event per request, ${TRICKLE_MEMBERS} members, ${seconds} s, ${windows}`;
    const trickle = (seconds: number) => (tally: IntakeTally) =>
      sendPaced(running?.target as IntakeTarget, trickleStream, tally, {
        rate: TRICKLE_RATE,
        seconds,
        batchMs: 0,
        maxInFlight: 64,
      });
    const phases: PhaseRun[] = [];
    phases.push(
      await runPhase(
        running,
        'trickle',
        trickleShape(TRICKLE_SECONDS, 'default windows (2 s)'),
        trickle(TRICKLE_SECONDS),
      ),
    );
    await setWindows(running, 0);
    phases.push(
      await runPhase(
        running,
        'unwindowed',
        trickleShape(BASELINE_SECONDS, '`windowMs` 0 on every destination'),
        trickle(BASELINE_SECONDS),
      ),
    );
    await setWindows(running, null);

    const stream = new DemoEventStream(members.slice(TRICKLE_MEMBERS), {
      seed: 29,
      runId: `stream-${runId}`,
    });
    phases.push(
      await runPhase(
        running,
        'stream',
        `${fmt(STREAM_RATE)} events/s, a request of ${(STREAM_RATE * STREAM_BATCH_MS) / 1000} events per source every ${STREAM_BATCH_MS} ms, ${fmt(STREAM_MEMBERS)} members, ${STREAM_SECONDS} s`,
        (tally) =>
          sendPaced(running?.target as IntakeTarget, stream, tally, {
            rate: STREAM_RATE,
            seconds: STREAM_SECONDS,
            batchMs: STREAM_BATCH_MS,
            maxInFlight: 32,
          }),
      ),
    );
    phases.push(
      await runPhase(
        running,
        'saturation',
        `batches of ${SATURATION_BATCH}, ${SATURATION_IN_FLIGHT} in flight, at most ${fmt(SATURATION_BACKLOG)} events before route, ${fmt(STREAM_MEMBERS)} members, ${SATURATION_SECONDS} s`,
        async (tally) => {
          const metricsUrl = running?.baseUrl ?? '';
          const routedAtStart = eventsThroughRoute(await scrapeMetrics(metricsUrl));
          let routed = 0;
          let polling = true;
          const poller = (async () => {
            while (polling) {
              routed = eventsThroughRoute(await scrapeMetrics(metricsUrl)) - routedAtStart;
              await sleep(500);
            }
          })();
          const result = await sendSaturating(running?.target as IntakeTarget, stream, tally, {
            seconds: SATURATION_SECONDS,
            batch: SATURATION_BATCH,
            inFlight: SATURATION_IN_FLIGHT,
            maxBacklog: SATURATION_BACKLOG,
            backlog: () => tally.accepted - routed,
          });
          polling = false;
          await poller;
          return result;
        },
      ),
    );

    const code = await running.tessera.stop();
    const output = running.tessera.output();
    writeFileSync(logFile, output);
    say(`all-in-one stopped (exit ${code}); its log: ${logFile}`);
    store = database ?? (await openStore({ dataDir }));
    for (const phase of phases) {
      const to = phase.sending.endedAt + 1;
      phase.items = await deliveryFigures(store, phase.sending.startedAt, to);
      phase.eventsStored = await eventsReceived(store, phase.sending.startedAt, to);
    }

    const saturation = phases.find((phase) => phase.name === 'saturation') as PhaseRun;
    const endToEndSeconds = saturation.sending.seconds + saturation.drain.ms / 1000;
    const measured = saturation.tally.accepted / endToEndSeconds;
    const throughput = {
      measured,
      reference: reference.eventsPerSecond,
      referenceSource: reference.source,
      raw,
      referenceRaw: reference.rawBullmq,
      detail:
        `saturation: ${fmt(saturation.tally.accepted)} events accepted in ${saturation.sending.seconds.toFixed(1)} s ` +
        `(${fmt(saturation.tally.accepted / saturation.sending.seconds)} events/s; ${fmt(saturation.throughRoute / saturation.sending.seconds)} events/s through route), ` +
        `the last delivered ${(saturation.drain.ms / 1000).toFixed(1)} s after the last request`,
    };
    const missed = missedTargets(phases, running.destinations, throughput);
    if (!seedDrain.drained) missed.unshift(`seed not drained (${seedDrain.left})`);
    const logSummary = processLogSummary(output);
    const storeName =
      STORE === 'postgres' ? 'PostgreSQL 15 (loopback, scratch database)' : 'PGlite (the embedded default)';
    const header =
      `Run on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, ` +
      `Node ${process.version}, Redis on loopback; the all-in-one process on ${storeName} with the demo workspace, its sandbox's rate limits enforced` +
      `${Object.keys(DEMO_SANDBOX_CONFIG).length === 0 ? '' : ` and the demo's sandbox configuration (${Object.keys(DEMO_SANDBOX_CONFIG).join(', ')})`}. ` +
      `Trickle ${TRICKLE_SECONDS} s, unwindowed trickle ${BASELINE_SECONDS} s, stream ${STREAM_SECONDS} s over ${fmt(STREAM_MEMBERS)} members, saturation ${SATURATION_SECONDS} s` +
      `${TRICKLE_SECONDS < 120 || STREAM_SECONDS < 60 || STREAM_MEMBERS < 20_000 ? ' (**a short run**: the issue asks for 120 s, 60 s and 20,000 members)' : ''}. ` +
      'Ingest → ESP from the delivery log (exact per item; "metric" is the share ≤ 5 s by `tessera_end_to_end_latency_seconds`).';
    const section = deliverySection({
      header,
      phases,
      destinations: running.destinations,
      throughput,
      seed,
      processLog: logSummary.slice(0, 8),
      rssPeak: Math.max(0, ...running.rss.map(([, rss]) => rss)),
      missed,
    });
    await writeBenchmarkSection('delivery', section);
    process.stdout.write(`\n${section}\n\nwrote ${BENCHMARKS_DOC}\n`);
    if (logSummary.length > 8)
      process.stdout.write(`\nmore of the process log:\n${logSummary.slice(8).join('\n')}\n`);
    if (missed.length > 0) process.exitCode = 1;
  } finally {
    if (running !== undefined && running.tessera.child.exitCode === null) {
      await running.tessera.stop();
      writeFileSync(logFile, running.tessera.output());
      say(`its log: ${logFile}`);
    }
    // The scratch PostgreSQL database is dropped when its store closes.
    await (store ?? database)?.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:delivery failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
