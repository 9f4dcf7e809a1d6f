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
  defineDestination,
  EspSandbox,
  CaptureEmulator,
  type SandboxRequest,
  type SandboxResponse,
} from '@tessera/destination-kit';
import type { CatalogEvent } from '@tessera/events';
import { IdentityGraph } from '@tessera/identity-graph';
import { JobQueue, QUEUE_PAYLOAD_KEY_PURPOSE, type IngestedEvent } from '@tessera/queues';
import { openScratchStore, PiiVault, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { compileRules } from '@tessera/transform';
import { PipelineMetrics, PipelineWorker, type PipelineDestination } from '../src';

/** A destination posting profiles to /profiles; the capture server refuses the customers it is told to. */
const echo = defineDestination<{ baseUrl: string; apiKey: string }>({
  type: 'echo',
  name: 'Echo',
  settingsSchema: {
    type: 'object',
    properties: { baseUrl: { type: 'string', default: 'https://echo.invalid' }, apiKey: { type: 'string' } },
    required: ['apiKey'],
  },
  requestHeaders: (settings): Record<string, string> => ({ 'x-api-key': settings.apiKey }),
  testConnection: async () => undefined,
  operations: {
    upsertProfiles: {
      batchSize: 100,
      perform: async (items, { http }) => {
        const response = await http.post<{ refused?: string[] }>('/profiles', items);
        const refused = new Set(response.body?.refused ?? []);
        return items.map((item) =>
          refused.has(item.customerId)
            ? { status: 'rejected', reason: `refused ${item.customerId}` }
            : { status: 'ok' },
        );
      },
    },
  },
});

async function waitFor<T>(read: () => Promise<T> | T, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// The worker in-process on the real PostgreSQL and Redis, delivering to a capture server on loopback.
describe('PipelineWorker: dead-letter replay and rehydration', () => {
  const masterKey = randomBytes(32);
  const prefix = uniqueRedisPrefix();
  let store: Store;
  let redis: Redis;
  let sandbox: EspSandbox;
  let refused: Set<string>;
  let received: string[];
  let worker: PipelineWorker;
  let gate: ConsentGate;

  beforeAll(async () => {
    store = await openScratchStore('postgres');
    redis = new Redis(TEST_REDIS_URL);
    refused = new Set(['BAD']);
    received = [];
    const capture = new CaptureEmulator((request: SandboxRequest): SandboxResponse => {
      const items = JSON.parse(request.rawBody.toString('utf8')) as { customerId: string }[];
      for (const item of items) received.push(item.customerId);
      return {
        status: 200,
        body: { refused: items.map((item) => item.customerId).filter((id) => refused.has(id)) },
      };
    });
    sandbox = new EspSandbox([capture], { limitsLifted: true });
    const root = await sandbox.listen();
    const vault = new PiiVault([masterKey]);
    const graph = new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] });
    gate = new ConsentGate({ reader: new StoreConsentStateReader(store), redis, prefix });
    await gate.start();
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

  async function ingest(customerIds: string[], tag: string): Promise<void> {
    const events: IngestedEvent[] = customerIds.map((customerId) => ({
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
    }));
    const jobId = `test-${tag}`;
    const queue = new JobQueue('resolve', redis, prefix);
    await queue.add(
      'resolve.events',
      {
        count: events.length,
        events: new KeyRing([masterKey], QUEUE_PAYLOAD_KEY_PURPOSE).sealJson(events, jobId),
      },
      jobId,
    );
    await queue.close();
  }

  const delivered = async () =>
    (
      await store.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM delivery_log WHERE status = 'delivered'`,
      )
    )[0]?.n ?? 0;

  it('dead-letters a refused item, replays it once fixed, and never replays the same letter twice', async () => {
    await ingest(['GOOD', 'BAD'], 'first');
    await waitFor(
      () => worker.deadLetters.count({ destinationId: 'echo-1' }),
      (n) => n === 1,
      'one dead letter',
    );
    const [letter] = await worker.deadLetters.list({ destinationId: 'echo-1', limit: 10 });
    expect(letter).toMatchObject({ customerId: 'BAD', errorClass: 'rejected', operation: 'upsertProfiles' });
    expect(await delivered()).toBe(1);

    refused.clear(); // the mapping or the ESP was fixed
    const first = await worker.replayDeadLetters({ destinationId: 'echo-1', limit: 100 });
    const second = await worker.replayDeadLetters({ destinationId: 'echo-1', limit: 100 });

    expect(first).toEqual({ replayed: 1, alreadyDelivered: 0 });
    expect(second).toEqual({ replayed: 0, alreadyDelivered: 0 });
    await waitFor(delivered, (n) => n === 2, 'the replayed item delivered');
    expect(received.filter((id) => id === 'BAD')).toHaveLength(2); // refused once, then delivered once
  });

  it('skips, on replay, an item the delivery log shows delivered since (idempotent)', async () => {
    const [log] = await store.query<{ item_key: string }>(
      `SELECT item_key FROM delivery_log WHERE customer_id = 'GOOD'`,
    );
    const itemKey = log?.item_key ?? '';
    await worker.deadLetters.add([
      {
        brand: 'sd',
        destinationId: 'echo-1',
        operation: 'upsertProfiles',
        itemKey,
        item: {
          operation: {
            operation: 'upsertProfiles',
            item: { customerId: 'GOOD', version: 1, attributes: {} },
          },
          itemKey,
          receivedAt: new Date().toISOString(),
          attempts: 0,
        },
        errorClass: 'retryable',
        error: 'a late failure report',
        attempts: 3,
      },
    ]);
    const before = received.length;

    expect(await worker.replayDeadLetters({ destinationId: 'echo-1', limit: 100 })).toEqual({
      replayed: 0,
      alreadyDelivered: 1,
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(received.length).toBe(before);
  });

  it('rehydrates a profile’s stored events through routing and delivery again', async () => {
    const before = received.filter((id) => id === 'GOOD').length;
    const progress: unknown[] = [];
    expect(await worker.rehydrate({ customerId: 'GOOD' }, { onProgress: (p) => progress.push(p) })).toEqual({
      events: 1,
    });
    expect(progress).toEqual([{ read: 1, queued: 1 }]);
    await waitFor(
      () => received.filter((id) => id === 'GOOD').length,
      (n) => n === before + 1,
      'GOOD delivered again',
    );
    expect(await worker.rehydrate({ customerId: 'NOBODY' })).toEqual({ events: 0 });
  });
});
