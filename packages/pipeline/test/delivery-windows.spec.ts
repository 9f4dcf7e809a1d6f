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
import {
  CaptureEmulator,
  EspSandbox,
  type SandboxRequest,
  type SandboxResponse,
} from '@tessera/destination-kit';
import type { CatalogEvent } from '@tessera/events';
import { IdentityGraph } from '@tessera/identity-graph';
import { JobQueue, QUEUE_PAYLOAD_KEY_PURPOSE, type IngestedEvent } from '@tessera/queues';
import { openScratchStore, PiiVault, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix, waitFor } from '@tessera/testing';
import { compileRules } from '@tessera/transform';
import { PipelineMetrics, PipelineWorker, type PipelineDestination } from '../src';
import { echoDestination } from './support/echo-destination';

const echo = echoDestination(1_000) as unknown as PipelineDestination['definition'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A trickle of one-event resolve jobs through the real stages (PostgreSQL, Redis) to two capture servers: one
// destination with the default 2 s window, one with `windowMs: 0` (each route batch goes at once).
describe('Delivery windows in the running pipeline', () => {
  const masterKey = randomBytes(32);
  const prefix = uniqueRedisPrefix();
  let store: Store;
  let redis: Redis;
  let sandbox: EspSandbox;
  let worker: PipelineWorker;
  let gate: ConsentGate;
  let failNext = 0;
  const requests: Record<string, { customers: string[]; status: number }[]> = { windowed: [], direct: [] };

  beforeAll(async () => {
    store = await openScratchStore('postgres');
    redis = new Redis(TEST_REDIS_URL);
    const capture = new CaptureEmulator((request: SandboxRequest): SandboxResponse => {
      const which = request.path.startsWith('/windowed') ? 'windowed' : 'direct';
      const customers = (JSON.parse(request.rawBody.toString('utf8')) as { customerId: string }[]).map(
        (item) => item.customerId,
      );
      if (which === 'windowed' && failNext > 0) {
        failNext -= 1;
        requests[which]?.push({ customers, status: 503 });
        return { status: 503, headers: { 'retry-after': '1' }, body: { error: 'down' } };
      }
      requests[which]?.push({ customers, status: 200 });
      return { status: 200, body: {} };
    });
    sandbox = new EspSandbox([capture], { limitsLifted: true });
    const root = await sandbox.listen();
    const vault = new PiiVault([masterKey]);
    const graph = new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] });
    gate = new ConsentGate({ reader: new StoreConsentStateReader(store), redis, prefix });
    await gate.start();
    const destination = (
      id: string,
      path: string,
      settings: Record<string, unknown>,
    ): PipelineDestination => ({
      id,
      brand: 'sd',
      type: 'echo',
      definition: echo,
      settings: { apiKey: 'k', baseUrl: `${root}/capture/${path}`, ...settings },
      initialState: 'enabled',
      rules: compileRules({ mappings: { points: 'profile.?points_balance.orValue(0)' } }),
      plugins: [],
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
        destination('windowed-1', 'windowed', {}),
        destination('direct-1', 'direct', { windowMs: 0 }),
      ],
      metrics: new PipelineMetrics(new Registry()),
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      exportDir: tmpdir(),
      retention: DEFAULT_RETENTION_POLICY,
    });
    await worker.start();
  }, 30_000);

  afterAll(async () => {
    await worker.close();
    await gate.close();
    await sandbox.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await store.close();
  });

  /** One resolve job per event, as a trickle of single-event requests makes them. */
  async function trickle(customerIds: string[], tag: string, gapMs: number): Promise<void> {
    const queue = new JobQueue('resolve', redis, prefix);
    const keyRing = new KeyRing([masterKey], QUEUE_PAYLOAD_KEY_PURPOSE);
    for (const customerId of customerIds) {
      const event: IngestedEvent = {
        sourceId: 'loyalty',
        brand: 'sd',
        receivedAt: new Date().toISOString(),
        event: {
          specversion: '1.0',
          id: `${tag}-${customerId}`,
          source: 'https://loyalty.example.com',
          type: 'points.updated',
          time: new Date().toISOString(),
          data: { customer_id: customerId, delta: 1, new_balance: 10, reason: 'purchase' },
        } as unknown as CatalogEvent,
      };
      const jobId = `test-${tag}-${customerId}`;
      await queue.add('resolve.events', { count: 1, events: keyRing.sealJson([event], jobId) }, jobId);
      await sleep(gapMs);
    }
    await queue.close();
  }

  const deliveredTo = async (destinationId: string) =>
    (
      await store.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM delivery_log WHERE status = 'delivered' AND destination_id = $1`,
        [destinationId],
      )
    )[0]?.n ?? 0;

  it('gathers a trickle of events into a few requests, where no window sends about one per event', async () => {
    const customers = Array.from({ length: 24 }, (_, index) => `T${index}`);
    await trickle(customers, 'trickle', 60);
    await waitFor(
      () => deliveredTo('windowed-1'),
      (n) => n === 24,
      'every event at the windowed destination',
    );
    await waitFor(
      () => deliveredTo('direct-1'),
      (n) => n === 24,
      'every event at the direct destination',
    );

    const windowed = requests['windowed'] ?? [];
    const direct = requests['direct'] ?? [];
    expect(windowed.flatMap((request) => request.customers).sort()).toEqual([...customers].sort());
    // 24 events over ~1.5 s: one or two windows of 2 s.
    expect(windowed.length).toBeLessThanOrEqual(2);
    expect(direct.length).toBeGreaterThan(windowed.length * 4);
    expect((await worker.deliveryWindow.size('windowed-1')).waiting).toBe(0);
  }, 60_000);

  it('reports the items waiting in each window among the queue depths', async () => {
    await worker.delivery.enqueue(
      'direct-1',
      [
        {
          operation: { operation: 'upsertProfiles', item: { customerId: 'W1', version: 1, attributes: {} } },
          itemKey: 'waiting-W1',
          customerId: 'W1',
          receivedAt: new Date().toISOString(),
          attempts: 1,
        },
      ],
      60_000,
    );
    const depths = await worker.queueDepths();
    expect(depths).toContainEqual({ queue: 'deliver-direct-1', state: 'in_window', count: 1 });
    expect(depths).toContainEqual({ queue: 'deliver-windowed-1', state: 'in_window', count: 0 });
    await worker.deliveryWindow.drop('direct-1');
  });

  it('sends retried items back as one batch through the window, honouring Retry-After', async () => {
    requests['windowed'] = [];
    failNext = 1;
    const customers = ['R1', 'R2', 'R3', 'R4', 'R5'];
    await trickle(customers, 'retry', 0);
    await waitFor(
      () => deliveredTo('windowed-1'),
      (n) => n === 24 + 5,
      'the retried items delivered',
      {
        timeoutMs: 40_000,
      },
    );
    const windowed = requests['windowed'] ?? [];
    // The failed request and the retry: each carries all five (not one request per retried item).
    expect(windowed.map((request) => request.status)).toEqual([503, 200]);
    expect(windowed.map((request) => request.customers.sort())).toEqual([customers, customers]);
  }, 60_000);
});
