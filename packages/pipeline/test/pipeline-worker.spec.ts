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
  AllowedDestinationHosts,
  defineDestination,
  EspSandbox,
  CaptureEmulator,
  type ProfileMerge,
  type SandboxRequest,
  type SandboxResponse,
} from '@tessera/destination-kit';
import type { CatalogEvent } from '@tessera/events';
import { IdentityGraph } from '@tessera/identity-graph';
import { JobQueue, QUEUE_PAYLOAD_KEY_PURPOSE, type DeliveryItem, type IngestedEvent } from '@tessera/queues';
import { openScratchStore, PiiVault, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix, waitFor } from '@tessera/testing';
import { compileRules } from '@tessera/transform';
import { PipelineMetrics, PipelineWorker, type PipelineDestination } from '../src';
import { echoDestination } from './support/echo-destination';

/** Profiles to /profiles; the capture server refuses the customers it is told to. */
const echo = echoDestination(100);

/** The echo destination that also merges profiles, by posting them to /merges. */
const merger = defineDestination<{ baseUrl: string; apiKey: string }>({
  ...echo,
  type: 'merger',
  name: 'Merger',
  operations: {
    ...echo.operations,
    mergeProfiles: {
      batchSize: 10,
      perform: async (items, { http }) => {
        await http.post('/merges', items);
        return items.map(() => ({ status: 'ok' }));
      },
    },
  },
});

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
  let graph: IdentityGraph;
  let merges: ProfileMerge[];
  let sequence = 0;

  beforeAll(async () => {
    store = await openScratchStore('postgres');
    redis = new Redis(TEST_REDIS_URL);
    refused = new Set(['BAD']);
    received = [];
    merges = [];
    const capture = new CaptureEmulator((request: SandboxRequest): SandboxResponse => {
      if (request.path.endsWith('/merges')) {
        merges.push(...(JSON.parse(request.rawBody.toString('utf8')) as ProfileMerge[]));
        return { status: 200, body: {} };
      }
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
    graph = new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] });
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
        {
          // Another brand's: nothing the tests ingest is routed to it.
          id: 'merge-1',
          brand: 'fl',
          type: 'merger',
          definition: merger as unknown as PipelineDestination['definition'],
          // Merges go at once (the kit's cooling-off is 24 h by default).
          settings: { apiKey: 'k', baseUrl: `${root}/capture`, mergeCoolingOffMinutes: 0 },
          initialState: 'enabled',
          plugins: [],
        },
      ],
      metrics: new PipelineMetrics(new Registry()),
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      exportDir: tmpdir(),
      retention: DEFAULT_RETENTION_POLICY,
      // The capture server on loopback stands in for the ESP.
      allowedDestinationHosts: AllowedDestinationHosts.none.with(root),
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
    // The job writes its dead letters, then its delivery log entries: the good item's may follow a moment later.
    expect(await waitFor(delivered, (n) => n >= 1, 'the good item delivered')).toBe(1);

    refused.clear(); // the mapping or the ESP was fixed
    const first = await worker.replayDeadLetters({ destinationId: 'echo-1', limit: 100 });
    const second = await worker.replayDeadLetters({ destinationId: 'echo-1', limit: 100 });

    expect(first).toEqual({
      replayed: 1,
      alreadyDelivered: 0,
      notSent: { erased: 0, suppressed: 0 },
      notRunHere: [],
    });
    expect(second).toEqual({
      replayed: 0,
      alreadyDelivered: 0,
      notSent: { erased: 0, suppressed: 0 },
      notRunHere: [],
    });
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
      notSent: { erased: 0, suppressed: 0 },
      notRunHere: [],
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

  it('never replays to a person erased since, nor to a suppressed contact point: the ESP receives nothing', async () => {
    refused.add('ERASED1').add('SUPP1');
    const events: IngestedEvent[] = ['ERASED1', 'SUPP1'].map((customerId) => ({
      sourceId: 'loyalty',
      brand: 'sd',
      receivedAt: new Date().toISOString(),
      event: {
        specversion: '1.0',
        id: `gone-${customerId}`,
        source: 'https://loyalty.example.com',
        type: 'points.updated',
        time: new Date().toISOString(),
        data: {
          customer_id: customerId,
          email: `${customerId.toLowerCase()}@example.com`,
          delta: 1,
          new_balance: 10,
          reason: 'purchase',
        },
      } as unknown as CatalogEvent,
    }));
    const queue = new JobQueue('resolve', redis, prefix);
    await queue.add(
      'resolve.events',
      { count: 2, events: new KeyRing([masterKey], QUEUE_PAYLOAD_KEY_PURPOSE).sealJson(events, 'test-gone') },
      'test-gone',
    );
    await queue.close();
    const lettersOf = async (customerId: string) =>
      (await worker.deadLetters.list({ destinationId: 'echo-1', includeReplayed: true, limit: 100 })).filter(
        (letter) => letter.customerId === customerId,
      );
    await waitFor(
      async () => (await lettersOf('ERASED1')).length + (await lettersOf('SUPP1')).length,
      (n) => n === 2,
      'both refused',
    );
    // ERASED1 is erased while its letter waits (a flush settled it after the erasure's sweep, say); SUPP1's email
    // is suppressed for every brand.
    await worker.rawLog.tombstoneCustomers(['ERASED1']);
    await graph.eraseProfile('ERASED1', { actor: 'admin:dpo', reason: 'test' });
    // As the worker's suppression list does, every gate is told (a cached verdict would let a rehydration through).
    await new SuppressionList(store, { onChange: (keys, brand) => gate.invalidate(keys, brand) }).suppress([
      {
        subjectType: 'email',
        subjectKey: graph.keys.lookupKey({ type: 'email', value: 'supp1@example.com' }),
        brand: '*',
        reason: 'complaint',
      },
    ]);
    refused.clear();
    const before = received.length;

    expect(await worker.replayDeadLetters({ destinationId: 'echo-1', limit: 100 })).toEqual({
      replayed: 0,
      alreadyDelivered: 0,
      notSent: { erased: 1, suppressed: 1 },
      notRunHere: [],
    });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(received.slice(before)).toEqual([]);
    expect(await worker.deliveryWindow.size('echo-1')).toMatchObject({ waiting: 0 });
    // The erased person's letter is gone; the suppressed one is closed, with why, in the letter and the log.
    expect(await lettersOf('ERASED1')).toEqual([]);
    expect(await lettersOf('SUPP1')).toEqual([
      expect.objectContaining({
        discardedBy: 'system:replay',
        discardReason: 'not replayed: the contact point is suppressed (suppression and deletion calls only)',
      }),
    ]);
    const [dropped] = await store.query<{ status: string; detail: string }>(
      `SELECT status, detail FROM delivery_log WHERE customer_id = 'SUPP1' ORDER BY id DESC LIMIT 1`,
    );
    expect(dropped).toEqual({
      status: 'dropped',
      detail: 'not replayed: the contact point is suppressed (suppression and deletion calls only)',
    });
    // Rehydration goes through routing, whose profile read and consent gate drop both: still nothing sent.
    await worker.rehydrate({ customerId: 'ERASED1' });
    await worker.rehydrate({ customerId: 'SUPP1' });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(received.slice(before)).toEqual([]);
    // Nothing is taken twice: a second replay finds nothing waiting.
    expect(await worker.replayDeadLetters({ destinationId: 'echo-1', limit: 100 })).toMatchObject({
      replayed: 0,
      notSent: { erased: 0, suppressed: 0 },
    });
  });

  it('leaves waiting, and reports, the letters of a destination this process does not run', async () => {
    const upsertLetter = (destinationId: string, customerId: string) => ({
      brand: 'sd',
      destinationId,
      operation: 'upsertProfiles',
      itemKey: `late-${customerId}`,
      item: {
        operation: { operation: 'upsertProfiles', item: { customerId, version: 1, attributes: {} } },
        itemKey: `late-${customerId}`,
        receivedAt: new Date().toISOString(),
        attempts: 0,
      },
      errorClass: 'rejected' as const,
      error: `refused ${customerId}`,
      attempts: 1,
    });
    await worker.deadLetters.add([upsertLetter('echo-1', 'LATE'), upsertLetter('elsewhere-esp', 'AWAY')]);

    expect(await worker.replayDeadLetters({ destinationId: 'elsewhere-esp', limit: 100 })).toEqual({
      replayed: 0,
      alreadyDelivered: 0,
      notSent: { erased: 0, suppressed: 0 },
      notRunHere: [{ destinationId: 'elsewhere-esp', letters: 1 }],
    });
    expect(await worker.replayDeadLetters({ limit: 100 })).toEqual({
      replayed: 1,
      alreadyDelivered: 0,
      notSent: { erased: 0, suppressed: 0 },
      notRunHere: [{ destinationId: 'elsewhere-esp', letters: 1 }],
    });

    const [away] = await worker.deadLetters.list({ destinationId: 'elsewhere-esp', limit: 10 });
    expect(away).toMatchObject({ itemKey: 'late-AWAY', replayCount: 0 });
    expect(away?.replayedAt).toBeUndefined();
    await waitFor(
      () => received.filter((id) => id === 'LATE').length,
      (n) => n === 1,
      'the replayed letter of echo-1 delivered',
    );
  });

  it('drops, at delivery, a merge an operator reversed since it was routed, and sends the standing one', async () => {
    sequence += 1;
    const resolve = async (identifiers: Record<string, string>) =>
      (
        await graph.resolveIdentities([
          {
            brand: 'sd',
            eventTime: new Date(),
            eventSource: 'test',
            eventId: `merge-test-${sequence}-${JSON.stringify(identifiers)}`,
            identifiers,
          },
        ])
      ).records[0]?.customerId ?? '';
    const guest = await resolve({ anonymous_id: 'device-m1', email: 'm1@example.com' });
    // The ESP holds the guest (a merge goes only where the retired contact is held): its sync state says so.
    await worker.syncState.write('merge-1', new Map([[guest, { externalId: 'alias-m1' }]]));
    await resolve({ anonymous_id: 'device-m1', customer_id: 'M1' });
    const left = await resolve({ email: 'left@example.com' });
    const right = await resolve({ email: 'right@example.com' });
    const hand = await graph.merge({ customerIds: [left, right], actor: 'ops', reason: 'same person' });
    const [handMerge] = hand.merges;
    await graph.unmerge({ lineageId: handMerge?.lineageId ?? 0, actor: 'ops', reason: 'two people' });
    const mergeItem = (merge: ProfileMerge, itemKey: string): DeliveryItem => ({
      operation: { operation: 'mergeProfiles', item: merge },
      itemKey,
      customerId: merge.customerId,
      receivedAt: new Date().toISOString(),
      attempts: 3,
    });
    const standing: ProfileMerge = {
      customerId: 'M1',
      mergedCustomerId: guest,
      mergedWasGuest: true,
      basis: 'deterministic',
      mergedAt: new Date().toISOString(),
    };
    const reversed: ProfileMerge = {
      customerId: handMerge?.to ?? '',
      mergedCustomerId: handMerge?.from ?? '',
      mergedWasGuest: false,
      basis: 'human',
      mergedAt: new Date().toISOString(),
    };
    const items = [mergeItem(standing, 'merge-standing'), mergeItem(reversed, 'merge-reversed')];
    const jobId = 'test-merges';
    await worker.deliverQueue('merge-1')?.add(
      'deliver.items',
      {
        destinationId: 'merge-1',
        count: items.length,
        items: new KeyRing([masterKey], QUEUE_PAYLOAD_KEY_PURPOSE).sealJson(items, jobId),
      },
      jobId,
    );

    const rows = await waitFor(
      () =>
        store.query<{ item_key: string; status: string; detail: string | null }>(
          `SELECT item_key, status, detail FROM delivery_log WHERE destination_id = 'merge-1' ORDER BY item_key`,
        ),
      (found) => found.length === 2,
      'both merges settled',
    );
    expect(rows).toEqual([
      {
        item_key: 'merge-reversed',
        status: 'dropped',
        detail: `merge undone: ${reversed.mergedCustomerId} no longer belongs to ${reversed.customerId}`,
      },
      { item_key: 'merge-standing', status: 'delivered', detail: null },
    ]);
    expect(merges).toEqual([{ ...standing, mergedExternalId: 'alias-m1' }]);
    expect(await worker.deadLetters.count({ destinationId: 'merge-1' })).toBe(0);
  });
});
