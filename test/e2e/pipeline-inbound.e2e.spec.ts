import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { BrazeEmulator } from '@tessera/destination-braze';
import { EspSandbox } from '@tessera/destination-kit';
import { buildUnsubscribeWebhook, KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { MailchimpEmulator } from '@tessera/destination-mailchimp';
import { PostgresStore } from '@tessera/store';
import { newWebhookSecret } from '@tessera/runtime';
import { deleteKeysWithPrefix, signedHeaders, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { createScratchDatabase, waitFor, writeSportsWorkspace } from '../support/pipeline-fixture';
import { startTessera, type TesseraProcess } from '../support/tessera-process';

// Two-way sync: an opt-out reported by one ESP (its signed webhook, or a poll) reaches the consent ledger and
// the brand's other ESPs.

describe('inbound opt-outs, end to end', () => {
  const secret = newWebhookSecret();
  const klaviyoSecret = 'klaviyo-webhook-secret-0001';
  const mailchimpSecret = 'mailchimp-url-secret-0001';
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-inbound-'));
  let database: { url: string; drop(): Promise<void> };
  const redis = new Redis(TEST_REDIS_URL);
  const klaviyo = new KlaviyoEmulator();
  const braze = new BrazeEmulator();
  const mailchimp = new MailchimpEmulator();
  // Like a Mailchimp account, the emulator holds only the audiences it is given.
  mailchimp.configure({
    audiences: [
      {
        id: 'list01',
        name: 'Sports members',
        mergeFields: [
          { tag: 'FNAME', type: 'text', name: 'First Name' },
          { tag: 'LNAME', type: 'text', name: 'Last Name' },
          { tag: 'ADDRESS', type: 'address', name: 'Address' },
          { tag: 'PHONE', type: 'phone', name: 'Phone Number' },
          { tag: 'BIRTHDAY', type: 'birthday', name: 'Birthday' },
          { tag: 'TESSERA_ID', type: 'text', name: 'Tessera customer id' },
        ],
      },
    ],
  });
  const sandbox = new EspSandbox([klaviyo, braze, mailchimp], { limitsLifted: true });
  let store: PostgresStore;
  let tessera: TesseraProcess;

  beforeAll(async () => {
    database = await createScratchDatabase('inbound');
    const root = await sandbox.listen();
    const workspaceFile = writeSportsWorkspace(dataDir, secret, [
      {
        type: 'klaviyo',
        settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo`, webhookSecret: klaviyoSecret },
      },
      { type: 'braze', settings: { apiKey: 'braze-e2e', baseUrl: `${root}/braze` } },
      {
        type: 'mailchimp',
        settings: {
          apiKey: '0123456789abcdef0123456789abcdef-us21',
          listId: 'list01',
          baseUrl: `${root}/mailchimp`,
          webhookSecret: mailchimpSecret,
        },
      },
    ]);
    tessera = await startTessera({
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      TESSERA_WORKSPACE_FILE: workspaceFile,
      TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
      TESSERA_INBOUND_POLL_SECONDS: '1',
      TESSERA_DEMO: 'off',
    });
    store = new PostgresStore(database.url, { maxConnections: 2 });
    // Two members the ESPs know.
    const events = ['ada', 'bob'].map((name, index) => ({
      specversion: '1.0',
      id: `seed-${index}`,
      source: 'https://loyalty.example.com',
      type: 'points.updated',
      time: new Date().toISOString(),
      data: {
        customer_id: `C-${name}`,
        email: `${name}@example.com`,
        delta: 1,
        new_balance: 1,
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
    await waitFor(
      () => braze.user('C-ada') !== undefined && braze.user('C-bob') !== undefined,
      Boolean,
      'members at Braze',
    );
    await waitFor(
      () => ['ada', 'bob'].every((name) => mailchimp.member('list01', `${name}@example.com`) !== undefined),
      Boolean,
      'members in the Mailchimp audience',
    );
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

  const withdrawals = (destinationId: string) =>
    store.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM consent_ledger WHERE decision = 'withdrawn' AND source = $1`,
      [`esp:${destinationId}`],
    );

  it('a signed Klaviyo webhook: 202, a withdrawal in the ledger, and an unsubscribe at Braze', async () => {
    const webhook = buildUnsubscribeWebhook({
      secret: klaviyoSecret,
      profiles: [{ id: 'KLAVIYO1', email: 'ada@example.com', external_id: 'C-ada', phone_number: null }],
      timestamp: new Date().toISOString(),
    });
    const response = await fetch(`${tessera.baseUrl}/v1/inbound/sd-klaviyo`, {
      method: 'POST',
      headers: webhook.headers,
      body: webhook.rawBody,
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: 1 });
    await waitFor(
      async () => (await withdrawals('sd-klaviyo'))[0]?.n,
      (n) => n === 1,
      'the withdrawal in the ledger',
    );
    await waitFor(
      () => braze.state().emailSubscriptions['ada@example.com'],
      (state) => state === 'unsubscribed',
      'Ada unsubscribed at Braze',
    );
  }, 30_000);

  it('refuses a webhook with a wrong signature (401) and writes nothing; an unknown destination is a 404', async () => {
    const webhook = buildUnsubscribeWebhook({
      secret: 'not-the-secret-at-all',
      profiles: [{ id: 'KLAVIYO2', email: 'bob@example.com', external_id: 'C-bob', phone_number: null }],
      timestamp: new Date().toISOString(),
    });
    const bad = await fetch(`${tessera.baseUrl}/v1/inbound/sd-klaviyo`, {
      method: 'POST',
      headers: webhook.headers,
      body: webhook.rawBody,
    });
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: string }).error).toMatch(/signature/i);
    const unknown = await fetch(`${tessera.baseUrl}/v1/inbound/nope`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'Unknown destination "nope"' });
    const polled = await fetch(`${tessera.baseUrl}/v1/inbound/sd-braze`, { method: 'POST', body: '{}' });
    expect(polled.status).toBe(405);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(braze.state().emailSubscriptions['bob@example.com']).toBeUndefined();
  });

  it('answers Mailchimp’s GET check of the webhook URL', async () => {
    const response = await fetch(`${tessera.baseUrl}/v1/inbound/sd-mailchimp?secret=${mailchimpSecret}`);
    expect(response.status).toBe(200);
  });

  it('polls Braze from its stored cursor: an opt-out there reaches the ledger and Klaviyo', async () => {
    // A minute ago by Braze's clock: an opt-out younger than the settle window waits for a later poll.
    braze.markEmailUnsubscribed('bob@example.com', Date.now() - 60_000);
    await waitFor(
      async () => (await withdrawals('sd-braze'))[0]?.n,
      (n) => n === 1,
      'the polled withdrawal',
      15_000,
    );
    const cursor = await store.query<{ cursor: string }>(
      `SELECT cursor FROM inbound_cursors WHERE destination_id = 'sd-braze'`,
    );
    expect(cursor).toHaveLength(1);
  }, 30_000);
});
