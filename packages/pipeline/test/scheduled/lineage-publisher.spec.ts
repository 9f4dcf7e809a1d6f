import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { ConsentGate, StoreConsentStateReader } from '@tessera/consent';
import { KeyRing } from '@tessera/crypto';
import { IdentityGraph, IdentityOutbox, type IdentityRecord } from '@tessera/identity-graph';
import { JobQueue, QUEUE_PAYLOAD_KEY_PURPOSE, type DeliveryItem, type ResolvedEvent } from '@tessera/queues';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { CustomerBrands } from '../../src/scheduled/customer-brands.repository';
import { IdentityLineageReader } from '../../src/scheduled/identity-lineage.repository';
import { LineagePublisher, LINEAGE_EVENT_SOURCE } from '../../src/scheduled/lineage-publisher.service';
import { RouteStage, type RoutingDestination } from '../../src/stages/route-stage.service';

const BRANDS = [
  { id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' },
  { id: 'fl', name: 'Flannels', defaultCountry: 'GB' },
];

// The outbox → route queue → route stage, on both stores and the real Redis (BullMQ's job id dedupe).
describe.each(STORE_DRIVERS)('LineagePublisher on %s', (driver) => {
  const masterKey = randomBytes(32);
  const keyRing = new KeyRing([masterKey], QUEUE_PAYLOAD_KEY_PURPOSE);
  let store: Store;
  let redis: Redis;
  let vault: PiiVault;
  let graph: IdentityGraph;
  let prefix: string;
  let routeQueue: JobQueue<'route'>;
  let gate: ConsentGate;
  let sequence = 0;

  beforeAll(async () => {
    store = await openScratchStore(driver);
    redis = new Redis(TEST_REDIS_URL);
    vault = new PiiVault([masterKey]);
    graph = new IdentityGraph({ store, vault, brands: BRANDS });
  }, 30_000);
  afterAll(async () => {
    await store.close();
    redis.disconnect();
  });
  beforeEach(async () => {
    prefix = uniqueRedisPrefix();
    routeQueue = new JobQueue('route', redis, prefix);
    gate = new ConsentGate({ reader: new StoreConsentStateReader(store), redis, prefix });
    await gate.start();
    // Each test publishes only what it makes.
    await store.query('UPDATE identity_outbox SET published_at = now() WHERE published_at IS NULL');
  });
  afterEach(async () => {
    await routeQueue.close();
    await gate.close();
    await deleteKeysWithPrefix(redis, prefix);
  });

  const publisher = (outbox: Pick<IdentityOutbox, 'pending' | 'markPublished'> = new IdentityOutbox(store)) =>
    new LineagePublisher({
      outbox,
      lineage: new IdentityLineageReader(store),
      brands: new CustomerBrands(store),
      route: (events, jobId) =>
        routeQueue.add(
          'route.events',
          { count: events.length, events: keyRing.sealJson(events, jobId) },
          jobId,
        ),
      now: () => new Date('2026-03-01T12:00:00Z'),
    });

  async function resolve(identifiers: IdentityRecord['identifiers'], brand = 'sd'): Promise<string> {
    sequence += 1;
    const result = await graph.resolveIdentities([
      {
        brand,
        eventTime: new Date(Date.UTC(2026, 1, 1, 0, 0, sequence)),
        eventSource: 'test',
        eventId: `evt-${sequence}`,
        identifiers,
      },
    ]);
    return result.records[0]?.customerId ?? '';
  }

  /** The route jobs on the queue, opened. */
  async function routeJobs(): Promise<{ id: string; events: ResolvedEvent[] }[]> {
    const jobs = await routeQueue.queue.getJobs(['waiting', 'delayed', 'active', 'completed']);
    return jobs.map((job) => ({
      id: job.id ?? '',
      events: keyRing.openJson<ResolvedEvent[]>(job.data.events, job.id ?? ''),
    }));
  }

  /** Runs the route stage over the queued events; returns the items per destination. */
  async function route(events: ResolvedEvent[]): Promise<Map<string, DeliveryItem[]>> {
    const delivered = new Map<string, DeliveryItem[]>();
    const destinations = (brand: string): RoutingDestination[] => [
      {
        id: `${brand}-braze`,
        type: 'braze',
        state: 'enabled',
        plugins: [],
        supports: new Set(['upsertProfiles', 'mergeProfiles']),
      },
      {
        id: `${brand}-klaviyo`,
        type: 'klaviyo',
        state: 'enabled',
        plugins: [],
        supports: new Set(['upsertProfiles']),
      },
    ];
    const stage = new RouteStage({
      graph,
      gate,
      destinationsOf: destinations,
      brandOf: (brand) => BRANDS.find((known) => known.id === brand) ?? BRANDS[0],
      deliver: async (id, items) => void delivered.set(id, [...(delivered.get(id) ?? []), ...items]),
    });
    await stage.handle(events);
    return delivered;
  }

  it('publishes a guest who became a member as a deterministic merge of a guest, and routes a Braze merge for it', async () => {
    const guest = await resolve({ anonymous_id: 'device-1', email: 'guest1@example.com' });
    const member = await resolve({ anonymous_id: 'device-1', customer_id: 'C1', source_ids: { sd: 'M1' } });
    expect(member).toBe('C1');
    expect(guest).not.toBe(member);

    const outcome = await publisher().publish();

    expect(outcome).toEqual({ published: 1, routed: 1, skipped: 0 });
    const [job, ...others] = await routeJobs();
    expect(others).toEqual([]);
    expect(job?.id).toMatch(/^lineage-tessera-lineage-\d+$/);
    expect(job?.events).toEqual([
      expect.objectContaining({
        brand: 'sd',
        customerId: 'C1',
        key: { sourceId: 'identity-graph', eventSource: LINEAGE_EVENT_SOURCE, eventId: job?.id.slice(8) },
        merge: expect.objectContaining({ basis: 'deterministic', mergedWasGuest: true }),
        event: expect.objectContaining({
          type: 'membership.merged',
          data: expect.objectContaining({ from_customer_id: guest, to_customer_id: 'C1' }),
        }),
      }),
    ]);
    expect(await new IdentityOutbox(store).pending()).toEqual([]);

    // No consent record for the survivor: a merge is housekeeping, not a message, and is not refused.
    const items = await route(job?.events ?? []);
    const merges = (items.get('sd-braze') ?? []).filter(
      (item) => item.operation.operation === 'mergeProfiles',
    );
    expect(merges.map((item) => item.operation.item)).toEqual([
      {
        customerId: 'C1',
        mergedCustomerId: guest,
        mergedWasGuest: true,
        basis: 'deterministic',
        mergedAt: job?.events[0]?.merge?.mergedAt,
      },
    ]);
    expect(merges[0]).toMatchObject({ customerId: 'C1', event: job?.events[0]?.key, attempts: 0 });
    // Only where the definition declares the operation.
    expect(items.get('sd-klaviyo') ?? []).toEqual([]);
  });

  it('publishes an operator’s merge of two members as human, to both members’ brands', async () => {
    // Member ids of two brands: one person may hold both (a customer id each would be an anchor conflict).
    const sd = await resolve({ source_ids: { sd: 'M2' } });
    const fl = await resolve({ source_ids: { fl: 'F3' } }, 'fl');
    await graph.merge({
      customerIds: [sd, fl],
      actor: 'admin:ops',
      reason: 'same person, confirmed by phone',
    });

    expect(await publisher().publish()).toEqual({ published: 1, routed: 2, skipped: 0 });

    const [job] = await routeJobs();
    expect(job?.events.map((event) => event.brand)).toEqual(['fl', 'sd']);
    const [event] = job?.events ?? [];
    expect(event?.merge).toMatchObject({ basis: 'human', mergedWasGuest: false });
    const data = event?.event.data as { from_customer_id: string; to_customer_id: string };
    expect([data.from_customer_id, data.to_customer_id].sort()).toEqual([sd, fl].sort());
    const items = await route(job?.events ?? []);
    for (const brand of ['sd', 'fl']) {
      expect(items.get(`${brand}-braze`)?.map((item) => item.operation)).toEqual([
        {
          operation: 'mergeProfiles',
          item: expect.objectContaining({
            customerId: data.to_customer_id,
            mergedCustomerId: data.from_customer_id,
            basis: 'human',
            mergedWasGuest: false,
          }),
        },
      ]);
    }
  });

  it('publishes an event again after a crash between the route job and the mark, as the same single job and items', async () => {
    await resolve({ email: 'crash@example.com', anonymous_id: 'device-2' });
    await resolve({ email: 'crash@example.com', customer_id: 'C4', source_ids: { sd: 'M4' } });
    const outbox = new IdentityOutbox(store);
    let crashes = 1;
    const crashing = {
      pending: (limit?: number) => outbox.pending(limit),
      markPublished: async (ids: number[]) => {
        if (crashes-- > 0) throw new Error('worker died before marking the events published');
        return outbox.markPublished(ids);
      },
    };

    await expect(publisher(crashing).publish()).rejects.toThrow('worker died');
    expect(await outbox.pending()).toHaveLength(1);
    const again = await publisher(crashing).publish();

    expect(again).toEqual({ published: 1, routed: 1, skipped: 0 });
    const jobs = await routeJobs();
    expect(jobs).toHaveLength(1);
    // Once that job is gone (completed and trimmed), the event routed again gives the same item keys.
    const first = await route(jobs[0]?.events ?? []);
    const second = await route(jobs[0]?.events ?? []);
    expect(second.get('sd-braze')?.map((item) => item.itemKey)).toEqual(
      first.get('sd-braze')?.map((item) => item.itemKey),
    );
    expect(first.get('sd-braze')).toHaveLength(1);
  });

  it('does not route a merge reversed before it was published, nor an event of no known brand; both are marked published', async () => {
    const left = await resolve({ customer_id: 'C5', source_ids: { sd: 'M5' } });
    const right = await resolve({ email: 'right@example.com', loyalty_card: 'CARD-6' });
    const merged = await graph.merge({
      customerIds: [left, right],
      actor: 'admin:ops',
      reason: 'looked alike',
    });
    const [lineageId] = merged.merges.map((merge) => merge.lineageId);
    await graph.unmerge({ lineageId: lineageId ?? 0, actor: 'admin:ops', reason: 'two people after all' });
    await resolve({ anonymous_id: 'device-7' });
    await resolve({ anonymous_id: 'device-7', loyalty_card: 'CARD-7' }); // a member, but of no brand yet

    const outcome = await publisher().publish();

    const jobs = await routeJobs();
    expect(jobs.flatMap((job) => job.events.map((event) => event.event.type))).toEqual(['membership.split']);
    expect(outcome).toEqual({ published: 3, routed: 1, skipped: 2 });
    expect(await new IdentityOutbox(store).pending()).toEqual([]);
  });

  it('publishes in pages, oldest first, and refuses a page size that is not a positive integer', async () => {
    for (const n of [8, 9, 10]) {
      await resolve({ anonymous_id: `device-${n}` });
      await resolve({ anonymous_id: `device-${n}`, customer_id: `C${n}`, source_ids: { sd: `M${n}` } });
    }
    const paged = new LineagePublisher({
      outbox: new IdentityOutbox(store),
      lineage: new IdentityLineageReader(store),
      brands: new CustomerBrands(store),
      route: (events, jobId) =>
        routeQueue.add(
          'route.events',
          { count: events.length, events: keyRing.sealJson(events, jobId) },
          jobId,
        ),
      pageSize: 2,
    });
    expect(await paged.publish()).toEqual({ published: 3, routed: 3, skipped: 0 });
    expect((await routeJobs()).map((job) => job.events[0]?.customerId).sort()).toEqual(['C10', 'C8', 'C9']);
    for (const pageSize of [0, -1, 1.5]) {
      expect(
        () =>
          new LineagePublisher({
            outbox: new IdentityOutbox(store),
            lineage: new IdentityLineageReader(store),
            brands: new CustomerBrands(store),
            route: async () => undefined,
            pageSize,
          }),
      ).toThrow(RangeError);
    }
  });
});
