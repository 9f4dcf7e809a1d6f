import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import {
  AuditLog,
  ConsentGate,
  ConsentLedger,
  DEFAULT_RETENTION_POLICY,
  StoreConsentStateReader,
  SuppressionList,
} from '@tessera/consent';
import { KeyRing } from '@tessera/crypto';
import { EspSandbox, CaptureEmulator, type SandboxRequest } from '@tessera/destination-kit';
import type { CatalogEvent } from '@tessera/events';
import { IdentityGraph } from '@tessera/identity-graph';
import { JobQueue, QUEUE_PAYLOAD_KEY_PURPOSE, type IngestedEvent, type ResolvedEvent } from '@tessera/queues';
import { openScratchStore, PiiVault, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix, waitFor } from '@tessera/testing';
import { compileRules } from '@tessera/transform';
import { PipelineMetrics, PipelineWorker, type PipelineDestination } from '../src';
import { ResolveStage } from '../src/stages/resolve-stage.service';
import { RouteStage } from '../src/stages/route-stage.service';
import { echoDestination } from './support/echo-destination';

const echo = echoDestination(100);

const eventOf = (sourceId: string, customerId: string): IngestedEvent => ({
  sourceId,
  brand: 'sd',
  receivedAt: new Date().toISOString(),
  event: {
    specversion: '1.0',
    id: `${sourceId}-${customerId}`,
    source: 'https://loyalty.example.com',
    type: 'points.updated',
    time: new Date().toISOString(),
    data: { customer_id: customerId, delta: 1, new_balance: 10, reason: 'purchase' },
  } as unknown as CatalogEvent,
});

// The resolve and route stages on the real PostgreSQL and Redis, delivering to a capture server on loopback,
// with a backlog of one-event jobs such as a trickle of single-event requests leaves in the resolve queue.
describe('PipelineWorker: resolve and route take waiting jobs in bulk', () => {
  const masterKey = randomBytes(32);
  const prefix = uniqueRedisPrefix();
  let store: Store;
  let redis: Redis;
  let sandbox: EspSandbox;
  let received: string[];
  let worker: PipelineWorker;
  let gate: ConsentGate;
  const resolved: IngestedEvent[][] = [];
  const routed: ResolvedEvent[][] = [];

  beforeAll(async () => {
    store = await openScratchStore('postgres');
    redis = new Redis(TEST_REDIS_URL);
    received = [];
    const capture = new CaptureEmulator((request: SandboxRequest) => {
      const items = JSON.parse(request.rawBody.toString('utf8')) as { customerId: string }[];
      received.push(...items.map((item) => item.customerId));
      return { status: 200, body: {} };
    });
    sandbox = new EspSandbox([capture], { limitsLifted: true });
    const root = await sandbox.listen();
    const vault = new PiiVault([masterKey]);
    const graph = new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] });
    gate = new ConsentGate({ reader: new StoreConsentStateReader(store), redis, prefix });
    await gate.start();
    // Spies that call through: they only record what each stage call was given.
    const resolveHandle = ResolveStage.prototype.handle;
    jest.spyOn(ResolveStage.prototype, 'handle').mockImplementation(function (this: ResolveStage, events) {
      resolved.push(events);
      return resolveHandle.call(this, events);
    });
    const routeHandle = RouteStage.prototype.handle;
    jest.spyOn(RouteStage.prototype, 'handle').mockImplementation(function (this: RouteStage, events) {
      routed.push(events);
      return routeHandle.call(this, events);
    });
    worker = new PipelineWorker({
      redis,
      redisUrl: TEST_REDIS_URL,
      prefix,
      masterKeys: [masterKey],
      store,
      vault,
      graph,
      ledger: new ConsentLedger(store),
      suppressions: new SuppressionList(store),
      gate,
      audit: new AuditLog(store),
      brands: [{ id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' }],
      destinations: [
        {
          id: 'echo-1',
          brand: 'sd',
          type: 'echo',
          definition: echo as unknown as PipelineDestination['definition'],
          settings: { apiKey: 'k', baseUrl: `${root}/capture` },
          initialState: 'enabled',
          rules: compileRules({ mappings: { points: 'profile.?points_balance.orValue(0)' } }),
          plugins: [],
        },
      ],
      metrics: new PipelineMetrics(new Registry()),
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      exportDir: tmpdir(),
      retention: DEFAULT_RETENTION_POLICY,
    });
  }, 30_000);

  afterAll(async () => {
    jest.restoreAllMocks();
    await worker.close();
    await gate.close();
    await sandbox.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await store.close();
  });

  const delivered = async () =>
    (
      await store.query<{ n: number }>(
        `SELECT count(DISTINCT customer_id)::int AS n FROM delivery_log WHERE status = 'delivered'`,
      )
    )[0]?.n ?? 0;

  it('resolves and routes 300 one-event jobs in a few batches, each event once; held sources’ events go back', async () => {
    await worker.states.setSourceHold('held-source', true, { actor: 'test', reason: 'remediation' });
    // The backlog is there before the worker starts: 300 one-event jobs, and 10 of a held source among them.
    const queue = new JobQueue('resolve', redis, prefix);
    const keyRing = new KeyRing([masterKey], QUEUE_PAYLOAD_KEY_PURPOSE);
    const customers = Array.from({ length: 300 }, (_, n) => `C${String(n).padStart(3, '0')}`);
    const heldCustomers = Array.from({ length: 10 }, (_, n) => `H${n}`);
    const jobs = customers.map((id) => eventOf('loyalty', id));
    heldCustomers.forEach((id, n) => jobs.splice(n * 30, 0, eventOf('held-source', id)));
    for (const event of jobs) {
      const jobId = `events-${event.sourceId}-${event.event.id}`;
      await queue.add('resolve.events', { count: 1, events: keyRing.sealJson([event], jobId) }, jobId);
    }
    await queue.close();
    await worker.start();

    await waitFor(delivered, (n) => n === 300, 'every loyalty event delivered', { timeoutMs: 60_000 });
    const resolvedIds = resolved.flat().map((event) => event.event.id);
    const routedIds = routed.flat().map((event) => event.event.id);

    expect(resolved.length).toBeLessThanOrEqual(10);
    expect(routed.length).toBeLessThanOrEqual(10);
    expect(resolvedIds.sort()).toEqual(customers.map((id) => `loyalty-${id}`).sort());
    expect(routedIds.sort()).toEqual(customers.map((id) => `loyalty-${id}`).sort());
    expect(received.filter((id) => id.startsWith('C')).sort()).toEqual(customers);

    // The held source's events waited on the queue; released, they go through.
    await worker.states.setSourceHold('held-source', false, { actor: 'test' });
    await worker.refreshStates();
    await waitFor(delivered, (n) => n === 310, 'the held events delivered once released', {
      timeoutMs: 30_000,
    });
    expect(received.filter((id) => id.startsWith('H')).sort()).toEqual(heldCustomers);
  }, 90_000);
});
