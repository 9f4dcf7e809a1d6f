/**
 * `npm run bench:transform`: events per second through a realistic brand rule set (10 mappings, 3 conditions,
 * 2 segment rules, compiled CEL) and through the built-in plugins in the worker-thread pool, in batches of 500;
 * each beside a baseline run in the same process: the same operations built by a hand-written function
 * (rules), and the same plugins called directly on the main thread (plugins).
 * Writes the figures into docs/benchmarks.md between the transform markers. Bounded: well under a minute.
 */
import { cpus, totalmem } from 'node:os';
import type { CatalogEvent } from '@tessera/events';
import { BUILTIN_PLUGIN_MODULES } from '@tessera/transform-plugins';
import {
  compileRules,
  EXAMPLE_BRAND_RULES,
  type DestinationOperation,
  PluginCatalog,
  PluginPool,
  type TransformInput,
  type TransformRules,
  type UnifiedProfile,
} from '@tessera/transform';
import { BENCHMARKS_DOC, writeBenchmarkSection } from './benchmark-report';

const BATCH = 500;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const fmt = (value: number) => Math.round(value).toLocaleString('en-US');

/** A brand's rule set as a marketer would write it (the example of the transform package). */
const RULES: TransformRules = EXAMPLE_BRAND_RULES;

const DAY = 86_400_000;

/** The same rule set, written by hand in TypeScript: the ceiling any rule engine is measured against. */
function handWritten(input: TransformInput): DestinationOperation[] {
  const { profile, event, brand } = input;
  if (profile.email === undefined || profile.marketing_consent?.email !== 'granted') return [];
  if (!['points.updated', 'tier.changed', 'profile.updated'].includes(event.type)) return [];
  const points = profile.points_balance ?? 0;
  const member = { customerId: profile.customer_id, email: profile.email };
  const stagnant =
    profile.points_updated_at !== undefined &&
    Math.floor((Date.parse(input.now) - Date.parse(profile.points_updated_at)) / DAY) >= 90;
  return [
    {
      operation: 'upsertProfiles',
      item: {
        ...member,
        version: profile.version,
        ...(profile.phone === undefined ? {} : { phone: profile.phone }),
        attributes: {
          first_name: profile.first_name ?? '',
          last_name: profile.last_name ?? '',
          loyalty_tier: profile.loyalty_tier ?? 'Member',
          points_balance: points,
          points_to_next_tier: points >= 5000 ? 0 : 5000 - points,
          lifetime_value: profile.total_lifetime_value ?? 0,
          city: profile.address?.city ?? brand.defaultCountry,
          brand_name: brand.name,
          last_event: event.type,
          synced_at: new Date(input.now).toISOString(),
        },
      },
    },
    {
      operation: ['Silver', 'Gold', 'Platinum'].includes(profile.loyalty_tier ?? '')
        ? 'addToSegment'
        : 'removeFromSegment',
      item: { ...member, segment: 'VIP' },
    },
    { operation: stagnant ? 'addToSegment' : 'removeFromSegment', item: { ...member, segment: 'Win-back' } },
  ];
}

