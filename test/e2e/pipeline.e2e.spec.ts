import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { BrazeEmulator } from '@tessera/destination-braze';
import { EspSandbox } from '@tessera/destination-kit';
import { KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { newWebhookSecret } from '@tessera/runtime';
import { deleteKeysWithPrefix, signedHeaders, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { waitFor } from '../support/pipeline-fixture';
import { startTessera, type TesseraProcess } from '../support/tessera-process';

// The whole flow in the all-in-one process: signed events in, through resolve, route and deliver, out to
// ESP emulators running in this test on loopback (so the test reads exactly what each ESP received).

describe('the pipeline, end to end', () => {
  const secret = newWebhookSecret();
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-pipeline-'));
  const redis = new Redis(TEST_REDIS_URL);
  const klaviyo = new KlaviyoEmulator({ lists: [{ id: 'LIST01', name: 'Gold' }] });
  const braze = new BrazeEmulator();
  const sandbox = new EspSandbox([klaviyo, braze], { limitsLifted: true });
  let tessera: TesseraProcess;

  beforeAll(async () => {
    const root = await sandbox.listen();
    const workspaceFile = join(dataDir, 'workspace.json');
    const rules = {
      mappings: {
        loyalty_tier: 'profile.?loyalty_tier.orValue("Member")',
        points: 'profile.?points_balance.orValue(0)',
      },
      segments: [{ segment: 'Gold', when: 'profile.?loyalty_tier.orValue("") == "Gold"' }],
    };
    writeFileSync(
      workspaceFile,
      JSON.stringify({
        brands: [
          { id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' },
          { id: 'fl', name: 'Flannels', defaultCountry: 'GB' },
        ],
        sources: [
          { id: 'sd-loyalty', brand: 'sd', secrets: [secret] },
          { id: 'fl-loyalty', brand: 'fl', secrets: [secret] },
        ],
        destinations: [
          {
            id: 'sd-klaviyo',
            brand: 'sd',
            type: 'klaviyo',
            settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo`, listIds: { Gold: 'LIST01' } },
            mappings: rules,
          },
          {
            id: 'sd-braze',
            brand: 'sd',
            type: 'braze',
            state: 'disabled',
            settings: { apiKey: 'braze-e2e', baseUrl: `${root}/braze` },
            mappings: rules,
          },
          {
            id: 'fl-braze',
            brand: 'fl',
            type: 'braze',
            settings: { apiKey: 'braze-e2e', baseUrl: `${root}/braze` },
            mappings: rules,
          },
        ],
      }),
    );
    tessera = await startTessera({
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_DATA_DIR: dataDir,
      TESSERA_WORKSPACE_FILE: workspaceFile,
      TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
      TESSERA_DEMO: 'off',
    });
  }, 60_000);

  afterAll(async () => {
    await tessera?.stop();
    await sandbox.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function send(source: string, events: object[]): Promise<void> {
    const body = JSON.stringify(events);
    const response = await fetch(`${tessera.baseUrl}/v1/sources/${source}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json', ...signedHeaders(secret, body) },
      body,
    });
    expect(response.status).toBe(202);
  }

  const event = (id: string, type: string, data: object) => ({
    specversion: '1.0',
    id,
    source: 'https://loyalty.example.com',
    type,
    time: '2026-11-24T09:00:00Z',
    data,
  });

  it('an event reaches exactly the enabled destinations of its brand, with what consent allows', async () => {
    await send('sd-loyalty', [
      event('c-1', 'consent.changed', {
        customer_id: 'C1',
        email: 'ada@example.com',
        brand: 'sd',
        channel: 'email',
        status: 'granted',
        legal_basis: 'consent',
        captured_at: '2026-11-24T08:00:00Z',
        notice_version: 'v3',
      }),
      event('t-1', 'tier.changed', { customer_id: 'C1', email: 'ada@example.com', tier: 'Gold' }),
      event('p-2', 'points.updated', {
        customer_id: 'C2',
        email: 'bob@example.com',
        delta: 10,
        new_balance: 110,
        reason: 'purchase',
      }),
    ]);
    await send('fl-loyalty', [
      event('p-3', 'points.updated', {
        customer_id: 'C3',
        email: 'cy@example.com',
        delta: 5,
        new_balance: 5,
        reason: 'purchase',
      }),
    ]);

    // Klaviyo (sd): both sd members; Ada is Gold and consented, so she is in the Gold list; Bob is not.
    await waitFor(
      () =>
        klaviyo
          .state()
          .profiles.map((profile) => profile.attributes.external_id)
          .sort(),
      (ids) => ids.length === 2,
      'two profiles at Klaviyo',
    );
    const ada = klaviyo.findProfile({ externalId: 'C1' });
    expect(ada?.attributes).toMatchObject({ email: 'ada@example.com', properties: { loyalty_tier: 'Gold' } });
    await waitFor(
      () => klaviyo.state().lists.find((list) => list.id === 'LIST01')?.profileIds.length ?? 0,
      (count) => count === 1,
      'Ada in the Gold list',
    );
    // Braze: only fl's member; sd-braze is disabled, so sd's members never reach it.
    await waitFor(
      () => braze.state().users.map((user) => user.external_id),
      (ids) => ids.length === 1,
      'one Braze user',
    );
    expect(braze.state().users.map((user) => user.external_id)).toEqual(['C3']);

    // The ESP holds the profile before the flush settles and counts it: wait for the count, not a snapshot.
    const metrics = await waitFor(
      async () => (await fetch(`${tessera.baseUrl}/metrics`)).text(),
      (text) => /tessera_deliveries_total\{destination="sd-klaviyo",status="delivered"\} [1-9]/.test(text),
      'the sd-klaviyo deliveries counted',
    );
    expect(metrics).toMatch(/tessera_route_dropped_total\{destination="sd-braze",reason="disabled"\} [1-9]/);
  }, 40_000);
});
