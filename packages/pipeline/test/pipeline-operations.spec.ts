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
import { defineDestination } from '@tessera/destination-kit';
import { IdentityGraph } from '@tessera/identity-graph';
import { deliverQueueName, JobQueue } from '@tessera/queues';
import { openScratchStore, PiiVault, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import {
  OperationRefusedError,
  PipelineMetrics,
  PipelineOperations,
  PipelineWorker,
  UnknownReferenceError,
  type DeadLetterInput,
  type PipelineDestination,
} from '../src';

const echo = defineDestination<{ baseUrl: string; apiKey: string }>({
  type: 'echo',
  name: 'Echo',
  hosts: ['echo.invalid'],
  settingsSchema: {
    type: 'object',
    properties: { baseUrl: { type: 'string', default: 'https://echo.invalid' }, apiKey: { type: 'string' } },
    required: ['apiKey'],
  },
  requestHeaders: (settings): Record<string, string> => ({ 'x-api-key': settings.apiKey }),
  testConnection: async () => undefined,
  operations: {
    upsertProfiles: { batchSize: 10, perform: async (items) => items.map(() => ({ status: 'ok' as const })) },
  },
});

function letter(itemKey: string, destinationId = 'echo-1'): DeadLetterInput {
  return {
    brand: 'sd',
    destinationId,
    operation: 'upsertProfiles',
    itemKey,
    item: {
      operation: { operation: 'upsertProfiles', item: { customerId: itemKey, version: 1, attributes: {} } },
      itemKey,
      receivedAt: new Date().toISOString(),
      attempts: 0,
    },
    errorClass: 'rejected',
    error: `refused ${itemKey}`,
    attempts: 1,
  };
}

// The operations on a worker that is built but not started, as `npm run ops` uses it: real PostgreSQL and
// Redis; replayed items are read back from the destination's BullMQ queue.
describe('PipelineOperations', () => {
  const prefix = uniqueRedisPrefix();
  let store: Store;
  let redis: Redis;
  let worker: PipelineWorker;
  let operations: PipelineOperations;
  let audit: AuditLog;

  beforeAll(async () => {
    store = await openScratchStore('postgres');
    redis = new Redis(TEST_REDIS_URL);
    const masterKey = randomBytes(32);
    const vault = new PiiVault([masterKey]);
    audit = new AuditLog(store);
    worker = new PipelineWorker({
      redis,
      redisUrl: TEST_REDIS_URL,
      prefix,
      masterKeys: [masterKey],
      store,
      vault,
      graph: new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] }),
      ledger: new ConsentLedger(store),
      suppressions: new SuppressionList(store),
      gate: new ConsentGate({ reader: new StoreConsentStateReader(store), redis, prefix }),
      audit,
      brands: [{ id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' }],
      destinations: [
        {
          id: 'echo-1',
          brand: 'sd',
          type: 'echo',
          definition: echo as unknown as PipelineDestination['definition'],
          settings: { apiKey: 'k' },
          initialState: 'enabled',
          plugins: [],
        },
      ],
      metrics: new PipelineMetrics(new Registry()),
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      exportDir: tmpdir(),
      retention: DEFAULT_RETENTION_POLICY,
    });
    operations = new PipelineOperations({
      worker,
      store,
      audit,
      brands: [{ id: 'sd' }],
      sources: [{ id: 'sd-loyalty', brand: 'sd' }],
      actor: 'ops-cli:test',
    });
  });

  afterAll(async () => {
    await worker.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await store.close();
  });

  it('replays only at destinations this deployment runs, leaving another’s letters waiting', async () => {
    await worker.deadLetters.add([letter('a'), letter('b'), letter('x', 'gone-esp')]);
    const report = await operations.replayDeadLetters({ all: true });
    expect(report).toEqual({
      replayed: 2,
      alreadyDelivered: 0,
      notSent: { erased: 0, suppressed: 0 },
      notWaiting: [],
      skipped: [{ destinationId: 'gone-esp', letters: 1 }],
    });
    // Both items wait in the destination's delivery window, one flush job scheduled for them.
    expect((await worker.deliveryWindow.size('echo-1')).waiting).toBe(2);
    const queue = new JobQueue('deliver', redis, prefix, deliverQueueName('echo-1'));
    try {
      expect(await queue.queue.getJobCountByTypes('waiting', 'delayed')).toBe(1);
    } finally {
      await queue.close();
    }
    expect(await worker.deadLetters.count({ destinationId: 'gone-esp' })).toBe(1);
    const [entry] = await audit.query({ action: 'dead_letters.replayed' });
    expect(entry).toMatchObject({ actor: 'ops-cli:test', detail: { replayed: 2, selection: { all: true } } });
  });

  it('leaves waiting a letter asked for by id whose destination this deployment does not run', async () => {
    const [gone] = await worker.deadLetters.list({ destinationId: 'gone-esp', limit: 10 });
    const [local] = await worker.deadLetters.add([letter('c')]);

    const report = await operations.replayDeadLetters({ ids: [gone?.id ?? 0, local ?? 0] });

    expect(report).toEqual({
      replayed: 1,
      alreadyDelivered: 0,
      notSent: { erased: 0, suppressed: 0 },
      notWaiting: [],
      skipped: [{ destinationId: 'gone-esp', letters: 1 }],
    });
    expect(await worker.deadLetters.get(gone?.id ?? 0)).toMatchObject({ replayCount: 0 });
    expect(await worker.deadLetters.count({ destinationId: 'echo-1' })).toBe(0);
  });

  it('refuses an unknown letter, destination, brand or source before writing anything', async () => {
    const before = await worker.states.fingerprint();
    await expect(operations.replayDeadLetters({ ids: [999_999] })).rejects.toThrow(
      new UnknownReferenceError('no dead letter 999999'),
    );
    await expect(operations.listDeadLetters({ brand: 'nope' }, 10)).rejects.toThrow(
      'unknown brand "nope" (known: sd)',
    );
    await expect(operations.changeDestinationState('nope', 'pause')).rejects.toThrow(
      'unknown destination "nope" (known: echo-1)',
    );
    await expect(operations.holdSource('nope', true)).rejects.toThrow(
      'unknown source "nope" (known: sd-loyalty)',
    );
    expect(await worker.states.fingerprint()).toBe(before);
  });

  it('changes a state once, audited with it; resuming a disabled destination is refused', async () => {
    const paused = await operations.changeDestinationState('echo-1', 'pause', 'maintenance');
    expect(paused).toMatchObject({
      changed: true,
      destination: { state: 'paused', reason: 'maintenance', changedBy: 'ops-cli:test' },
    });
    expect((await operations.changeDestinationState('echo-1', 'pause')).changed).toBe(false);
    await operations.changeDestinationState('echo-1', 'disable');
    await expect(operations.changeDestinationState('echo-1', 'resume')).rejects.toThrow(
      new OperationRefusedError(
        'destination "echo-1" is disabled, not paused: `destinations enable echo-1` enables it',
      ),
    );
    await operations.changeDestinationState('echo-1', 'enable');
    const entries = await audit.query({ limit: 10 });
    expect(
      entries
        .filter((entry) => entry.action.startsWith('destination.'))
        .map((entry) => [entry.action, entry.detail['from']])
        .reverse(),
    ).toEqual([
      ['destination.paused', 'enabled'],
      ['destination.disabled', 'paused'],
      ['destination.enabled', 'disabled'],
    ]);
  });

  it('holds and releases a source, and lists it with its hold', async () => {
    expect(await operations.holdSource('sd-loyalty', true, 'remediation')).toMatchObject({
      changed: true,
      source: { id: 'sd-loyalty', held: true, reason: 'remediation', changedBy: 'ops-cli:test' },
    });
    expect(await operations.listSources()).toMatchObject([{ id: 'sd-loyalty', brand: 'sd', held: true }]);
    expect((await operations.holdSource('sd-loyalty', false)).source.held).toBe(false);
  });
});
