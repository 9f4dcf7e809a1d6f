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
  CaptureEmulator,
  EspSandbox,
  type ProfileUpsert,
  type SandboxRequest,
} from '@tessera/destination-kit';
import type { CatalogEvent } from '@tessera/events';
import { IdentityGraph } from '@tessera/identity-graph';
import { JobQueue, QUEUE_PAYLOAD_KEY_PURPOSE, type IngestedEvent } from '@tessera/queues';
import { openScratchStore, PiiVault, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix, waitFor } from '@tessera/testing';
import { compileRules } from '@tessera/transform';
import { PipelineMetrics, PipelineWorker, type PipelineDestination, type PipelineWorkspace } from '../src';
import { echoDestination } from './support/echo-destination';

const echo = echoDestination(100) as unknown as PipelineDestination['definition'];

/** What the capture server saw: which destination (by its base path), with which key, which profiles. */
interface Capture {
  destination: string;
  apiKey: string | undefined;
  profiles: ProfileUpsert[];
}

/** The stored workspace as the test changes it: the worker polls its fingerprint and loads it when it moves. */
class WorkspaceShelf {
  private revision = 0;
  down = false;

  constructor(private workspace: PipelineWorkspace) {}

  change(workspace: PipelineWorkspace): void {
    this.workspace = workspace;
    this.revision += 1;
  }

  async fingerprint(): Promise<string> {
    if (this.down) throw new Error('connection refused');
    return String(this.revision);
  }

  async load(): Promise<PipelineWorkspace> {
    if (this.down) throw new Error('connection refused');
    return this.workspace;
  }
}

