/**
 * `npm run bench:ingest`: ingest throughput and latency beside raw BullMQ in the same run, on loopback.
 *
 * 1. raw BullMQ `add` (one job per call) and `addBulk` (100 per call) at the HTTP runs' concurrency, from
 *    this process, against the same Redis: the baselines;
 * 2. the all-in-one process (started here, as `npm start` runs it) under autocannon: single signed events
 *    at full speed, single events at a fixed 1,000 req/s (latency), batches of 100 events.
 * Ratios against the baselines are what the targets are written in, because the machine is shared.
 * Writes the figures into docs/benchmarks.md between the ingest markers. Bounded: about a minute.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { newWebhookSecret } from '@tessera/runtime';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { REPO_ROOT, startTessera } from '../support/tessera-process';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const BATCH = 100;

const eventJson = (id: string) =>
  JSON.stringify({
    specversion: '1.0',
    id,
    source: 'https://loyalty.example.com',
    type: 'points.updated',
    data: { customer_id: `C${id.slice(-6)}`, email: 'user@example.com', delta: 120, new_balance: 1840, reason: 'purchase' },
  });

/** Keeps `concurrency` calls in flight for `seconds`; returns completed calls per second. */
async function saturate(concurrency: number, seconds: number, call: () => Promise<unknown>): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        await call();
        done++;
      }
    }),
  );
  return done / ((Date.now() - started) / 1000);
}

function signer(secret: string) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  let counter = 0;
  return (body: string): Record<string, string> => {
    const id = `msg_${process.pid}_${counter++}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
    return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` };
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  const secret = newWebhookSecret();
  const workspaceFile = join(dataDir, 'workspace.json');
  writeFileSync(
    workspaceFile,
    JSON.stringify({
      brands: [{ id: 'bench', name: 'Bench', defaultCountry: 'GB' }],
      sources: [{ id: 'bench', brand: 'bench', secrets: [secret], rateLimit: 10_000_000 }],
    }),
  );
  const tessera = await startTessera({
    REDIS_URL: TEST_REDIS_URL,
    TESSERA_REDIS_PREFIX: prefix,
    TESSERA_DATA_DIR: dataDir,
    TESSERA_WORKSPACE_FILE: workspaceFile,
    TESSERA_DEMO: 'off',
    TESSERA_INGEST_MAX_QUEUE_DEPTH: '100000000',
    LOG_LEVEL: 'warn',
  });
  try {
    process.stdout.write(`bench: ${SECONDS}s per run, ${CONNECTIONS} concurrent, server ${tessera.baseUrl}\n`);

    // Baselines: raw BullMQ from this process, same Redis, same concurrency.
    const rawQueue = new Queue('raw-baseline', { connection: redis.duplicate(), prefix });
    const payload = { event: eventJson('baseline-000001') };
    const rawAdd = await saturate(CONNECTIONS, SECONDS, () => rawQueue.add('x', payload));
    process.stdout.write(`raw add: ${fmt(rawAdd)} jobs/s\n`);
    const bulk = Array.from({ length: BATCH }, () => ({ name: 'x', data: payload }));
    const rawAddBulk = (await saturate(CONNECTIONS, SECONDS, () => rawQueue.addBulk(bulk))) * BATCH;
    process.stdout.write(`raw addBulk(${BATCH}): ${fmt(rawAddBulk)} jobs/s\n`);
    await rawQueue.obliterate({ force: true });
    await rawQueue.close();

    const sign = signer(secret);
    let sequence = 0;
    const single = (request: { headers?: Record<string, string>; body?: string }) => {
      const body = eventJson(`evt-${process.pid}-${sequence++}`);
      request.body = body;
      request.headers = { 'content-type': 'application/cloudevents+json', ...sign(body) };
      return request;
    };
    const batch = (request: { headers?: Record<string, string>; body?: string }) => {
      const body = `[${Array.from({ length: BATCH }, () => eventJson(`evt-${process.pid}-${sequence++}`)).join(',')}]`;
      request.body = body;
      request.headers = { 'content-type': 'application/cloudevents-batch+json', ...sign(body) };
      return request;
    };
    const run = (setupRequest: typeof single, extra: { overallRate?: number; connections?: number } = {}) =>
      autocannon({
        url: tessera.baseUrl,
        connections: extra.connections ?? CONNECTIONS,
        duration: SECONDS,
        overallRate: extra.overallRate,
        requests: [{ method: 'POST', path: '/v1/sources/bench/events', setupRequest }],
      });

    const singles = await run(single);
    process.stdout.write(`ingest single: ${fmt(singles.requests.average)} events/s p50 ${singles.latency.p50} ms p99 ${singles.latency.p99} ms non-2xx ${singles.non2xx}\n`);
    const paced = await run(single, { overallRate: 1000, connections: 16 });
    process.stdout.write(`ingest single @1000/s: ${fmt(paced.requests.average)} req/s p50 ${paced.latency.p50} ms p99 ${paced.latency.p99} ms non-2xx ${paced.non2xx}\n`);
    const batches = await run(batch, { connections: 8 });
    const batchedEvents = batches.requests.average * BATCH;
    process.stdout.write(`ingest batch(${BATCH}): ${fmt(batchedEvents)} events/s p50 ${batches.latency.p50} ms p99 ${batches.latency.p99} ms non-2xx ${batches.non2xx}\n`);

    const failures = singles.non2xx + paced.non2xx + batches.non2xx + singles.errors + paced.errors + batches.errors;
    const ratio = singles.requests.average / rawAdd;
    const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
    const rows = [
      `| raw BullMQ \`add\` (${CONNECTIONS} in flight) | ${fmt(rawAdd)} jobs/s | | baseline |`,
      `| raw BullMQ \`addBulk\` of ${BATCH} (${CONNECTIONS} in flight) | ${fmt(rawAddBulk)} jobs/s | | baseline |`,
      `| ingest, single events (${CONNECTIONS} connections) | ${fmt(singles.requests.average)} events/s | p50 ${singles.latency.p50} ms, p99 ${singles.latency.p99} ms | ${(ratio * 100).toFixed(0)}% of raw \`add\` (target ≥ 40%: ${verdict(ratio >= 0.4)}) |`,
      `| ingest, single events at 1,000 req/s | ${fmt(paced.requests.average)} events/s | p50 ${paced.latency.p50} ms, p99 ${paced.latency.p99} ms | p99 target ≤ 25 ms: ${verdict(paced.latency.p99 <= 25)} |`,
      `| ingest, batches of ${BATCH} (8 connections) | ${fmt(batchedEvents)} events/s | p50 ${batches.latency.p50} ms, p99 ${batches.latency.p99} ms | target ≥ 10,000 events/s: ${verdict(batchedEvents >= 10_000)} |`,
    ];
    const section = [
      '<!-- ingest:begin (written by `npm run bench:ingest`) -->',
      `Run on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, Redis on loopback; ${SECONDS} s per run; ${failures} non-2xx answers or errors.`,
      '',
      '| run | throughput | latency | against the target |',
      '| --- | --- | --- | --- |',
      ...rows,
      '<!-- ingest:end -->',
    ].join('\n');
    const docPath = join(REPO_ROOT, 'docs', 'benchmarks.md');
    const doc = readFileSync(docPath, 'utf8');
    writeFileSync(docPath, doc.replace(/<!-- ingest:begin[\s\S]*?<!-- ingest:end -->/, section));
    process.stdout.write(`\n${section}\n\nwrote ${docPath}\n`);
    if (failures > 0) process.exitCode = 1;
  } finally {
    await tessera.stop();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

void main();
