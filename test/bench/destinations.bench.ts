/**
 * `npm run bench:destinations`: for every ESP, profile updates delivered per second to its emulator in the ESP
 * sandbox (limits lifted) through the kit's coalescing and the destination's batch path, and ESP requests per
 * 1,000 profile updates, with and without coalescing. Baseline, per ESP and in the same process: the exact
 * requests the destination sent, replayed with bare `fetch` against a fresh emulator (no kit, no mapping, no
 * coalescing, no result mapping), so the ratio is what Tessera's side costs on top of the HTTP exchanges.
 * Writes the figures into docs/benchmarks.md between the destinations markers. Bounded: about a minute.
 */
import { cpus, totalmem } from 'node:os';
import {
  AllowedDestinationHosts,
  coalesceProfileUpdates,
  DestinationRunner,
  EspSandbox,
  pointSettingsAt,
  type DestinationPackage,
  type ProfileUpsert,
  type SandboxExchange,
} from '@tessera/destination-kit';
import { DESTINATION_PACKAGES } from '@tessera/destination-registry';
import { BENCHMARKS_DOC, writeBenchmarkSection } from './benchmark-report';

const MEMBERS = Number(process.env.BENCH_DESTINATION_MEMBERS ?? 10_000);
const UPDATES_PER_MEMBER = 10;
/** Updates per batch window: ten updates for each of WINDOW/10 members arrive together. */
const WINDOW = Number(process.env.BENCH_DESTINATION_WINDOW ?? 10_000);
const fmt = (value: number) => Math.round(value).toLocaleString('en-US');

/**
 * Each ESP's credentials for its emulator, the target in requests per 1,000 updates, and what the
 * emulator must be configured with first (the account's audiences, data extensions…), when it takes any.
 */
const BENCH_SETTINGS: Record<
  string,
  { settings: Record<string, unknown>; target: number; emulatorConfig?: unknown }
> = {
  klaviyo: { settings: { apiKey: 'pk_bench' }, target: 5 },
  braze: { settings: { apiKey: 'braze-bench-key' }, target: 15 },
  mailchimp: {
    settings: { apiKey: '0123456789abcdef0123456789abcdef-us21', listId: 'bench01' },
    target: 3,
    emulatorConfig: {
      audiences: [
        {
          id: 'bench01',
          name: 'Bench members',
          mergeFields: [
            { tag: 'FNAME', type: 'text', name: 'First Name' },
            { tag: 'TESSERA_ID', type: 'text', name: 'Tessera customer id' },
          ],
        },
      ],
    },
  },
  sfmc: {
    settings: {
      subdomain: 'mcbench0000000000000000000000',
      clientId: 'bench-client',
      clientSecret: 'bench-secret',
      dataExtensionKey: 'TesseraProfiles',
    },
    target: 25,
    emulatorConfig: {
      clients: [{ clientId: 'bench-client', clientSecret: 'bench-secret' }],
      dataExtensions: [
        {
          key: 'TesseraProfiles',
          primaryKeys: ['TesseraId'],
          columns: [
            { name: 'TesseraId', type: 'Text', maxLength: 254, required: true },
            { name: 'EmailAddress', type: 'EmailAddress' },
            { name: 'FirstName', type: 'Text', maxLength: 100 },
            { name: 'points_balance', type: 'Number' },
            { name: 'loyalty_tier', type: 'Text', maxLength: 50 },
          ],
        },
      ],
    },
  },
};

/** Points updates in arrival order: each window holds ten updates of WINDOW/10 members, versions rising. */
function pointsUpdates(): ProfileUpsert[] {
  const perWindowMembers = WINDOW / UPDATES_PER_MEMBER;
  const updates: ProfileUpsert[] = [];
  for (let first = 0; first < MEMBERS; first += perWindowMembers) {
    for (let round = 0; round < UPDATES_PER_MEMBER; round++) {
      for (let m = first; m < Math.min(first + perWindowMembers, MEMBERS); m++) {
        updates.push({
          customerId: `C${String(m).padStart(7, '0')}`,
          version: round + 1,
          email: `member${m}@example.com`,
          attributes: {
            first_name: `Ada${m}`,
            points_balance: 100 + round * 10 + m,
            loyalty_tier: m % 10 === 0 ? 'gold' : 'silver',
          },
        });
      }
    }
  }
  return updates;
}

interface EspFigures {
  esp: string;
  target: number;
  updatesPerSecond: number;
  replayRequestsPerSecond: number;
  requestsPerSecond: number;
  perThousand: number;
  perThousandUncoalesced: number;
  smallRequests: number;
}

/** Requests `run` sends to `esp`'s emulator (the sandbox records every exchange). */
async function countRequests(sandbox: EspSandbox, esp: string, run: () => Promise<unknown>): Promise<number> {
  sandbox.reset();
  await run();
  return sandbox.exchanges(esp).length;
}

/** Replays recorded exchanges with bare fetch, in order. */
async function replay(root: string, exchanges: SandboxExchange[]): Promise<void> {
  for (const exchange of exchanges) {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(exchange.headers)) {
      if (value !== undefined && !['host', 'content-length', 'connection'].includes(name))
        headers[name] = value;
    }
    const response = await fetch(`${root}/${exchange.esp}${exchange.path}`, {
      method: exchange.method,
      headers,
      ...(exchange.rawBody.length > 0 ? { body: exchange.rawBody } : {}),
    });
    await response.arrayBuffer();
    if (response.status >= 400 && exchange.status < 400) {
      throw new Error(`replay of ${exchange.method} ${exchange.path} answered ${response.status}`);
    }
  }
}

