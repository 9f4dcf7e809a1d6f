import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { AuditLog } from '@tessera/consent';
import { WorkspaceCatalog } from '@tessera/control-plane';
import { BrazeEmulator } from '@tessera/destination-braze';
import { AllowedDestinationHosts, EspSandbox } from '@tessera/destination-kit';
import { KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { DESTINATION_PACKAGES, pluginCatalog } from '@tessera/destination-registry';
import { newWebhookSecret } from '@tessera/runtime';
import { PostgresStore } from '@tessera/store';
import { deleteKeysWithPrefix, signedHeaders, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { createScratchDatabase, waitFor, writeSportsWorkspace } from '../support/pipeline-fixture';
import { startTessera, type TesseraProcess } from '../support/tessera-process';

// The console changes the stored workspace while the all-in-one process runs (here the test does, through a
// WorkspaceCatalog on the same PostgreSQL database): each change applies within a couple of seconds, no restart.

describe('the live workspace, end to end', () => {
  const original = newWebhookSecret();
  const masterKey = randomBytes(32);
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-live-'));
  const redis = new Redis(TEST_REDIS_URL);
  const klaviyo = new KlaviyoEmulator();
  const braze = new BrazeEmulator();
  const sandbox = new EspSandbox([klaviyo, braze], { limitsLifted: true });
  let database: { url: string; drop(): Promise<void> };
  let store: PostgresStore;
  let catalog: WorkspaceCatalog;
  let tessera: TesseraProcess;
  let root: string;

  beforeAll(async () => {
    database = await createScratchDatabase('live');
    root = await sandbox.listen();
    const workspaceFile = writeSportsWorkspace(dataDir, original, [
      // `full`: the members here have no consent record, and the mapped attributes are what this suite checks.
      { type: 'klaviyo', settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo`, withoutGrant: 'full' } },
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
    catalog = new WorkspaceCatalog({
      store,
      masterKeys: [masterKey],
      audit: new AuditLog(store),
      destinationTypes: DESTINATION_PACKAGES.map((entry) => entry.definition),
      selectedTypes: DESTINATION_PACKAGES.map((entry) => entry.definition.type),
      plugins: pluginCatalog(),
      // As the process under test allows it (startTessera): the sandbox on loopback stands in for the ESPs.
      allowedHosts: new AllowedDestinationHosts(['127.0.0.1']),
    });
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

  let sequence = 0;
  /** Posts one points event for a fresh customer, signed with `secret`; the status and the customer id. */
  async function send(secret: string): Promise<{ status: number; customerId: string }> {
    sequence += 1;
    const customerId = `C-live-${sequence}`;
    const body = JSON.stringify([
      {
        specversion: '1.0',
        id: `live-${sequence}`,
        source: 'https://loyalty.example.com',
        type: 'points.updated',
        time: new Date().toISOString(),
        data: { customer_id: customerId, delta: 5, new_balance: 500 + sequence, reason: 'purchase' },
      },
    ]);
    const response = await fetch(`${tessera.baseUrl}/v1/sources/sd-loyalty/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json', ...signedHeaders(secret, body) },
      body,
    });
    return { status: response.status, customerId };
  }

  it('a rotated secret is accepted, and once the old one is revoked it is refused (401)', async () => {
    const [before] = (await catalog.source('sd-loyalty'))?.secrets ?? [];
    const { secret: rotated } = await catalog.rotateSecret('sd-loyalty', 1, 'e2e');

    const started = Date.now();
    await waitFor(
      async () => (await send(rotated)).status,
      (status) => status === 202,
      'the rotated secret accepted',
      5_000,
    );
    // The intake polls every second: a loaded machine is given some slack.
    expect(Date.now() - started).toBeLessThan(4_000);
    expect((await send(original)).status).toBe(202); // its grace hour is not over

    await catalog.revokeSecret('sd-loyalty', before?.id ?? 'missing', 'e2e');
    await waitFor(
      async () => (await send(original)).status,
      (status) => status === 401,
      'the revoked secret refused',
      5_000,
    );
    expect((await send(rotated)).status).toBe(202);
    expect(tessera.child.exitCode).toBeNull(); // the same process all along
  }, 30_000);

  it('a rotation whose grace ends is followed without any write: the old secret is then refused', async () => {
    const live = (await catalog.liveSecrets()).get('sd-loyalty') ?? [];
    expect(live).toHaveLength(1);
    const [current] = live;
    // Two seconds of grace: the store's fingerprint does not move when they are over, the intake must notice.
    const { secret: next } = await catalog.rotateSecret('sd-loyalty', 2 / 3_600, 'e2e');
    await waitFor(
      async () => (await send(next)).status,
      (status) => status === 202,
      'the new secret live',
    );
    await waitFor(
      async () => (await send(current ?? 'missing')).status,
      (status) => status === 401,
      'the previous secret refused once its grace is over',
      8_000,
    );
  }, 30_000);

  it('saved rules map the next events, and a destination created meanwhile receives them', async () => {
    const { secret } = await catalog.rotateSecret('sd-loyalty', 0, 'e2e');
    await waitFor(
      async () => (await send(secret)).status,
      (status) => status === 202,
      'the secret live',
    );

    const rules = { mappings: { lifetime_points: 'profile.?points_balance.orValue(0)' } };
    // Braze first: by the reload that shows Klaviyo's new rules, Braze and its rules are in the store too.
    await catalog.createDestination(
      {
        id: 'sd-braze',
        brand: 'sd',
        type: 'braze',
        settings: { apiKey: 'braze-e2e', baseUrl: `${root}/braze`, withoutGrant: 'full' },
      },
      'e2e',
    );
    await catalog.saveRules('sd-braze', rules, 'e2e');
    await catalog.saveRules('sd-klaviyo', rules, 'e2e');

    // Each try is a fresh customer: the first one the worker routes after its reload shows the new mapping.
    const mapped = await waitFor(
      async () => {
        const { customerId } = await send(secret);
        await waitFor(
          () => klaviyo.findProfile({ externalId: customerId }),
          (profile) => profile !== undefined,
          `${customerId} at Klaviyo`,
        );
        return {
          customerId,
          properties: klaviyo.findProfile({ externalId: customerId })?.attributes.properties,
        };
      },
      ({ properties }) => properties !== undefined && 'lifetime_points' in properties,
      'an event mapped by the saved rules',
      10_000,
    );
    expect(mapped.properties).not.toHaveProperty('points');
    await waitFor(
      () => braze.user(mapped.customerId),
      (user) => user !== undefined,
      'the same customer at the new Braze destination',
    );
    expect(braze.user(mapped.customerId)?.attributes).toHaveProperty('lifetime_points');
  }, 40_000);
});
