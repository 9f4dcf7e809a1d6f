import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { ConsentGate, StoreConsentStateReader } from '@tessera/consent';
import { KeyRing } from '@tessera/crypto';
import { IdentityGraph, type IdentityRecord } from '@tessera/identity-graph';
import { JobQueue, QUEUE_PAYLOAD_KEY_PURPOSE, type ResolvedEvent } from '@tessera/queues';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import {
  compileRules,
  type ConfiguredPlugin,
  type PluginPool,
  type TransformInput,
} from '@tessera/transform';
import {
  PointsStagnationCheck,
  STAGNATION_EVENT_SOURCE,
  type StagnationDestination,
} from '../../src/scheduled/points-stagnation.service';
import { ScheduleCursorBook } from '../../src/scheduled/schedule-cursor-book.repository';
import { RouteStage } from '../../src/stages/route-stage.service';
import { DeliveryLog } from '../../src/store/delivery-log.repository';

const DAY_MS = 24 * 60 * 60 * 1000;
const T0 = new Date('2026-06-01T03:00:00.000Z');
const daysBefore = (days: number, from = T0) => new Date(from.getTime() - days * DAY_MS);

const winback = (brand: string, stagnantDays: number): StagnationDestination => ({
  brand,
  plugins: [{ name: 'points-winback', config: { stagnantDays, segment: 'win-back', minBalance: 1 } }],
});

