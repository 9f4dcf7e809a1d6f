/**
 * `npm run bench:consent`: consent gate decisions per second with a warm cache, beside a baseline in the same
 * process (a plain `Map.get` and a one-line rule per decision); and consent ledger appends per second on the
 * real PostgreSQL in batches of 500, beside single-row INSERTs (one per round trip) into a scratch table.
 * Writes the figures into docs/benchmarks.md between the consent markers. Bounded: well under a minute.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import Redis from 'ioredis';
import {
  type ConsentEntry,
  ConsentGate,
  ConsentLedger,
  type ConsentScope,
  StoreConsentStateReader,
  type ConsentVerdict,
} from '@tessera/consent';
import { openScratchStore } from '@tessera/store';
import { BENCHMARKS_DOC, writeBenchmarkSection } from './benchmark-report';

const BATCH = 500;
const SUBJECTS = Number(process.env.BENCH_CONSENT_SUBJECTS ?? 20_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const REDIS_URL = process.env.TESSERA_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TARGET_DECISIONS = 200_000;
const fmt = (value: number) => Math.round(value).toLocaleString('en-US');
const SCOPE: ConsentScope = { brand: 'sd', channel: 'email', purpose: 'marketing' };

/** A blind index's shape (32 hex characters): what the ledger accepts as a contact point key. */
const subjectKey = (seed: string, index: number) =>
  createHash('sha256').update(`${seed}:${index}`).digest('hex').slice(0, 32);

/** Grants for most, opt-outs for one in five, soft opt-in for one in ten; a second channel for one in four. */
function entries(seed: string, count: number): ConsentEntry[] {
  const list: ConsentEntry[] = [];
  const start = Date.UTC(2026, 0, 1);
  for (let index = 0; index < count; index++) {
    const at = new Date(start + index * 1000).toISOString();
    list.push({
      subject: { type: 'email', key: subjectKey(seed, index) },
      scope: SCOPE,
      decision: index % 5 === 2 ? 'withdrawn' : 'granted',
      legalBasis: index % 10 === 3 ? 'soft_opt_in' : 'consent',
      provenance: {
        source: 'loyalty',
        proofRef: `form-${seed}-${index}`,
        capturedAt: at,
        receivedAt: at,
        actor: 'source:loyalty',
      },
      dedupeKey: `loyalty:${seed}:${index}`,
    });
  }
  return list;
}

