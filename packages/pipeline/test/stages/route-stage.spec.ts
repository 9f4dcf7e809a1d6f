import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { ConsentGate, ConsentLedger, StoreConsentStateReader, type ConsentEntry } from '@tessera/consent';
import { IdentityGraph } from '@tessera/identity-graph';
import type { DeliveryItem, ResolvedEvent } from '@tessera/queues';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import {
  compileRules,
  type ConfiguredPlugin,
  type PluginPool,
  type TransformInput,
} from '@tessera/transform';
import { RouteStage, type RoutingDestination } from '../../src/stages/route-stage.service';

const BRAND = { id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' };
const rules = compileRules({
  mappings: {
    loyalty_tier: 'profile.?loyalty_tier.orValue("Member")',
    email_consent: 'profile.?marketing_consent.email.orValue("none")',
  },
  segments: [{ segment: 'VIP', when: 'profile.?loyalty_tier.orValue("") == "Gold"' }],
});

// The route stage on the real store (both drivers) and the real Redis (the consent gate's invalidations).
describe.each(STORE_DRIVERS)('RouteStage on %s', (driver) => {
  let store: Store;
  let redis: Redis;
  let prefix: string;
  let gate: ConsentGate;
  let graph: IdentityGraph;
  let vault: PiiVault;
  let destinations: RoutingDestination[];
  let delivered: Map<string, DeliveryItem[]>;
  let stage: RouteStage;

  beforeAll(async () => {
    store = await openScratchStore(driver);
    redis = new Redis(TEST_REDIS_URL);
    vault = new PiiVault([randomBytes(32)]);
  }, 30_000);
  afterAll(async () => {
    await store.close();
    redis.disconnect();
  });

  beforeEach(async () => {
    prefix = uniqueRedisPrefix();
    graph = new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] });
    gate = new ConsentGate({ reader: new StoreConsentStateReader(store), redis, prefix });
    await gate.start();
    destinations = [
      { id: 'sd-klaviyo', type: 'klaviyo', state: 'enabled', rules, plugins: [] },
      { id: 'sd-braze', type: 'braze', state: 'disabled', rules, plugins: [] },
      { id: 'sd-mailchimp', type: 'mailchimp', state: 'paused', rules, plugins: [], withoutGrant: 'full' },
    ];
    delivered = new Map();
    stage = new RouteStage({
      graph,
      gate,
      destinationsOf: (brand) => (brand === 'sd' ? destinations : []),
      brandOf: () => BRAND,
      deliver: async (id, items) => void delivered.set(id, [...(delivered.get(id) ?? []), ...items]),
      now: () => new Date('2026-11-24T10:00:00Z'),
    });
  });
  afterEach(async () => {
    await gate.close();
    await deleteKeysWithPrefix(redis, prefix);
  });

  async function member(
    customerId: string,
    email: string,
    consent?: 'granted' | 'withdrawn',
  ): Promise<ResolvedEvent> {
    const result = await graph.resolveIdentities([
      {
        brand: 'sd',
        eventTime: new Date('2026-11-24T09:00:00Z'),
        identifiers: { customer_id: customerId, email },
        traits: { loyalty_tier: 'Gold' },
      },
    ]);
    if (consent !== undefined) {
      const entry: ConsentEntry = {
        subject: { type: 'email', key: vault.blindIndex('email', email) },
        scope: { brand: 'sd', channel: 'email', purpose: 'marketing' },
        decision: consent,
        legalBasis: 'consent',
        provenance: {
          source: 'loyalty',
          capturedAt: '2026-11-01T00:00:00Z',
          receivedAt: '2026-11-01T00:00:01Z',
          actor: 'source:loyalty',
        },
        dedupeKey: `event:test:${customerId}`,
      };
      await new ConsentLedger(store).append([entry]);
    }
    return {
      key: { sourceId: 'loyalty', eventSource: 'loyalty-platform', eventId: `evt-${customerId}` },
      brand: 'sd',
      receivedAt: '2026-11-24T09:59:59Z',
      customerId: result.records[0]?.customerId ?? '',
      event: {
        specversion: '1.0',
        id: `evt-${customerId}`,
        source: 'loyalty-platform',
        type: 'points.updated',
        data: { customer_id: customerId, delta: 10, new_balance: 100 },
      } as ResolvedEvent['event'],
    };
  }

  const operationsOf = (id: string, customerId: string) =>
    (delivered.get(id) ?? [])
      .filter((item) => item.customerId === customerId)
      .map((item) => item.operation.operation);

  it('reaches the enabled and paused destinations of the brand with what consent allows; a disabled one drops and counts', async () => {
    const granted = await member('C1', 'granted@example.com', 'granted');
    const withdrawn = await member('C2', 'withdrawn@example.com', 'withdrawn');
    const unknown = await member('C3', 'unknown@example.com');

    const outcome = await stage.handle([granted, withdrawn, unknown]);

    expect([...delivered.keys()].sort()).toEqual(['sd-klaviyo', 'sd-mailchimp']);
    expect(outcome.dropped).toEqual(new Map([['sd-braze', 3]]));
    // The segment add can trigger messages: only with a grant. The record is synced either way, and the
    // subscription state mirrors the ledger: subscribed, unsubscribed, nothing said without a record.
    expect(operationsOf('sd-klaviyo', 'C1')).toEqual(['upsertProfiles', 'addToSegment', 'subscribe']);
    expect(operationsOf('sd-klaviyo', 'C2')).toEqual(['upsertProfiles', 'unsubscribe']);
    expect(operationsOf('sd-klaviyo', 'C3')).toEqual(['upsertProfiles']);
    expect(operationsOf('sd-mailchimp', 'C2')).toEqual(['upsertProfiles', 'unsubscribe']);
    expect(outcome.refused).toEqual(
      new Map([
        ['sd-klaviyo', 2],
        ['sd-mailchimp', 2],
      ]),
    );
    const upsertOf = (customerId: string) =>
      delivered
        .get('sd-klaviyo')
        ?.find((item) => item.customerId === customerId && item.operation.operation === 'upsertProfiles');
    expect(upsertOf('C1')?.operation.item).toMatchObject({
      customerId: 'C1',
      email: 'granted@example.com',
      attributes: { loyalty_tier: 'Gold', email_consent: 'granted' },
    });
    // Without a grant, the default policy (minimal) sends identifiers only, whatever the rules mapped.
    expect(upsertOf('C2')?.operation.item).toEqual({
      customerId: 'C2',
      version: expect.any(Number),
      email: 'withdrawn@example.com',
      attributes: {},
    });
    expect(upsertOf('C3')?.operation.item).toMatchObject({ email: 'unknown@example.com', attributes: {} });
    // The brand chose `full` for its Mailchimp: everything the rules produce.
    expect(
      delivered
        .get('sd-mailchimp')
        ?.find((item) => item.customerId === 'C2' && item.operation.operation === 'upsertProfiles')?.operation
        .item,
    ).toMatchObject({ attributes: { loyalty_tier: 'Gold', email_consent: 'withdrawn' } });
    const subscriptionOf = (customerId: string) =>
      delivered
        .get('sd-klaviyo')
        ?.find((item) => item.customerId === customerId && /subscribe/.test(item.operation.operation))
        ?.operation.item;
    // Stamped with the consent's time in the ledger.
    expect(subscriptionOf('C1')).toEqual({
      customerId: 'C1',
      channel: 'email',
      email: 'granted@example.com',
      changedAt: '2026-11-01T00:00:00.000Z',
    });
    expect(subscriptionOf('C2')).toMatchObject({ channel: 'email', changedAt: '2026-11-01T00:00:00.000Z' });
    expect(upsertOf('C1')).toMatchObject({ event: granted.key, receivedAt: granted.receivedAt, attempts: 0 });
  });

  it('lets the event loop run between events while a batch of costly rules evaluates; nothing is lost', async () => {
    const base = await member('C40', 'c40@example.com', 'granted');
    const items = Array.from({ length: 60 }, (_, index) => ({ sku: `sku-${index}`, quantity: 1 }));
    const events: ResolvedEvent[] = Array.from({ length: 100 }, (_, index) => ({
      ...base,
      key: { ...base.key, eventId: `evt-C40-${index}` },
      event: { ...base.event, id: `evt-C40-${index}`, data: { customer_id: 'C40', items } },
    })) as ResolvedEvent[];
    // Each event's rules stay within the budget, but the batch's together take well over one slice.
    const costly = compileRules({
      mappings: {
        pairs: 'event.data.items.map(a, event.data.items.filter(b, b.quantity == a.quantity).size()).size()',
      },
    });
    let ticks = 0;
    const ticking = setInterval(() => ticks++, 0);
    const ticksSeen: number[] = [];
    destinations = [
      {
        id: 'sd-klaviyo',
        type: 'klaviyo',
        state: 'enabled',
        plugins: [],
        rules: {
          evaluate: (input) => {
            ticksSeen.push(ticks);
            return costly.evaluate(input);
          },
        },
      },
    ];
    try {
      const outcome = await stage.handle(events);
      expect(outcome.errors).toEqual([]);
      // An upsert and the granted member's subscribe per event (change-only writes send the subscribe once).
      expect(outcome.items).toEqual(new Map([['sd-klaviyo', 200]]));
    } finally {
      clearInterval(ticking);
    }
    expect(ticksSeen).toHaveLength(100);
    // Timers ran between the first and the last evaluation: the batch did not hold the event loop.
    expect(ticksSeen[99]).toBeGreaterThan(ticksSeen[0] as number);
  });

  it('gives the same item keys when the same events are routed twice (replays stay idempotent)', async () => {
    const event = await member('C10', 'c10@example.com', 'granted');
    await stage.handle([event]);
    const first = delivered.get('sd-klaviyo')?.map((item) => item.itemKey);
    delivered.clear();
    await stage.handle([event]);
    expect(delivered.get('sd-klaviyo')?.map((item) => item.itemKey)).toEqual(first);
    expect(new Set(first).size).toBe(3);
  });

  it('routes nothing for a brand without destinations, and skips a profile erased since resolution', async () => {
    const event = await member('C20', 'c20@example.com', 'granted');
    const outcome = await stage.handle([
      { ...event, brand: 'other' },
      { ...event, customerId: 'cus_gone' },
    ]);
    expect(outcome.items.size).toBe(0);
    expect(delivered.size).toBe(0);
  });

  it("adds a mergeProfiles for the graph's membership.merged only where the definition declares it, not for the platform's own; merge-cleanup sees both", async () => {
    const withdrawn = await member('C30', 'c30@example.com', 'withdrawn');
    const mergedEvent = (id: string, source: string): ResolvedEvent['event'] =>
      ({
        specversion: '1.0',
        id,
        source,
        type: 'membership.merged',
        time: '2026-11-24T09:30:00Z',
        data: { from_customer_id: 'C29', to_customer_id: 'C30', email: 'c29@example.com' },
      }) as ResolvedEvent['event'];
    // The loyalty platform's event: the graph merged the profiles at resolution and announces it itself.
    const platform: ResolvedEvent = {
      ...withdrawn,
      key: { ...withdrawn.key, eventId: 'merge-C29-C30' },
      event: mergedEvent('merge-C29-C30', 'loyalty-platform'),
    };
    // The lineage publisher's event for that merge, with how the graph made it.
    const lineage: ResolvedEvent = {
      ...withdrawn,
      key: { sourceId: 'tessera', eventSource: 'tessera://identity-graph', eventId: 'tessera-lineage-7' },
      event: mergedEvent('tessera-lineage-7', 'tessera://identity-graph'),
      merge: { basis: 'deterministic', mergedWasGuest: false, mergedAt: '2026-11-24T09:30:01.000Z' },
    };
    const seen: { event: string; customerId: unknown; from: unknown }[] = [];
    // The worker-thread pool's contract, in process: what merge-cleanup is given for each event.
    const pool: Pick<PluginPool, 'run'> = {
      run: async (_plugin: ConfiguredPlugin, inputs: TransformInput[]) => {
        for (const input of inputs) {
          const data = input.event.data as { from_customer_id?: unknown };
          seen.push({
            event: input.event.id,
            customerId: input.profile.customer_id,
            from: data.from_customer_id,
          });
        }
        return inputs.map(() => ({ ok: true as const, operations: [] }));
      },
    };
    const mergeCleanup: ConfiguredPlugin = {
      name: 'merge-cleanup',
      config: { action: 'suppress' },
      module: 'unused-in-process',
      exportName: 'unused',
      plugin: {
        name: 'merge-cleanup',
        version: '1.0.0',
        description: '',
        configSchema: {},
        transform: () => [],
      },
    };
    destinations = [
      {
        id: 'sd-braze',
        type: 'braze',
        state: 'enabled',
        plugins: [mergeCleanup],
        supports: new Set(['mergeProfiles']),
      },
      {
        id: 'sd-klaviyo',
        type: 'klaviyo',
        state: 'enabled',
        plugins: [],
        supports: new Set(['upsertProfiles']),
      },
    ];
    stage = new RouteStage({
      graph,
      gate,
      pool,
      destinationsOf: () => destinations,
      brandOf: () => BRAND,
      deliver: async (id, items) => void delivered.set(id, [...(delivered.get(id) ?? []), ...items]),
      now: () => new Date('2026-11-24T10:00:00Z'),
    });

    const outcome = await stage.handle([platform, lineage]);

    expect(delivered.get('sd-braze')?.map((item) => [item.event?.eventId, item.operation])).toEqual([
      [
        'tessera-lineage-7',
        {
          operation: 'mergeProfiles',
          item: {
            customerId: 'C30',
            mergedCustomerId: 'C29',
            mergedWasGuest: false,
            basis: 'deterministic',
            mergedAt: '2026-11-24T09:30:01.000Z',
          },
        },
      ],
    ]);
    expect(delivered.has('sd-klaviyo')).toBe(false);
    expect(outcome.refused.size).toBe(0);
    expect(seen).toEqual([
      { event: 'merge-C29-C30', customerId: 'C30', from: 'C29' },
      { event: 'tessera-lineage-7', customerId: 'C30', from: 'C29' },
    ]);
  });
});
