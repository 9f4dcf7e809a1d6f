/**
 * `npm run bench:identity`: records resolved and persisted per second by the identity graph, in batches
 * of 500, on PGlite and on the real PostgreSQL, beside the single-statement rate measured in the same run
 * on the same store (one INSERT per round trip, the ceiling of any per-record design).
 * Writes the figures into docs/benchmarks.md between the identity markers. Bounded: about a minute.
 */
import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { IdentityGraph, type IdentityRecord } from '@tessera/identity-graph';
import { openScratchStore, PiiVault, STORE_DRIVERS, type StoreDriver } from '@tessera/store';
import { BENCHMARKS_DOC, writeBenchmarkSection } from './benchmark-report';

const BATCH = 500;
const fmt = (value: number) => Math.round(value).toLocaleString('en-US');
const RECORDS = Number(process.env.BENCH_IDENTITY_RECORDS ?? 20_000);
const BASELINE_SECONDS = Number(process.env.BENCH_SECONDS ?? 4);

/**
 * A realistic stream: group members with a customer id and an email, most with a phone; one record in ten
 * repeats a known member (an update); one in twenty is a brand member known by the brand's id alone, who
 * later turns up with a group member's email (a merge of two existing profiles).
 */
function records(count: number, seed: string): IdentityRecord[] {
  const list: IdentityRecord[] = [];
  const start = Date.UTC(2025, 0, 1);
  for (let index = 0; index < count; index++) {
    const eventTime = new Date(start + index * 1000);
    if (index % 20 === 4) {
      // A brand member known only by the brand's id, for now.
      list.push({
        brand: 'sports-direct',
        eventTime,
        eventId: `${seed}-${index}`,
        identifiers: { member_id: `SD${seed}${index}`, brand: 'sports-direct' },
      });
      continue;
    }
    if (index % 20 === 19) {
      // A brand member from an earlier batch turns up with the email of a group member of that batch: two
      // stored profiles merge.
      list.push({
        brand: 'sports-direct',
        eventTime,
        eventId: `${seed}-${index}`,
        identifiers: {
          member_id: `SD${seed}${index >= BATCH + 15 ? index - 15 - BATCH : index - 15}`,
          brand: 'sports-direct',
          email: `m${seed}${index >= BATCH + 3 ? index - 3 - BATCH : index - 3}@example.com`,
        },
      });
      continue;
    }
    const member = index % 10 === 9 ? index - 6 : index;
    list.push({
      brand: 'group',
      eventTime,
      eventId: `${seed}-${index}`,
      identifiers: {
        customer_id: `C${seed}${member}`,
        email: `m${seed}${member}@example.com`,
        ...(member % 3 === 0 ? {} : { phone: `+4477009${String(member % 100_000).padStart(5, '0')}` }),
      },
      traits: { points_balance: index, loyalty_tier: index % 2 === 0 ? 'Silver' : 'Gold' },
    });
  }
  return list;
}

/**
 * The steady state of a loyalty programme, over members already in the graph: four records in five are
 * points updates for known members, three in twenty are new members, one in twenty is a showroom guest
 * who turns up beside a known member's email (the guest joins that profile).
 */
function steadyRecords(
  count: number,
  seed: string,
  known: { seed: string; count: number },
): IdentityRecord[] {
  const list: IdentityRecord[] = [];
  const start = Date.UTC(2025, 6, 1);
  const blocks = Math.floor(known.count / 20);
  for (let index = 0; index < count; index++) {
    const eventTime = new Date(start + index * 1000);
    const slot = index % 20;
    // Positions 0–3 of every block of twenty in the import stream are plain group members.
    const member = 20 * ((index * 7919) % blocks) + (index % 4);
    if (slot < 16) {
      list.push({
        brand: 'group',
        eventTime,
        eventId: `${seed}-${index}`,
        identifiers: {
          customer_id: `C${known.seed}${member}`,
          email: `m${known.seed}${member}@example.com`,
          ...(member % 3 === 0 ? {} : { phone: `+4477009${String(member % 100_000).padStart(5, '0')}` }),
        },
        traits: { points_balance: index },
      });
    } else if (slot < 19) {
      list.push({
        brand: 'group',
        eventTime,
        eventId: `${seed}-${index}`,
        identifiers: { customer_id: `N${seed}${index}`, email: `n${seed}${index}@example.com` },
        traits: { loyalty_tier: 'Bronze' },
      });
    } else {
      list.push({
        brand: 'group',
        eventTime,
        eventId: `${seed}-${index}`,
        identifiers: { anonymous_id: `guest-${seed}-${index}`, email: `m${known.seed}${member}@example.com` },
      });
    }
  }
  return list;
}

