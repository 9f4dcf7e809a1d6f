import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { BrazeEmulator } from '@tessera/destination-braze';
import { EspSandbox } from '@tessera/destination-kit';
import { KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { DsrService } from '@tessera/consent';
import { IdentityGraph } from '@tessera/identity-graph';
import { DestinationStateBook } from '@tessera/pipeline';
import { JobQueue } from '@tessera/queues';
import { newWebhookSecret } from '@tessera/runtime';
import { PiiVault, PostgresStore } from '@tessera/store';
import { deleteKeysWithPrefix, signedHeaders, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { createScratchDatabase, waitFor, writeSportsWorkspace } from '../support/pipeline-fixture';
import { startTessera, type TesseraProcess } from '../support/tessera-process';

// Destination states and failures of one ESP, on the all-in-one process backed by a PostgreSQL database the
// test shares (so it can flip a state the way the console will), with the ESPs emulated in this process.

describe('pipeline resilience', () => {
  const secret = newWebhookSecret();
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-resilience-'));
  let database: { url: string; drop(): Promise<void> };
  const redis = new Redis(TEST_REDIS_URL);
  const klaviyo = new KlaviyoEmulator();
  const braze = new BrazeEmulator();
  const sandbox = new EspSandbox([klaviyo, braze], { limitsLifted: true });
  let store: PostgresStore;
  let tessera: TesseraProcess;
  let sequence = 0;
  const masterKey = randomBytes(32);

  beforeAll(async () => {
    database = await createScratchDatabase('resilience');
    const root = await sandbox.listen();
    const workspaceFile = writeSportsWorkspace(dataDir, secret, [
      { type: 'klaviyo', settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo` } },
      { type: 'braze', settings: { apiKey: 'braze-e2e', baseUrl: `${root}/braze` } },
    ]);
    tessera = await startTessera({
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      TESSERA_WORKSPACE_FILE: workspaceFile,
      TESSERA_MASTER_KEY: masterKey.toString('base64'),
      TESSERA_DEMO: 'off',
    });
    store = new PostgresStore(database.url, { maxConnections: 2 });
  }, 60_000);

  afterAll(async () => {
    await tessera?.stop();
    await store?.close();
    await sandbox.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Posts one points update per customer id; resolves with the ids. */
  async function send(customerIds: string[]): Promise<string[]> {
    const events = customerIds.map((customerId) => ({
      specversion: '1.0',
      id: `e-${++sequence}`,
      source: 'https://loyalty.example.com',
      type: 'points.updated',
      time: new Date().toISOString(),
      data: {
        customer_id: customerId,
        email: `${customerId.toLowerCase()}@example.com`,
        delta: 1,
        new_balance: sequence,
        reason: 'purchase',
      },
    }));
    const body = JSON.stringify(events);
    const response = await fetch(`${tessera.baseUrl}/v1/sources/sd-loyalty/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json', ...signedHeaders(secret, body) },
      body,
    });
    expect(response.status).toBe(202);
    return customerIds;
  }

  const atKlaviyo = (id: string) => klaviyo.findProfile({ externalId: id }) !== undefined;
  const atBraze = (id: string) => braze.user(id) !== undefined;
  const states = () => new DestinationStateBook(store);

  it('a toggle applies within 5 seconds without a restart: disabled drops, paused holds, enabled delivers', async () => {
    await send(['T1']);
    await waitFor(() => atKlaviyo('T1') && atBraze('T1'), Boolean, 'T1 at both ESPs');

    await states().setState('sd-braze', 'disabled', { actor: 'admin:e2e', reason: 'campaign freeze' });
    const disabledAt = Date.now();
    // The change reaches every process within the refresh interval; send after 5 s at the latest.
    await new Promise((resolve) => setTimeout(resolve, 5_000 - (Date.now() - disabledAt)));
    await send(['T2']);
    await waitFor(() => atKlaviyo('T2'), Boolean, 'T2 at Klaviyo');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(atBraze('T2')).toBe(false);

    await states().setState('sd-braze', 'paused', { actor: 'admin:e2e', reason: 'maintenance' });
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    await send(['T3']);
    await waitFor(() => atKlaviyo('T3'), Boolean, 'T3 at Klaviyo');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(atBraze('T3')).toBe(false);

    await states().setState('sd-braze', 'enabled', { actor: 'admin:e2e', reason: 'done' });
    // The paused event was waiting on the queue: it arrives once resumed; the disabled one never does.
    await waitFor(() => atBraze('T3'), Boolean, 'T3 at Braze after the resume', 8_000);
    expect(atBraze('T2')).toBe(false);
  }, 60_000);

  it('a 5xx storm at one ESP leaves the other’s deliveries unaffected, and its own items arrive once it recovers', async () => {
    // Every Braze request fails until the storm is cleared.
    sandbox.injectFault('braze', { kind: 'server-error', status: 503, times: 100_000 });
    const ids = await send(['S1', 'S2', 'S3']);
    const started = Date.now();
    await waitFor(() => ids.every(atKlaviyo), Boolean, 'the batch at Klaviyo', 15_000);
    const klaviyoMs = Date.now() - started;
    // Klaviyo gets the batch while every Braze call still fails (the fault is still armed).
    expect(klaviyoMs).toBeLessThan(15_000);
    expect(ids.some(atBraze)).toBe(false);

    sandbox.clearFaults('braze');
    // The first retry comes 5–10 s after the failure (backoff from 10 s with jitter).
    await waitFor(() => ids.every(atBraze), Boolean, 'the batch at Braze after the storm', 25_000);
    // The delivery log is written once the flush that carried them has settled, a moment after Braze answered.
    const log = await waitFor(
      () =>
        store.query<{ status: string; n: number }>(
          `SELECT status, count(*)::int AS n FROM delivery_log WHERE destination_id = 'sd-braze' AND customer_id = ANY($1) GROUP BY status`,
          [ids],
        ),
      (rows) => rows.reduce((sum, row) => sum + row.n, 0) >= 3,
      'the three items settled in the delivery log',
      10_000,
    );
    expect(log).toEqual([{ status: 'delivered', n: 3 }]);
  }, 60_000);

  it('a held source: its events are accepted and wait, and flow once it is released', async () => {
    await states().setSourceHold('sd-loyalty', true, { actor: 'admin:e2e', reason: 'mass remediation' });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await send(['H1']);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(atKlaviyo('H1')).toBe(false);
    const waiting = await store.query<{ routed: boolean }>(
      `SELECT routed_at IS NOT NULL AS routed FROM raw_events WHERE event_id = $1`,
      [`e-${sequence}`],
    );
    expect(waiting).toEqual([]);

    await states().setSourceHold('sd-loyalty', false, { actor: 'admin:e2e', reason: 'done' });
    await waitFor(() => atKlaviyo('H1') && atBraze('H1'), Boolean, 'H1 after the release', 15_000);
  }, 40_000);

  it('a DSR erasure reaches every destination, and its request records each one', async () => {
    await send(['D1']);
    await waitFor(() => atKlaviyo('D1') && atBraze('D1'), Boolean, 'D1 at both ESPs');
    const syncRows = () =>
      store.query<{ destination_id: string }>(
        `SELECT destination_id FROM destination_sync_state WHERE customer_id = 'D1'`,
      );
    const synced = await waitFor(syncRows, (rows) => rows.length === 2, 'what both ESPs accepted of D1');
    expect(synced.map((row) => row.destination_id).sort()).toEqual(['sd-braze', 'sd-klaviyo']);
    const vault = new PiiVault([masterKey]);
    const graph = new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] });
    const dsr = new DsrService({ store, graph, exportDir: dataDir });
    const request = await dsr.open({
      type: 'erasure',
      identities: { email: 'd1@example.com' },
      requestedBy: 'admin:e2e',
      brand: 'sd',
    });
    const queue = new JobQueue('dsr', redis, prefix);
    await queue.add('dsr.erasure', { requestId: request.id }, `dsr-erasure-${request.id}`);
    await queue.close();

    await waitFor(
      () => atBraze('D1'),
      (present) => !present,
      'D1 deleted at Braze',
    );
    await waitFor(
      () => klaviyo.state().deletions.length,
      (count) => count >= 1,
      'a deletion job at Klaviyo',
    );
    const results = await waitFor(
      () => dsr.requests.destinationResults(request.id),
      (rows) => rows.length === 2,
      'both destinations recorded',
    );
    expect(results.map((row) => [row.destinationId, row.status])).toEqual([
      ['sd-braze', 'ok'],
      ['sd-klaviyo', 'ok'],
    ]);
    // Nothing of the person is left in the sync state (their ESP ids, their attributes' hashes).
    const left = await store.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM destination_sync_state WHERE customer_id = ANY($1::text[])`,
      [request.customerIds],
    );
    expect(left[0]?.n).toBe(0);
  }, 60_000);

  it('the daily retention run deletes raw events and delivery log entries past their window, and nothing newer', async () => {
    const old = new Date(Date.now() - 120 * 86_400_000);
    await store.query(
      `INSERT INTO raw_events (source_id, event_source, event_id, brand, type, received_at, payload_ciphertext, payload_key_id)
       VALUES ('sd-loyalty', 'https://old.example.com', 'old-1', 'sd', 'points.updated', $1, 'x', 'k')`,
      [old],
    );
    await store.query(
      `INSERT INTO delivery_log (brand, destination_id, operation, item_key, status, attempts, at)
       VALUES ('sd', 'sd-braze', 'upsertProfiles', 'old-item', 'delivered', 1, $1)`,
      [old],
    );
    const count = async (sql: string) => (await store.query<{ n: number }>(sql))[0]?.n ?? -1;
    const recentEvents = await count(`SELECT count(*)::int AS n FROM raw_events WHERE event_id <> 'old-1'`);
    expect(recentEvents).toBeGreaterThan(0);

    const queue = new JobQueue('maintenance', redis, prefix);
    await queue.add('maintenance.retention', {}, `retention-now-${Date.now()}`);
    await queue.close();

    await waitFor(
      () => count(`SELECT count(*)::int AS n FROM raw_events WHERE event_id = 'old-1'`),
      (n) => n === 0,
      'the old raw event purged',
    );
    await waitFor(
      () => count(`SELECT count(*)::int AS n FROM delivery_log WHERE item_key = 'old-item'`),
      (n) => n === 0,
      'the old log entry purged',
    );
    expect(await count(`SELECT count(*)::int AS n FROM raw_events WHERE event_id <> 'old-1'`)).toBe(
      recentEvents,
    );
  }, 30_000);
});
