/**
 * `npm run bench:destinations`: profile updates delivered per second to the Klaviyo emulator of the ESP
 * sandbox (limits lifted), through the kit's coalescing and the Klaviyo bulk path, and ESP requests per 1,000
 * profile updates; beside a baseline run in the same process: the same profiles POSTed straight to the
 * sandbox as ready-made bulk import jobs (no kit, no mapping, no status reads).
 * Writes the figures into docs/benchmarks.md between the destinations markers. Bounded: well under a minute.
 */
import { cpus, totalmem } from 'node:os';
import {
  coalesceProfileUpdates,
  DestinationRunner,
  EspSandbox,
  type ProfileUpsert,
} from '@tessera/destination-kit';
import { KLAVIYO_REVISION, klaviyoDestination, KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { BENCHMARKS_DOC, writeBenchmarkSection } from './benchmark-report';

const MEMBERS = Number(process.env.BENCH_DESTINATION_MEMBERS ?? 10_000);
const UPDATES_PER_MEMBER = 10;
/** Updates per batch window: 1,000 points updates for 100 members, as the issue puts it, scaled up. */
const WINDOW = Number(process.env.BENCH_DESTINATION_WINDOW ?? 10_000);
const fmt = (value: number) => Math.round(value).toLocaleString('en-US');

/** Points updates in arrival order: every member's updates interleaved, versions rising per member. */
function pointsUpdates(): ProfileUpsert[] {
  const updates: ProfileUpsert[] = [];
  for (let round = 0; round < UPDATES_PER_MEMBER; round++) {
    for (let m = 0; m < MEMBERS; m++) {
      updates.push({
        customerId: `C${String(m).padStart(7, '0')}`,
        version: round + 1,
        email: `member${m}@example.com`,
        attributes: { points_balance: 100 + round * 10 + m, loyalty_tier: m % 10 === 0 ? 'gold' : 'silver' },
      });
    }
  }
  // Windows cut the stream by arrival: reorder so that each window holds ten updates of WINDOW/10 members.
  const perWindowMembers = WINDOW / UPDATES_PER_MEMBER;
  const ordered: ProfileUpsert[] = [];
  for (let first = 0; first < MEMBERS; first += perWindowMembers) {
    for (let round = 0; round < UPDATES_PER_MEMBER; round++) {
      for (let m = first; m < Math.min(first + perWindowMembers, MEMBERS); m++) {
        const update = updates[round * MEMBERS + m];
        if (update !== undefined) ordered.push(update);
      }
    }
  }
  return ordered;
}

/** The baseline: members [from, to) as ready-made bulk import jobs of one window's members each. */
async function postBulkJobs(baseUrl: string, from: number, to: number): Promise<void> {
  const perWindowMembers = WINDOW / UPDATES_PER_MEMBER;
  for (let first = from; first < to; first += perWindowMembers) {
    const data = [];
    for (let m = first; m < Math.min(first + perWindowMembers, to); m++) {
      data.push({
        type: 'profile',
        attributes: {
          external_id: `C${String(m).padStart(7, '0')}`,
          email: `member${m}@example.com`,
          properties: { points_balance: m },
        },
      });
    }
    const response = await fetch(`${baseUrl}/api/profile-bulk-import-jobs`, {
      method: 'POST',
      headers: {
        authorization: 'Klaviyo-API-Key pk_bench',
        revision: KLAVIYO_REVISION,
        'content-type': 'application/vnd.api+json',
      },
      body: JSON.stringify({
        data: { type: 'profile-bulk-import-job', attributes: { profiles: { data } } },
      }),
    });
    if (response.status !== 202) throw new Error(`baseline job refused: ${response.status}`);
    await response.arrayBuffer();
  }
}

async function main(): Promise<void> {
  const sandbox = new EspSandbox([new KlaviyoEmulator()], { limitsLifted: true, record: false });
  const root = await sandbox.listen();
  const baseUrl = `${root}/klaviyo`;
  let requests = 0;
  const countingHandle = sandbox.handle.bind(sandbox);
  sandbox.handle = (...args) => {
    requests += 1;
    return countingHandle(...args);
  };
  try {
    const updates = pointsUpdates();

    const runner = new DestinationRunner(klaviyoDestination, { settings: { apiKey: 'pk_bench', baseUrl } });
    // Warm-up (JIT, sockets, the emulator's validators) on both paths, then a clean sandbox.
    await postBulkJobs(baseUrl, 0, 2 * (WINDOW / UPDATES_PER_MEMBER));
    await runner.run('upsertProfiles', coalesceProfileUpdates(updates.slice(0, WINDOW)).profiles);
    sandbox.reset();

    // Baseline: ready-made bulk import jobs POSTed with fetch, one per window's distinct profiles.
    const baselineStarted = performance.now();
    await postBulkJobs(baseUrl, 0, MEMBERS);
    const baselineSeconds = (performance.now() - baselineStarted) / 1000;
    const baselineRate = MEMBERS / baselineSeconds;
    sandbox.reset();
    requests = 0;

    // Tessera: coalesce each window, then upsert through the destination runner.
    const started = performance.now();
    let delivered = 0;
    let upserts = 0;
    for (let start = 0; start < updates.length; start += WINDOW) {
      const window = updates.slice(start, start + WINDOW);
      const { profiles, outputIndex } = coalesceProfileUpdates(window);
      upserts += profiles.length;
      const results = await runner.run('upsertProfiles', profiles);
      delivered += outputIndex.filter((slot) => results[slot]?.status === 'ok').length;
    }
    const seconds = (performance.now() - started) / 1000;
    const rate = delivered / seconds;
    const perThousand = (requests / updates.length) * 1000;
    const held = (sandbox.emulator('klaviyo').state() as { profiles: unknown[] }).profiles.length;
    if (delivered !== updates.length || held !== MEMBERS) {
      throw new Error(
        `delivered ${delivered} of ${updates.length} updates; the emulator holds ${held} profiles`,
      );
    }

    // The issue's own example: 1,000 points updates for 100 members.
    sandbox.reset();
    requests = 0;
    const small = updates.slice(0, 1_000).map((update, i) => ({ ...update, customerId: `S${i % 100}` }));
    const coalescedSmall = coalesceProfileUpdates(small);
    await runner.run('upsertProfiles', coalescedSmall.profiles);
    const smallRequests = requests;

    const met = perThousand <= 5 && smallRequests <= 5;
    process.stdout.write(
      `${fmt(updates.length)} updates → ${fmt(upserts)} upserts in ${seconds.toFixed(2)} s: ${fmt(rate)} updates/s; ` +
        `${perThousand.toFixed(2)} ESP requests per 1,000 updates; baseline ${fmt(baselineRate)} profiles/s; ` +
        `1,000 updates for 100 members → ${coalescedSmall.profiles.length} upserts in ${smallRequests} requests\n`,
    );
    const section = [
      '<!-- destinations:begin (written by `npm run bench:destinations`) -->',
      `Run on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${fmt(updates.length)} points updates for ${fmt(MEMBERS)} members, windows of ${fmt(WINDOW)} updates.`,
      '',
      '| figure | value |',
      '| --- | --- |',
      `| baseline: ready-made bulk jobs POSTed straight to the sandbox | ${fmt(baselineRate)} profiles/s |`,
      `| Tessera: profiles upserted (mapped, bulk job, status read back) | ${fmt(upserts / seconds)} profiles/s (${(upserts / seconds / baselineRate).toFixed(2)}× the baseline) |`,
      `| Tessera: profile updates delivered (coalesced ${fmt(updates.length)} → ${fmt(upserts)}) | ${fmt(rate)} updates/s (${(rate / baselineRate).toFixed(1)}× the baseline) |`,
      `| ESP requests per 1,000 profile updates | ${perThousand.toFixed(2)} (target ≤ 5: ${perThousand <= 5 ? 'met' : '**missed**'}) |`,
      `| 1,000 points updates for 100 members | ${coalescedSmall.profiles.length} upserts in ${smallRequests} ESP requests |`,
      '<!-- destinations:end -->',
    ].join('\n');
    await writeBenchmarkSection('destinations', section);
    process.stdout.write(`\n${section}\n\nwrote ${BENCHMARKS_DOC}\n`);
    if (!met) process.exitCode = 1;
  } finally {
    await sandbox.close();
  }
}

void main();