async function measure(driver: StoreDriver) {
  const store = await openScratchStore(driver);
  try {
    // Baseline: one single-row INSERT per round trip, for a fixed time.
    await store.query(
      'CREATE TABLE bench_single (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, key text UNIQUE, value text)',
    );
    const deadline = Date.now() + BASELINE_SECONDS * 1000;
    let singles = 0;
    const baselineStart = Date.now();
    while (Date.now() < deadline) {
      await store.query('INSERT INTO bench_single (key, value) VALUES ($1, $2)', [`k${singles}`, 'v']);
      singles++;
    }
    const singleRate = singles / ((Date.now() - baselineStart) / 1000);

    const graph = new IdentityGraph({ store, vault: new PiiVault([randomBytes(32)]) });
    const runs: Array<{ stream: string; rate: number; merges: number }> = [];
    const importSeed = randomBytes(3).toString('hex');
    const streams: Array<[string, IdentityRecord[]]> = [
      ['member import (mostly new members)', records(RECORDS, importSeed)],
      [
        'steady state (80% known members)',
        steadyRecords(RECORDS, randomBytes(3).toString('hex'), { seed: importSeed, count: RECORDS }),
      ],
    ];
    for (const [stream, list] of streams) {
      let merges = 0;
      const started = Date.now();
      for (let offset = 0; offset < list.length; offset += BATCH) {
        merges += (await graph.resolveIdentities(list.slice(offset, offset + BATCH))).merges.length;
      }
      runs.push({ stream, rate: list.length / ((Date.now() - started) / 1000), merges });
    }
    const [{ profiles }] = await store.query<{ profiles: number }>(
      "SELECT count(*)::int AS profiles FROM identity_profiles WHERE status = 'active'",
    );
    return { driver, singleRate, runs, profiles };
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const rows: string[] = [];
  let missed = false;
  for (const driver of STORE_DRIVERS) {
    const figures = await measure(driver);
    for (const run of figures.runs) {
      const ratio = run.rate / figures.singleRate;
      const target = driver === 'postgres' ? run.rate >= 5000 : undefined;
      if (target === false) missed = true;
      process.stdout.write(
        `${driver}, ${run.stream}: ${fmt(run.rate)} records/s in batches of ${BATCH} ` +
          `(${run.merges} merges) vs ${fmt(figures.singleRate)} single INSERTs/s = ${ratio.toFixed(1)}×\n`,
      );
      rows.push(
        `| ${driver === 'postgres' ? 'PostgreSQL 15 (loopback)' : 'PGlite (in memory)'} | ${run.stream} | ${fmt(figures.singleRate)} statements/s | ` +
          `${fmt(run.rate)} records/s (${run.merges} merges) | ${ratio.toFixed(1)}× | ` +
          `${target === undefined ? '—' : `≥ 5,000 records/s: ${target ? 'met' : '**missed**'}`} |`,
      );
    }
  }
  const section = [
    '<!-- identity:begin (written by `npm run bench:identity`) -->',
    `Run on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${RECORDS.toLocaleString('en-US')} records in batches of ${BATCH}.`,
    '',
    '| store | stream | single-statement baseline | identity resolution | ratio | target |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '<!-- identity:end -->',
  ].join('\n');
  await writeBenchmarkSection('identity', section);
  process.stdout.write(`\n${section}\n\nwrote ${BENCHMARKS_DOC}\n`);
  if (missed) process.exitCode = 1;
}

void main();