// The daily check on both stores with an injected clock (no waiting), routing to the real Redis queue.
describe.each(STORE_DRIVERS)('PointsStagnationCheck on %s', (driver) => {
  const masterKey = randomBytes(32);
  const keyRing = new KeyRing([masterKey], QUEUE_PAYLOAD_KEY_PURPOSE);
  let store: Store;
  let redis: Redis;
  let graph: IdentityGraph;
  let prefix: string;
  let routeQueue: JobQueue<'route'>;
  let sequence = 0;

  beforeAll(async () => {
    store = await openScratchStore(driver);
    redis = new Redis(TEST_REDIS_URL);
    graph = new IdentityGraph({ store, vault: new PiiVault([masterKey]) });
  }, 30_000);
  afterAll(async () => {
    await store.close();
    redis.disconnect();
  });
  beforeEach(async () => {
    prefix = uniqueRedisPrefix();
    routeQueue = new JobQueue('route', redis, prefix);
    await store.execScript(
      'TRUNCATE identity_profiles, identity_identifiers, identity_edges, identity_lineage, identity_outbox, schedule_cursors, delivery_log CASCADE',
    );
  });
  afterEach(async () => {
    await routeQueue.close();
    await deleteKeysWithPrefix(redis, prefix);
  });

  /** A profile whose points balance was last set at `pointsAt`. */
  async function member(identifiers: IdentityRecord['identifiers'], pointsAt?: Date): Promise<string> {
    sequence += 1;
    const result = await graph.resolveIdentities([
      {
        brand: 'sd',
        eventTime: pointsAt ?? daysBefore(400),
        eventSource: 'test',
        eventId: `evt-${sequence}`,
        identifiers,
        ...(pointsAt === undefined ? {} : { traits: { points_balance: 500 } }),
      },
    ]);
    return result.records[0]?.customerId ?? '';
  }

  function check(options: {
    now: () => Date;
    destinations?: StagnationDestination[];
    pageSize?: number;
    route?: (events: ResolvedEvent[], jobId: string) => Promise<void>;
  }): PointsStagnationCheck {
    return new PointsStagnationCheck({
      store,
      cursors: new ScheduleCursorBook(store),
      destinations: () => options.destinations ?? [winback('sd', 90), { brand: 'fl', plugins: [] }],
      route:
        options.route ??
        ((events, jobId) =>
          routeQueue.add(
            'route.events',
            { count: events.length, events: keyRing.sealJson(events, jobId) },
            jobId,
          )),
      now: options.now,
      ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
    });
  }

  async function routed(): Promise<{ id: string; events: ResolvedEvent[] }[]> {
    const jobs = await routeQueue.queue.getJobs(['waiting']);
    return jobs
      .map((job) => ({
        id: job.id ?? '',
        events: keyRing.openJson<ResolvedEvent[]>(job.data.events, job.id ?? ''),
      }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }
  const customersRouted = async () =>
    (await routed()).flatMap((job) => job.events.map((event) => event.customerId)).sort();

  it('routes, once, one synthetic profile.updated per brand member whose points stopped moving stagnantDays ago', async () => {
    const stagnant = await member({ source_ids: { sd: 'M1' } }, daysBefore(100));
    const recent = await member({ source_ids: { sd: 'M2' } }, daysBefore(10));
    await member({ source_ids: { fl: 'F3' } }, daysBefore(200)); // a brand without the plugin
    await member({ source_ids: { sd: 'M4' } }); // no points at all
    const known = await member({ email: 'known-by-delivery@example.com' }, daysBefore(95));
    await new DeliveryLog(store).record([
      {
        brand: 'sd',
        customerId: known,
        destinationId: 'sd-braze',
        operation: 'upsertProfiles',
        itemKey: 'k1',
        status: 'delivered',
        attempts: 1,
      },
    ]);
    await member({ email: 'stranger@example.com' }, daysBefore(300)); // of no brand

    let now = T0;
    const daily = check({ now: () => now });
    expect(await daily.run()).toEqual({ brands: 1, profiles: 2, pages: 1 });
    expect(await customersRouted()).toEqual([known, stagnant].sort());
    const [job] = await routed();
    expect(job?.events.find((event) => event.customerId === stagnant)).toEqual({
      key: { sourceId: 'scheduler', eventSource: STAGNATION_EVENT_SOURCE, eventId: expect.any(String) },
      brand: 'sd',
      receivedAt: T0.toISOString(),
      customerId: stagnant,
      event: {
        specversion: '1.0',
        id: job?.events.find((event) => event.customerId === stagnant)?.key.eventId,
        source: STAGNATION_EVENT_SOURCE,
        type: 'profile.updated',
        time: T0.toISOString(),
        data: { customer_id: stagnant },
      },
      onlyPlugin: 'points-winback',
    });

    // The same day again, then the next: nobody new crossed the threshold.
    expect(await daily.run()).toMatchObject({ profiles: 0 });
    now = new Date(T0.getTime() + DAY_MS);
    expect(await daily.run()).toMatchObject({ profiles: 0 });
    // 80 days on, the recent one's points have not moved for 90 days: only that member is new.
    now = new Date(T0.getTime() + 80 * DAY_MS);
    expect(await daily.run()).toEqual({ brands: 1, profiles: 1, pages: 1 });
    expect(await customersRouted()).toEqual([known, recent, stagnant].sort());
    expect(await new ScheduleCursorBook(store).get('points-stagnation:sd')).toEqual({
      after: { movedAt: daysBefore(10).toISOString(), customerId: recent },
      checkedThrough: daysBefore(90, now).toISOString(),
    });
  });

  it('checks a member again once their points moved and stagnated anew', async () => {
    const id = await member({ source_ids: { sd: 'M5' } }, daysBefore(100));
    let now = T0;
    const daily = check({ now: () => now });
    await daily.run();
    // Points move 5 days later, then stay put for 90 days.
    await member({ source_ids: { sd: 'M5' } }, daysBefore(-5));
    now = new Date(T0.getTime() + 95 * DAY_MS);
    expect(await daily.run()).toMatchObject({ profiles: 1 });
    const events = (await routed()).flatMap((job) => job.events);
    expect(events.map((event) => event.customerId)).toEqual([id, id]);
    expect(new Set(events.map((event) => event.key.eventId)).size).toBe(2); // two episodes, two events
  });

  it('routes the survivor of a merge once per brand it belongs to, never the merged-away profile', async () => {
    const first = await member({ email: 'two@example.com', source_ids: { fl: 'F6' } }, daysBefore(200));
    const second = await member({ source_ids: { sd: 'M6' } }, daysBefore(200));
    await member({ email: 'two@example.com', source_ids: { sd: 'M6' } }); // one person after all
    const views = await graph.customerViews([first, second]);
    expect(views.size).toBe(1);
    const [survivor] = [...views.keys()];

    await check({ now: () => T0, destinations: [winback('sd', 90), winback('fl', 90)] }).run();

    const events = (await routed()).flatMap((job) => job.events);
    expect(events.map((event) => [event.brand, event.customerId]).sort()).toEqual([
      ['fl', survivor],
      ['sd', survivor],
    ]);
  });

  it('resumes after a crash: a page queued but not recorded is queued again as the same job, finished pages are not redone', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) ids.push(await member({ source_ids: { sd: `R${n}` } }, daysBefore(100 + n)));
    const queue = (events: ResolvedEvent[], jobId: string) =>
      routeQueue.add(
        'route.events',
        { count: events.length, events: keyRing.sealJson(events, jobId) },
        jobId,
      );
    let calls = 0;
    // The second page reaches Redis, then the worker dies before its cursor is written.
    const crashing = check({
      now: () => T0,
      pageSize: 2,
      route: async (events, jobId) => {
        calls += 1;
        await queue(events, jobId);
        if (calls === 2) throw new Error('worker died');
      },
    });
    await expect(crashing.run()).rejects.toThrow('worker died');
    expect(await routed()).toHaveLength(2);

    const resumed = await check({ now: () => T0, pageSize: 2 }).run();

    expect(resumed).toEqual({ brands: 1, profiles: 3, pages: 2 }); // the repeated page, then the last one
    const jobs = await routed();
    expect(jobs).toHaveLength(3);
    expect(jobs.flatMap((job) => job.events.map((event) => event.customerId)).sort()).toEqual(
      [...ids].sort(),
    );
  });

  it('takes each brand’s own threshold, the smallest of its configurations', async () => {
    const sd = await member({ source_ids: { sd: 'S1' } }, daysBefore(40));
    const fl = await member({ source_ids: { fl: 'F1' } }, daysBefore(40));
    const outcome = await check({
      now: () => T0,
      destinations: [winback('sd', 90), winback('sd', 30), winback('fl', 60)],
    }).run();
    expect(outcome).toEqual({ brands: 2, profiles: 1, pages: 1 });
    expect(await customersRouted()).toEqual([sd]);
    expect(fl).not.toBe(sd);
  });

  it('refuses a page size that is not a positive integer', () => {
    for (const pageSize of [0, -5, 2.5]) expect(() => check({ now: () => T0, pageSize })).toThrow(RangeError);
  });

  it('is seen by the points-winback plugin alone, with when the points last moved', async () => {
    const id = await member({ source_ids: { sd: 'W1' }, email: 'w1@example.com' }, daysBefore(100));
    await check({ now: () => T0 }).run();
    const [job] = await routed();
    const seen: { plugin: string; inputs: TransformInput[] }[] = [];
    // The worker-thread pool's contract, in process: which plugin saw which inputs.
    const pool: Pick<PluginPool, 'run'> = {
      run: async (plugin: ConfiguredPlugin, inputs: TransformInput[]) => {
        seen.push({ plugin: plugin.name, inputs });
        return inputs.map(() => ({ ok: true as const, operations: [] }));
      },
    };
    const plugin = (name: string): ConfiguredPlugin => ({
      name,
      config: {},
      module: 'unused-in-process',
      exportName: 'unused',
      plugin: { name, version: '1.0.0', description: name, configSchema: {}, transform: () => [] },
    });
    const delivered: string[] = [];
    const prefixGate = new ConsentGate({ reader: new StoreConsentStateReader(store), redis, prefix });
    await prefixGate.start();
    try {
      await new RouteStage({
        graph,
        gate: prefixGate,
        pool,
        destinationsOf: () => [
          {
            id: 'with',
            type: 'klaviyo',
            state: 'enabled',
            rules: compileRules({ mappings: { points: 'profile.?points_balance.orValue(0)' } }),
            plugins: [plugin('profile-sync'), plugin('points-winback')],
          },
          { id: 'without', type: 'braze', state: 'enabled', plugins: [plugin('profile-sync')] },
        ],
        brandOf: () => ({ id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' }),
        deliver: async (destinationId, items) => void delivered.push(...items.map(() => destinationId)),
        now: () => T0,
      }).handle(job?.events ?? []);
    } finally {
      await prefixGate.close();
    }
    // Neither the rules nor the other plugins, and not the destination without the plugin.
    expect(seen.map((entry) => entry.plugin)).toEqual(['points-winback']);
    expect(delivered).toEqual([]);
    expect(seen[0]?.inputs[0]?.profile).toMatchObject({
      customer_id: id,
      points_balance: 500,
      points_updated_at: daysBefore(100).toISOString(),
    });
  });
});