function inputs(count: number): TransformInput[] {
  const tiers = ['Bronze', 'Silver', 'Gold', 'Platinum'];
  return Array.from({ length: count }, (_, index) => {
    const profile: UnifiedProfile = {
      customer_id: `C${index}`,
      version: index + 1,
      email: `member${index}@example.com`,
      phone: '+447700900123',
      first_name: 'Ada',
      last_name: 'Lovelace',
      address: { city: 'Leeds', country: 'GB' },
      loyalty_tier: tiers[index % 4],
      points_balance: (index * 37) % 9000,
      points_updated_at: new Date(Date.UTC(2026, 0, 1 + (index % 300))).toISOString(),
      total_lifetime_value: (index % 500) * 3.5,
      marketing_consent: { email: 'granted', sms: index % 2 === 0 ? 'granted' : 'withdrawn' },
    };
    const kind = index % 4;
    const data =
      kind === 0
        ? { customer_id: profile.customer_id, delta: 40, new_balance: profile.points_balance }
        : kind === 1
          ? {
              customer_id: profile.customer_id,
              tier: tiers[(index + 1) % 4],
              previous_tier: profile.loyalty_tier,
            }
          : kind === 2
            ? { customer_id: profile.customer_id, locale: 'en-GB' }
            : {
                customer_id: profile.customer_id,
                brand: 'sd',
                channel: 'email',
                status: 'granted',
                legal_basis: 'consent',
                captured_at: '2026-11-20T10:00:00Z',
                notice_version: 'v3',
              };
    const type = ['points.updated', 'tier.changed', 'profile.updated', 'consent.changed'][kind];
    const event = {
      specversion: '1.0',
      id: `evt-${index}`,
      source: 'bench',
      type,
      time: '2026-11-23T12:00:00Z',
      data,
    } as CatalogEvent;
    return {
      event,
      profile,
      brand: { id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' },
      destination: { id: 'sd-klaviyo', type: 'klaviyo' },
      now: '2026-11-23T12:00:00Z',
    };
  });
}

/** Events per second of `step` (one batch per call) over SECONDS, after a short warm-up. */
async function rate(step: () => Promise<number> | number): Promise<number> {
  const warmUntil = Date.now() + 300;
  while (Date.now() < warmUntil) await step();
  let events = 0;
  const started = performance.now();
  while (performance.now() - started < SECONDS * 1000) events += await step();
  return events / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const samples = inputs(5_000);
  const batches = Array.from({ length: samples.length / BATCH }, (_, i) =>
    samples.slice(i * BATCH, (i + 1) * BATCH),
  );
  let next = 0;
  const nextBatch = () => batches[next++ % batches.length] ?? [];

  // Rules (the evaluation itself runs on the calling thread: one core).
  const compiled = compileRules(RULES);
  const check = samples.slice(0, 200).map((input) => compiled.evaluate(input));
  if (check.some((result) => result.errors.length > 0))
    throw new Error(JSON.stringify(check.find((r) => r.errors.length > 0)));
  const baselineRules = await rate(() => {
    const batch = nextBatch();
    for (const input of batch) handWritten(input);
    return batch.length;
  });
  const celRules = await rate(() => {
    const batch = nextBatch();
    for (const input of batch) compiled.evaluate(input);
    return batch.length;
  });

  // Built-in plugins: all five on every event, in the pool (one worker: one core) vs directly on this thread.
  const catalog = new PluginCatalog(BUILTIN_PLUGIN_MODULES);
  const configured = catalog.resolve(
    'sd-klaviyo',
    catalog.names().map((name) => ({ name })),
  );
  const direct = await rate(async () => {
    const batch = nextBatch();
    for (const plugin of configured) {
      for (const input of batch) {
        await plugin.plugin.transform(input.event, input.profile, {
          config: plugin.config,
          brand: input.brand,
          destination: input.destination,
          now: new Date(input.now),
        });
      }
    }
    return batch.length;
  });
  const pool = await PluginPool.start({ size: 1, budgetMs: 5_000 });
  let pooled: number;
  try {
    pooled = await rate(async () => {
      const batch = nextBatch();
      for (const plugin of configured) {
        const results = await pool.run(plugin, batch);
        const failed = results.find((result) => !result.ok);
        if (failed !== undefined && !failed.ok) throw failed.error;
      }
      return batch.length;
    });
  } finally {
    await pool.close();
  }

  const target = (value: number) => (value >= 20_000 ? 'met' : '**missed**');
  const rows = [
    `| rule set (10 mappings, 3 conditions, 2 segment rules) | ${fmt(baselineRules)} events/s (hand-written TypeScript) | ${fmt(celRules)} events/s (compiled CEL) | ${(celRules / baselineRules).toFixed(2)}× | ≥ 20,000: ${target(celRules)} |`,
    `| the 5 built-in plugins on every event | ${fmt(direct)} events/s (called on the main thread) | ${fmt(pooled)} events/s (worker-thread pool, 1 worker) | ${(pooled / direct).toFixed(2)}× | ≥ 20,000: ${target(pooled)} |`,
  ];
  process.stdout.write(`${rows.join('\n')}\n`);
  const section = [
    '<!-- transform:begin (written by `npm run bench:transform`) -->',
    `Run on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; batches of ${BATCH}, ${SECONDS} s per figure.`,
    '',
    '| workload | baseline | Tessera | ratio | target |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '<!-- transform:end -->',
  ].join('\n');
  await writeBenchmarkSection('transform', section);
  process.stdout.write(`\nwrote ${BENCHMARKS_DOC}\n`);
  if (celRules < 20_000 || pooled < 20_000) process.exitCode = 1;
}

void main();