/** Runs `work` (which does `unit` operations per call) for about `seconds`; operations per second. */
function rate(seconds: number, unit: number, work: () => void): number {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  while (performance.now() < until) {
    work();
    done += unit;
  }
  return done / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const store = await openScratchStore('postgres');
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  const prefix = `{tessera-bench-${randomBytes(6).toString('hex')}}`;
  const gate = new ConsentGate({ reader: new StoreConsentStateReader(store), redis, prefix });
  try {
    // ---- Ledger appends on PostgreSQL, batches of 500 (warm-up first, on other subjects).
    const ledger = new ConsentLedger(store);
    const warm = entries('warm', 2 * BATCH);
    for (let i = 0; i < warm.length; i += BATCH) await ledger.append(warm.slice(i, i + BATCH));
    const stream = entries('bench', SUBJECTS);
    const appendStarted = performance.now();
    let appended = 0;
    for (let i = 0; i < stream.length; i += BATCH) {
      const result = await ledger.append(stream.slice(i, i + BATCH));
      appended += result.appended;
      if (result.refused.length > 0) throw new Error(`ledger refused: ${result.refused[0]?.reason}`);
    }
    const appendSeconds = (performance.now() - appendStarted) / 1000;
    const appendRate = appended / appendSeconds;

    // Baseline: one single-row INSERT per round trip into a scratch table of the ledger's shape.
    await store.query(`CREATE TABLE bench_single_insert (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, subject_type text NOT NULL, subject_key text NOT NULL,
      brand text NOT NULL, channel text NOT NULL, purpose text NOT NULL, decision text NOT NULL,
      legal_basis text NOT NULL, source text NOT NULL, captured_at timestamptz NOT NULL,
      received_at timestamptz NOT NULL, actor text NOT NULL, dedupe_key text NOT NULL UNIQUE)`);
    const insertOne = (entry: ConsentEntry) =>
      store.query(
        `INSERT INTO bench_single_insert (subject_type, subject_key, brand, channel, purpose, decision, legal_basis,
           source, captured_at, received_at, actor, dedupe_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          entry.subject.type,
          entry.subject.key,
          entry.scope.brand,
          entry.scope.channel,
          entry.scope.purpose,
          entry.decision,
          entry.legalBasis,
          entry.provenance.source,
          entry.provenance.capturedAt,
          entry.provenance.receivedAt,
          entry.provenance.actor,
          entry.dedupeKey,
        ],
      );
    for (const entry of warm.slice(0, 200)) await insertOne(entry);
    const singleUntil = performance.now() + SECONDS * 1000;
    const singleStarted = performance.now();
    let singles = 0;
    while (performance.now() < singleUntil && singles < stream.length) {
      await insertOne(stream[singles] as ConsentEntry);
      singles += 1;
    }
    const singleRate = singles / ((performance.now() - singleStarted) / 1000);

    // ---- Gate decisions with a warm cache: every subject loaded once (in batches), then decided again and again.
    await gate.start();
    const keys = stream.map((entry) => entry.subject.key);
    for (let i = 0; i < keys.length; i += BATCH) {
      await gate.decideMany(keys.slice(i, i + BATCH).map((key) => ({ subjectKey: key, scope: SCOPE })));
    }
    let sink = 0;
    let cursor = 0;
    const gateRound = () => {
      for (let n = 0; n < 1000; n++) {
        const verdict = gate.decideCached(keys[cursor] as string, SCOPE);
        if (verdict === undefined) throw new Error('cache miss in the warm run');
        if (verdict.subscribed) sink += 1;
        cursor = cursor + 1 === keys.length ? 0 : cursor + 1;
      }
    };
    // Baseline: the same keys in a plain Map of precomputed flags, and a one-line rule per decision.
    const plain = new Map<string, { decision: string; suppressed: boolean }>();
    stream.forEach((entry) => plain.set(entry.subject.key, { decision: entry.decision, suppressed: false }));
    const trivial = (state: { decision: string; suppressed: boolean } | undefined) =>
      state !== undefined && !state.suppressed && state.decision === 'granted';
    const baselineRound = () => {
      for (let n = 0; n < 1000; n++) {
        if (trivial(plain.get(keys[cursor] as string))) sink += 1;
        cursor = cursor + 1 === keys.length ? 0 : cursor + 1;
      }
    };
    rate(0.5, 1000, gateRound);
    rate(0.5, 1000, baselineRound);
    const baselineRate = rate(SECONDS, 1000, baselineRound);
    const decideRate = rate(SECONDS, 1000, gateRound);
    // The async path on hits (`await gate.decide`), and decideMany over warm batches of 500.
    const asyncStarted = performance.now();
    let asyncDone = 0;
    while (performance.now() - asyncStarted < SECONDS * 1000) {
      for (let n = 0; n < 1000; n++) {
        const verdict: ConsentVerdict = await gate.decide(keys[cursor] as string, SCOPE);
        if (verdict.subscribed) sink += 1;
        cursor = cursor + 1 === keys.length ? 0 : cursor + 1;
      }
      asyncDone += 1000;
    }
    const asyncRate = asyncDone / ((performance.now() - asyncStarted) / 1000);
    const batches = Array.from({ length: Math.ceil(keys.length / BATCH) }, (_, b) =>
      keys.slice(b * BATCH, (b + 1) * BATCH).map((key) => ({ subjectKey: key, scope: SCOPE })),
    );
    const manyStarted = performance.now();
    let manyDone = 0;
    while (performance.now() - manyStarted < SECONDS * 1000) {
      const batch = batches[(manyDone / BATCH) % batches.length] ?? [];
      await gate.decideMany(batch);
      manyDone += BATCH;
    }
    const manyRate = manyDone / ((performance.now() - manyStarted) / 1000);
    if (gate.counters.loads !== batches.length)
      throw new Error(`the warm runs loaded: ${gate.counters.loads}`);

    const met = decideRate >= TARGET_DECISIONS;
    process.stdout.write(
      `gate ${fmt(decideRate)} decisions/s (async ${fmt(asyncRate)}, batches ${fmt(manyRate)}), baseline ${fmt(baselineRate)}/s; ` +
        `ledger ${fmt(appendRate)} appends/s, single INSERTs ${fmt(singleRate)}/s (${sink > 0 ? 'ok' : '?'})\n`,
    );
    const section = [
      '<!-- consent:begin (written by `npm run bench:consent`) -->',
      `Run on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${fmt(SUBJECTS)} contact points, batches of ${BATCH}, ${SECONDS} s per decision figure.`,
      '',
      '| workload | baseline | Tessera | ratio | target |',
      '| --- | --- | --- | --- | --- |',
      `| gate decisions, warm cache (\`decideCached\`) | ${fmt(baselineRate)} decisions/s (\`Map.get\` + one-line rule) | ${fmt(decideRate)} decisions/s | ${(decideRate / baselineRate).toFixed(2)}× | ≥ ${fmt(TARGET_DECISIONS)}: ${met ? 'met' : '**missed**'} |`,
      `| gate decisions, warm cache, awaited (\`decide\`) | — | ${fmt(asyncRate)} decisions/s | ${(asyncRate / baselineRate).toFixed(2)}× | — |`,
      `| gate decisions, warm cache, batches of ${BATCH} (\`decideMany\`) | — | ${fmt(manyRate)} decisions/s | ${(manyRate / baselineRate).toFixed(2)}× | — |`,
      `| consent ledger appends on PostgreSQL, batches of ${BATCH} | ${fmt(singleRate)} rows/s (single-row INSERT per round trip) | ${fmt(appendRate)} entries/s (ledger + state + audit, one transaction per batch) | ${(appendRate / singleRate).toFixed(1)}× | — |`,
      '<!-- consent:end -->',
    ].join('\n');
    await writeBenchmarkSection('consent', section);
    process.stdout.write(`\n${section}\n\nwrote ${BENCHMARKS_DOC}\n`);
    if (!met) process.exitCode = 1;
  } finally {
    await gate.close();
    await redis.quit();
    await store.close();
  }
}

void main();
