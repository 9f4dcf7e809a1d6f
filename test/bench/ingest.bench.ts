/**
 * `npm run bench:ingest`: ingest throughput and latency beside raw BullMQ in the same run, on loopback.
 *
 * 1. raw BullMQ `add` (one job per call) and `addBulk` (100 per call) at the HTTP runs' concurrency, from
 *    this process, against the same Redis: the baselines;
 * 2. the all-in-one process (started here, as `npm start` runs it) under autocannon: single signed events
 *    at full speed, single events at a fixed 1,000 req/s (latency), batches of 100 events;
 * 3. the HTTP ceiling: the same single-event requests against a bare Fastify process that only answers 202,
 *    which bounds what any HTTP intake can reach from this load generator on this machine.
 * Ratios against the baselines are what the targets are written in, because the machine is shared.
 * Writes the figures into docs/benchmarks.md between the ingest markers. Bounded: about a minute.
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { cpus, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { newWebhookSecret } from '@tessera/runtime';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { REPO_ROOT, startTessera } from '../support/tessera-process';
import { BENCHMARKS_DOC, writeBenchmarkSection } from './benchmark-report';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number);
const BATCH = 100;

const eventJson = (id: string) =>
  JSON.stringify({
    specversion: '1.0',
    id,
    source: 'https://loyalty.example.com',
    type: 'points.updated',
    data: {
      customer_id: `C${id.slice(-6)}`,
      email: 'user@example.com',
      delta: 120,
      new_balance: 1840,
      reason: 'purchase',
    },
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
    return {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': `v1,${signature}`,
    };
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Starts the bare Fastify process of the HTTP ceiling; resolves with its base URL and a stop function. */
async function startHttpCeiling(): Promise<{ baseUrl: string; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['-r', '@swc-node/register', join(__dirname, 'http-ceiling.server.ts')],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  return {
    baseUrl: `http://127.0.0.1:${chunk.toString().trim()}`,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

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
    process.stdout.write(
      `bench: ${SECONDS}s per run, concurrency ${CONCURRENCY.join(', ')}, server ${tessera.baseUrl}\n`,
    );

    // Requests are signed before each run, so the load generator (sharing the two cores with the server and
    // Redis) spends its time sending, not hashing; every request still carries a new event and webhook-id.
    const sign = signer(secret);
    let sequence = 0;
    type Prepared = { body: string; headers: Record<string, string> };
    const prepare = (count: number, events: number, contentType: string): Prepared[] =>
      Array.from({ length: count }, () => {
        const bodies = Array.from({ length: events }, () => eventJson(`evt-${process.pid}-${sequence++}`));
        const body = events === 1 ? bodies[0] : `[${bodies.join(',')}]`;
        return { body, headers: { 'content-type': contentType, ...sign(body) } };
      });
    const pool = (count: number, events: number) => {
      const contentType =
        events === 1 ? 'application/cloudevents+json' : 'application/cloudevents-batch+json';
      const prepared = prepare(count, events, contentType);
      let next = 0;
      return (request: { headers?: Record<string, string>; body?: string }) => {
        const item = next < prepared.length ? prepared[next++] : prepare(1, events, contentType)[0];
        request.body = item.body;
        request.headers = item.headers;
        return request;
      };
    };
    const run = (
      setupRequest: ReturnType<typeof pool>,
      connections: number,
      overallRate?: number,
      url = tessera.baseUrl,
    ) =>
      autocannon({
        url,
        connections,
        duration: SECONDS,
        overallRate,
        requests: [{ method: 'POST', path: '/v1/sources/bench/events', setupRequest }],
      });

    // Raw BullMQ from this process against the same Redis, then the intake, at each concurrency in turn.
    const rawQueue = new Queue('raw-baseline', { connection: redis.duplicate(), prefix });
    const payload = { event: eventJson('baseline-000001') };
    const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
    const rows: string[] = [];
    let failures = 0;
    const ceilingServer = await startHttpCeiling();
    for (const concurrency of CONCURRENCY) {
      const rawAdd = await saturate(concurrency, SECONDS, () => rawQueue.add('x', payload));
      const singles = await run(pool(40_000 * SECONDS, 1), concurrency);
      const ceiling = await run(pool(60_000 * SECONDS, 1), concurrency, undefined, ceilingServer.baseUrl);
      failures += singles.non2xx + singles.errors + ceiling.non2xx + ceiling.errors;
      const ratio = singles.requests.average / rawAdd;
      const ceilingRatio = ceiling.requests.average / rawAdd;
      process.stdout.write(
        `concurrency ${concurrency}: raw add ${fmt(rawAdd)} jobs/s; ingest ${fmt(singles.requests.average)} events/s ` +
          `(p50 ${singles.latency.p50} ms, p99 ${singles.latency.p99} ms) = ${(ratio * 100).toFixed(0)}%; ` +
          `bare Fastify ${fmt(ceiling.requests.average)} req/s = ${(ceilingRatio * 100).toFixed(0)}%\n`,
      );
      rows.push(
        `| single events, ${concurrency} in flight | ${fmt(rawAdd)} jobs/s | ${fmt(singles.requests.average)} events/s | ` +
          `p50 ${singles.latency.p50} ms, p99 ${singles.latency.p99} ms | ${fmt(ceiling.requests.average)} req/s (${(ceilingRatio * 100).toFixed(0)}% of raw) | ` +
          `${(ratio * 100).toFixed(0)}% of raw \`add\`, ${((singles.requests.average / ceiling.requests.average) * 100).toFixed(0)}% of the ceiling (target ≥ 40% of raw: ${verdict(ratio >= 0.4)}) |`,
      );
    }
    await ceilingServer.stop();
    const bulk = Array.from({ length: BATCH }, () => ({ name: 'x', data: payload }));
    const rawAddBulk = (await saturate(8, SECONDS, () => rawQueue.addBulk(bulk))) * BATCH;
    await rawQueue.obliterate({ force: true });
    await rawQueue.close();

    const paced = await run(pool(1_100 * SECONDS, 1), 16, 1000);
    failures += paced.non2xx + paced.errors;
    process.stdout.write(`ingest at 1,000 req/s: p50 ${paced.latency.p50} ms, p99 ${paced.latency.p99} ms\n`);
    rows.push(
      `| single events paced at 1,000 req/s (16 connections) | | ${fmt(paced.requests.average)} events/s | ` +
        `p50 ${paced.latency.p50} ms, p99 ${paced.latency.p99} ms | | p99 ≤ 25 ms: ${verdict(paced.latency.p99 <= 25)} |`,
    );
    const batches = await run(pool(1_000 * SECONDS, BATCH), 8);
    failures += batches.non2xx + batches.errors;
    const batchedEvents = batches.requests.average * BATCH;
    process.stdout.write(
      `ingest batches of ${BATCH}: ${fmt(batchedEvents)} events/s; raw addBulk ${fmt(rawAddBulk)} jobs/s\n`,
    );
    rows.push(
      `| batches of ${BATCH} events, 8 in flight | ${fmt(rawAddBulk)} jobs/s (\`addBulk\`) | ${fmt(batchedEvents)} events/s | ` +
        `p50 ${batches.latency.p50} ms, p99 ${batches.latency.p99} ms | | ≥ 10,000 events/s: ${verdict(batchedEvents >= 10_000)} |`,
    );

    const section = [
      '<!-- ingest:begin (written by `npm run bench:ingest`) -->',
      `Run on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, Redis on loopback; ${SECONDS} s per run; ${failures} non-2xx answers or errors.`,
      '',
      '| run | raw BullMQ, same concurrency | ingest | ingest latency | HTTP ceiling (bare Fastify, same requests) | against the target |',
      '| --- | --- | --- | --- | --- | --- |',
      ...rows,
      '<!-- ingest:end -->',
    ].join('\n');
    await writeBenchmarkSection('ingest', section);
    process.stdout.write(`\n${section}\n\nwrote ${BENCHMARKS_DOC}\n`);
    if (failures > 0) process.exitCode = 1;
  } finally {
    await tessera.stop();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

void main();