async function benchEsp(entry: DestinationPackage, updates: ProfileUpsert[]): Promise<EspFigures> {
  const esp = entry.definition.type;
  const bench = BENCH_SETTINGS[esp];
  if (bench === undefined) throw new Error(`no benchmark settings for destination "${esp}"`);
  const emulator = entry.createEmulator();
  if (bench.emulatorConfig !== undefined) emulator.configure?.(bench.emulatorConfig);
  const sandbox = new EspSandbox([emulator], { limitsLifted: true, record: true });
  const root = await sandbox.listen();
  try {
    const settings = pointSettingsAt(entry.definition.settingsSchema, bench.settings, `${root}/${esp}`);
    // The bench's own sandbox on loopback stands in for the ESP.
    const runner = new DestinationRunner(entry.definition, {
      settings,
      allowedHosts: AllowedDestinationHosts.none.with(root),
    });
    const deliver = async (stream: ProfileUpsert[], coalesce: boolean): Promise<number> => {
      let delivered = 0;
      for (let start = 0; start < stream.length; start += WINDOW) {
        const window = stream.slice(start, start + WINDOW);
        if (!coalesce) {
          const results = await runner.run('upsertProfiles', window);
          delivered += results.filter((result) => result.status === 'ok').length;
          continue;
        }
        const { profiles, outputIndex } = coalesceProfileUpdates(window);
        const results = await runner.run('upsertProfiles', profiles);
        delivered += outputIndex.filter((slot) => results[slot]?.status === 'ok').length;
      }
      return delivered;
    };

    // Warm-up (JIT, sockets, validators), then measured runs on a reset emulator.
    await deliver(updates.slice(0, WINDOW), true);
    sandbox.reset();
    const started = performance.now();
    const delivered = await deliver(updates, true);
    const seconds = (performance.now() - started) / 1000;
    if (delivered !== updates.length) throw new Error(`${esp}: delivered ${delivered} of ${updates.length}`);
    const sent = sandbox.exchanges(esp);

    // Replayed onto the state the run left (upserts are idempotent; tokens and job ids stay valid).
    sandbox.clearExchanges();
    const replayStarted = performance.now();
    await replay(root, sent);
    const replaySeconds = (performance.now() - replayStarted) / 1000;

    // Without coalescing, on one window (every update its own row): what coalescing saves.
    const uncoalesced = await countRequests(sandbox, esp, () => deliver(updates.slice(0, WINDOW), false));
    // The example: 1,000 points updates for 100 members.
    const small = updates.slice(0, 1_000).map((update, i) => ({ ...update, customerId: `S${i % 100}` }));
    const smallRequests = await countRequests(sandbox, esp, () => deliver(small, true));

    return {
      esp,
      target: bench.target,
      updatesPerSecond: delivered / seconds,
      requestsPerSecond: sent.length / seconds,
      replayRequestsPerSecond: sent.length / replaySeconds,
      perThousand: (sent.length / updates.length) * 1000,
      perThousandUncoalesced: (uncoalesced / WINDOW) * 1000,
      smallRequests,
    };
  } finally {
    await sandbox.close();
  }
}

async function main(): Promise<void> {
  const updates = pointsUpdates();
  const only = process.env.BENCH_DESTINATIONS?.split(',');
  const figures: EspFigures[] = [];
  for (const entry of DESTINATION_PACKAGES) {
    if (only !== undefined && !only.includes(entry.definition.type)) continue;
    const result = await benchEsp(entry, updates);
    figures.push(result);
    process.stdout.write(
      `${result.esp}: ${fmt(result.updatesPerSecond)} updates/s; ${result.perThousand.toFixed(2)} requests per 1,000 ` +
        `updates (${result.perThousandUncoalesced.toFixed(1)} uncoalesced); ${fmt(result.requestsPerSecond)} req/s ` +
        `vs replay ${fmt(result.replayRequestsPerSecond)} req/s; 1,000 updates for 100 members → ${result.smallRequests} requests\n`,
    );
  }
  const missed = figures.filter((result) => result.perThousand > result.target);
  const section = [
    '<!-- destinations:begin (written by `npm run bench:destinations`) -->',
    '',
    `Run on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${fmt(updates.length)} points updates for ${fmt(MEMBERS)} members, windows of ${fmt(WINDOW)} updates.`,
    '',
    '| ESP | updates delivered/s | ESP requests per 1,000 updates (target) | uncoalesced | Tessera req/s ÷ bare replay req/s | 1,000 updates for 100 members |',
    '| --- | --- | --- | --- | --- | --- |',
    ...figures.map(
      (result) =>
        `| ${result.esp} | ${fmt(result.updatesPerSecond)} | ${result.perThousand.toFixed(2)} (≤ ${result.target}: ${result.perThousand <= result.target ? 'met' : '**missed**'}) | ${result.perThousandUncoalesced.toFixed(1)} | ${fmt(result.requestsPerSecond)} ÷ ${fmt(result.replayRequestsPerSecond)} = ${(result.requestsPerSecond / result.replayRequestsPerSecond).toFixed(2)} | ${result.smallRequests} ${result.smallRequests === 1 ? 'request' : 'requests'} |`,
    ),
    '',
    '<!-- destinations:end -->',
  ].join('\n');
  if (only === undefined) {
    await writeBenchmarkSection('destinations', section);
    process.stdout.write(`\n${section}\n\nwrote ${BENCHMARKS_DOC}\n`);
  } else {
    process.stdout.write(`\n${section}\n\n(BENCH_DESTINATIONS set: ${BENCHMARKS_DOC} left as it is)\n`);
  }
  if (missed.length > 0) process.exitCode = 1;
}

void main();
