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
import {
  AllowedDestinationHosts,
  CaptureEmulator,
  defineDestination,
  EspSandbox,
  type ProfileMerge,
  type SandboxRequest,
} from '@tessera/destination-kit';
import { IdentityGraph } from '@tessera/identity-graph';
import { openScratchStore, PiiVault, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix, waitFor } from '@tessera/testing';
import { PipelineMetrics, PipelineWorker, type PipelineDestination } from '../src';

/** A Braze-like destination: it declares mergeProfiles and posts each batch of merges to /merges. */
const mergingEsp = defineDestination<{ baseUrl: string }>({
  type: 'braze',
  name: 'Merging ESP',
  hosts: ['merging.invalid'],
  settingsSchema: {
    type: 'object',
    properties: { baseUrl: { type: 'string', default: 'https://merging.invalid' } },
  },
  requestHeaders: (): Record<string, string> => ({}),
  testConnection: async () => undefined,
  operations: {
    upsertProfiles: { batchSize: 100, perform: async (items) => items.map(() => ({ status: 'ok' })) },
    mergeProfiles: {
      batchSize: 50,
      perform: async (items, { http }) => {
        await http.post('/merges', items);
        return items.map(() => ({ status: 'ok' }));
      },
    },
  },
});

// The scheduled work in a running worker on the real PostgreSQL and Redis: the job schedulers, and a merge
// in the identity graph reaching a destination as a mergeProfiles call with nothing but the scheduler.
describe('PipelineWorker: scheduled work', () => {
  const masterKey = randomBytes(32);
  const prefix = uniqueRedisPrefix();
  let store: Store;
  let redis: Redis;
  let sandbox: EspSandbox;
  let merges: ProfileMerge[];
  let worker: PipelineWorker;
  let gate: ConsentGate;
  let graph: IdentityGraph;

  beforeAll(async () => {
    store = await openScratchStore('postgres');
    redis = new Redis(TEST_REDIS_URL);
    merges = [];
    const capture = new CaptureEmulator((request: SandboxRequest) => {
      merges.push(...(JSON.parse(request.rawBody.toString('utf8')) as ProfileMerge[]));
      return { status: 200, body: {} };
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
          id: 'sd-braze',
          brand: 'sd',
          type: 'braze',
          definition: mergingEsp as unknown as PipelineDestination['definition'],
          // Merges go at once (the kit's cooling-off is 24 h by default).
          settings: { baseUrl: `${root}/capture`, mergeCoolingOffMinutes: 0 },
          initialState: 'enabled',
          plugins: [],
        },
      ],
      metrics: new PipelineMetrics(new Registry()),
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      exportDir: tmpdir(),
      retention: DEFAULT_RETENTION_POLICY,
      lineagePublishMs: 200,
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

  it('schedules the lineage publisher, the daily stagnation check, the hourly DSR due check and the minutely probable-match scan', async () => {
    const schedulers = await worker.maintenanceQueue.queue.getJobSchedulers();
    expect(
      schedulers.map((scheduler) => [scheduler.key, scheduler.name, Number(scheduler.every)]).sort(),
    ).toEqual([
      ['dsr-due-hourly', 'maintenance.dsr-due', 3_600_000],
      ['lineage-publish', 'maintenance.lineage', 200],
      ['matching-minutely', 'maintenance.matching', 60_000],
      ['retention-daily', 'maintenance.retention', 86_400_000],
      ['stagnation-daily', 'maintenance.stagnation', 86_400_000],
    ]);
  });

  it('takes a guest who became a member from the outbox to the destination’s merge call', async () => {
    const resolve = async (identifiers: Record<string, unknown>, second: number) =>
      (
        await graph.resolveIdentities([
          {
            brand: 'sd',
            eventTime: new Date(Date.UTC(2026, 2, 1, 0, 0, second)),
            identifiers,
          },
        ])
      ).records[0]?.customerId ?? '';
    const guest = await resolve({ anonymous_id: 'kiosk-1', email: 'kiosk@example.com' }, 1);
    // The ESP holds the guest (a merge goes only where the retired contact is held): its sync state says so.
    await worker.syncState.write('sd-braze', new Map([[guest, { externalId: 'alias-kiosk-1' }]]));
    await resolve({ anonymous_id: 'kiosk-1', customer_id: 'C100', source_ids: { sd: 'M100' } }, 2);

    await waitFor(
      () => merges.length,
      (n) => n >= 1,
      'the merge at the destination',
    );

    expect(merges).toEqual([
      {
        customerId: 'C100',
        mergedCustomerId: guest,
        mergedWasGuest: true,
        basis: 'deterministic',
        mergedAt: expect.any(String),
        mergedExternalId: 'alias-kiosk-1',
      },
    ]);
    const log = await waitFor(
      () =>
        store.query<{ operation: string; customer_id: string; event_source: string }>(
          `SELECT operation, customer_id, event_source FROM delivery_log WHERE status = 'delivered'`,
        ),
      (rows) => rows.length > 0,
      'the delivery logged',
    );
    expect(log).toEqual([
      { operation: 'mergeProfiles', customer_id: 'C100', event_source: 'tessera://identity-graph' },
    ]);
    // Published once: a later tick finds nothing left.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(merges).toHaveLength(1);
  });
});