// The worker in-process on the real PostgreSQL and Redis, following a workspace the test changes while it runs.
describe('PipelineWorker: a reloaded workspace applies without a restart', () => {
  const masterKey = randomBytes(32);
  const prefix = uniqueRedisPrefix();
  const brands = [{ id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' }];
  let store: Store;
  let redis: Redis;
  let sandbox: EspSandbox;
  let root: string;
  let captures: Capture[];
  let warnings: string[];
  let worker: PipelineWorker;
  let gate: ConsentGate;
  let graph: IdentityGraph;
  let shelf: WorkspaceShelf;
  let echoOne: PipelineDestination;

  const destination = (id: string, overrides: Partial<PipelineDestination> = {}): PipelineDestination => ({
    id,
    brand: 'sd',
    type: 'echo',
    definition: echo,
    // `full`: these customers have no consent record, and the mapped attributes are what the suite checks.
    settings: { apiKey: `key-${id}`, baseUrl: `${root}/capture/${id}`, withoutGrant: 'full' },
    initialState: 'enabled',
    rules: compileRules({ mappings: { points: 'profile.?points_balance.orValue(0)' } }),
    plugins: [],
    ...overrides,
  });

  beforeAll(async () => {
    store = await openScratchStore('postgres');
    redis = new Redis(TEST_REDIS_URL);
    captures = [];
    warnings = [];
    const capture = new CaptureEmulator((request: SandboxRequest) => {
      const [, id] = /^\/([^/]+)\/profiles$/.exec(request.path) ?? [];
      captures.push({
        destination: id ?? request.path,
        apiKey: request.headers['x-api-key'],
        profiles: JSON.parse(request.rawBody.toString('utf8')) as ProfileUpsert[],
      });
      return { status: 200, body: {} };
    });
    sandbox = new EspSandbox([capture], { limitsLifted: true });
    root = await sandbox.listen();
    const vault = new PiiVault([masterKey]);
    graph = new IdentityGraph({ store, vault, brands });
    gate = new ConsentGate({ reader: new StoreConsentStateReader(store), redis, prefix });
    await gate.start();
    echoOne = destination('echo-1');
    shelf = new WorkspaceShelf({ brands, destinations: [echoOne], unresolved: [] });
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
      brands,
      destinations: [echoOne],
      workspace: { fingerprint: () => shelf.fingerprint(), load: () => shelf.load() },
      stateRefreshMs: 100,
      metrics: new PipelineMetrics(new Registry()),
      logger: {
        info: () => undefined,
        warn: (_detail, message) => warnings.push(message),
        error: () => undefined,
      },
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

  let sequence = 0;
  /** One points event for a fresh customer of `brand`; returns the customer id. */
  async function ingest(brand = 'sd'): Promise<string> {
    sequence += 1;
    const customerId = `C${sequence}`;
    const events: IngestedEvent[] = [
      {
        sourceId: 'loyalty',
        brand,
        receivedAt: new Date().toISOString(),
        event: {
          specversion: '1.0',
          id: `reload-${sequence}`,
          source: 'https://loyalty.example.com',
          type: 'points.updated',
          time: new Date().toISOString(),
          data: { customer_id: customerId, delta: 1, new_balance: 10 * sequence, reason: 'purchase' },
        } as unknown as CatalogEvent,
      },
    ];
    const jobId = `test-reload-${sequence}`;
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
    return customerId;
  }

  /** Where (and how) a customer's profile was sent, once every destination that will get it has. */
  const sentTo = (customerId: string) =>
    captures.filter((entry) => entry.profiles.some((profile) => profile.customerId === customerId));

  const settledLog = async (customerId: string) =>
    (
      await store.query<{ destination_id: string }>(
        `SELECT destination_id FROM delivery_log WHERE customer_id = $1 ORDER BY destination_id`,
        [customerId],
      )
    ).map((row) => row.destination_id);

  /** Waits until the worker has applied the shelf's current workspace (the next refresh after a change). */
  const applied = (check: () => boolean, what: string) =>
    waitFor(check, (done) => done, what, { timeoutMs: 5_000 });

  it('a new destination gets its queue, worker and state, and receives the next events', async () => {
    const echoTwo = destination('echo-2');
    shelf.change({ brands, destinations: [echoOne, echoTwo], unresolved: [] });
    await applied(() => worker.directory.get('echo-2') !== undefined, 'echo-2 adopted');
    expect(worker.deliverQueue('echo-2')).toBeDefined();
    expect((await worker.states.all()).map((row) => row.destinationId)).toContain('echo-2');

    const customer = await ingest();
    await waitFor(
      () => settledLog(customer),
      (ids) => ids.length === 2,
      'delivered to both',
    );
    expect(
      sentTo(customer)
        .map((entry) => entry.destination)
        .sort(),
    ).toEqual(['echo-1', 'echo-2']);
  });

  it('changed rules change what the next event sends', async () => {
    echoOne = destination('echo-1', {
      rules: compileRules({ mappings: { balance: 'profile.?points_balance.orValue(0)' } }),
    });
    shelf.change({ brands, destinations: [echoOne, destination('echo-2')], unresolved: [] });
    await applied(
      () =>
        worker.directory.destinationsOf('sd').find((entry) => entry.id === 'echo-1')?.rules === echoOne.rules,
      'the new rules in the route stage',
    );

    const customer = await ingest();
    await waitFor(
      () => settledLog(customer),
      (ids) => ids.length === 2,
      'delivered to both',
    );
    const [sent] = sentTo(customer).filter((entry) => entry.destination === 'echo-1');
    const profile = sent?.profiles.find((entry) => entry.customerId === customer);
    expect(profile?.attributes).toHaveProperty('balance');
    expect(profile?.attributes).not.toHaveProperty('points');
  });

  it('changed settings replace the runner: the next delivery carries the new API key', async () => {
    const before = worker.runnerOf('echo-1');
    echoOne = { ...echoOne, settings: { ...echoOne.settings, apiKey: 'rotated-key' } };
    shelf.change({ brands, destinations: [echoOne, destination('echo-2')], unresolved: [] });
    await applied(() => worker.runnerOf('echo-1') !== before, 'a new runner for echo-1');

    const customer = await ingest();
    await waitFor(
      () => settledLog(customer),
      (ids) => ids.length === 2,
      'delivered to both',
    );
    expect(sentTo(customer).find((entry) => entry.destination === 'echo-1')?.apiKey).toBe('rotated-key');
    // The other destination's settings did not change: its runner is the one it had.
    expect(sentTo(customer).find((entry) => entry.destination === 'echo-2')?.apiKey).toBe('key-echo-2');
  });

  it('a destination whose new config does not resolve keeps the one it runs with, and the worker says so', async () => {
    const runner = worker.runnerOf('echo-1');
    shelf.change({
      brands,
      destinations: [destination('echo-2')],
      unresolved: [{ id: 'echo-1', reason: 'invalid mappings: undeclared reference to "nope"' }],
    });
    await applied(
      () => warnings.some((message) => message.includes('echo-1: its stored config does not resolve')),
      'the warning naming echo-1',
    );
    expect(worker.directory.get('echo-1')).toBe(echoOne);
    expect(worker.runnerOf('echo-1')).toBe(runner);

    const customer = await ingest();
    await waitFor(
      () => settledLog(customer),
      (ids) => ids.length === 2,
      'delivered to both',
    );
    expect(sentTo(customer).find((entry) => entry.destination === 'echo-1')?.apiKey).toBe('rotated-key');
  });

  it('a removed destination is no longer routed to, and its deliver worker closes', async () => {
    shelf.change({ brands, destinations: [echoOne], unresolved: [] });
    await applied(() => worker.directory.get('echo-2') === undefined, 'echo-2 removed');
    await applied(() => worker.deliverQueue('echo-2') === undefined, 'echo-2 worker and queue closed');

    const customer = await ingest();
    await waitFor(
      () => settledLog(customer),
      (ids) => ids.length === 1,
      'delivered to echo-1',
    );
    expect(await settledLog(customer)).toEqual(['echo-1']);
    expect(sentTo(customer).map((entry) => entry.destination)).toEqual(['echo-1']);
  });

  it('new brands reach routing and the identity graph; a store outage keeps everything running', async () => {
    const withFlannels = [...brands, { id: 'fl', name: 'Flannels', defaultCountry: 'IE' }];
    shelf.change({
      brands: withFlannels,
      destinations: [echoOne, destination('fl-echo', { brand: 'fl' })],
      unresolved: [],
    });
    await applied(() => worker.directory.get('fl-echo') !== undefined, 'fl-echo adopted');
    expect(graph.defaultCountry('fl')).toBe('IE');
    const flannels = await ingest('fl');
    await waitFor(
      () => settledLog(flannels),
      (ids) => ids.length === 1,
      'delivered to fl-echo',
    );
    expect(await settledLog(flannels)).toEqual(['fl-echo']);

    shelf.down = true;
    await applied(
      () => warnings.some((message) => message.startsWith('could not reload the workspace')),
      'the outage reported',
    );
    const customer = await ingest();
    await waitFor(
      () => settledLog(customer),
      (ids) => ids.length === 1,
      'delivered during the outage',
    );
    shelf.down = false;
  });
});
