import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { BrazeEmulator } from '@tessera/destination-braze';
import { EspSandbox, type EmulatorTools, type SandboxRequest } from '@tessera/destination-kit';
import { buildUnsubscribeWebhook, KLAVIYO_REVISION, KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { PostgresStore } from '@tessera/store';
import { newWebhookSecret } from '@tessera/runtime';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { createScratchDatabase, waitFor, writeSportsWorkspace } from '../support/pipeline-fixture';
import type { TesseraProcess } from '../support/tessera-process';
import { sendSignedBatch, startWorkspaceTessera } from '../support/workspace-tessera';

// Issue 19 items 7 and 8, end to end: Tessera's own unsubscribes read back by a poll are not recorded as the
// member's; real opt-outs at an ESP are, with the ESP's change time; an opt-out the ESP gives no time for is
// stamped when observed and never overrides a grant newer than the last time the ESP was seen subscribed.

/** Klaviyo answering, while `hideChangeTimes` is on, without a subscription change time (it is nullable). */
class KlaviyoWithoutChangeTimes extends KlaviyoEmulator {
  hideChangeTimes = false;

  override async handle(request: SandboxRequest, tools: EmulatorTools) {
    const response = await super.handle(request, tools);
    if (!this.hideChangeTimes || request.method !== 'GET' || !request.path.startsWith('/api/profiles'))
      return response;
    const body = structuredClone(
      typeof response.body === 'string' ? (JSON.parse(response.body) as unknown) : response.body,
    ) as {
      data: { attributes: { subscriptions?: Record<string, { marketing?: Record<string, unknown> }> } }[];
    };
    for (const profile of body.data) {
      for (const channel of Object.values(profile.attributes.subscriptions ?? {})) {
        if (channel.marketing !== undefined) channel.marketing['last_updated'] = null;
      }
    }
    return { ...response, body };
  }
}

interface LedgerRow {
  customer_id: string;
  subject_key: string;
  decision: string;
  source: string;
  captured_at: Date;
  proof: Record<string, unknown> | null;
}

describe('inbound echoes and withdrawal times, end to end', () => {
  const secret = newWebhookSecret();
  const klaviyoSecret = 'klaviyo-webhook-secret-0002';
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-echo-'));
  let database: { url: string; drop(): Promise<void> };
  const redis = new Redis(TEST_REDIS_URL);
  const klaviyo = new KlaviyoWithoutChangeTimes();
  const braze = new BrazeEmulator();
  const sandbox = new EspSandbox([klaviyo, braze], { limitsLifted: true });
  let root: string;
  let store: PostgresStore;
  let tessera: TesseraProcess;
  const members = ['ada', 'bob', 'cara', 'dan'];
  const adminKey = `tsk_${randomBytes(24).toString('hex')}`;

  /** The control-plane API as an admin (item 11: what the profile API shows of these changes). */
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${tessera.baseUrl}${path}`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  };
  type Delivery = {
    destinationId: string;
    operation: string;
    sourceId?: string;
    eventSource?: string;
    eventId?: string;
  };

  const send = async (events: unknown[]) =>
    expect(await sendSignedBatch(tessera.baseUrl, 'sd-loyalty', secret, events)).toEqual({
      status: 202,
      body: '',
    });

  /** Subscribes a member at Klaviyo the way a Klaviyo admin's import would, with an original consent time. */
  const subscribeAtKlaviyo = async (email: string, consentedAt: string) => {
    const response = await fetch(`${root}/klaviyo/api/profile-subscription-bulk-create-jobs`, {
      method: 'POST',
      headers: {
        authorization: 'Klaviyo-API-Key pk_e2e',
        revision: KLAVIYO_REVISION,
        'content-type': 'application/vnd.api+json',
      },
      body: JSON.stringify({
        data: {
          type: 'profile-subscription-bulk-create-job',
          attributes: {
            profiles: {
              data: [
                {
                  type: 'profile',
                  attributes: {
                    email,
                    subscriptions: {
                      email: { marketing: { consent: 'SUBSCRIBED', consented_at: consentedAt } },
                    },
                  },
                },
              ],
            },
          },
        },
      }),
    });
    expect(response.status).toBe(202);
  };

  const ledger = (customerId: string) =>
    store.query<LedgerRow>(
      `SELECT customer_id, subject_key, decision, source, captured_at, proof FROM consent_ledger
        WHERE customer_id = $1 ORDER BY id`,
      [customerId],
    );

  const polledAt = async (destinationId: string) =>
    (
      await store.query<{ polled_at: Date }>(
        `SELECT polled_at FROM inbound_cursors WHERE destination_id = $1`,
        [destinationId],
      )
    )[0]?.polled_at.getTime() ?? 0;

  /** Waits until `destinationId` was polled twice after `since` (the second poll started after it). */
  const pollsAfter = async (destinationId: string, since: number) => {
    const first = await waitFor(
      () => polledAt(destinationId),
      (at) => at > since,
      `a poll of ${destinationId}`,
    );
    await waitFor(
      () => polledAt(destinationId),
      (at) => at > first,
      `another poll of ${destinationId}`,
    );
  };

  beforeAll(async () => {
    database = await createScratchDatabase('echo');
    root = await sandbox.listen();
    const workspaceFile = writeSportsWorkspace(dataDir, secret, [
      {
        type: 'klaviyo',
        settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo`, webhookSecret: klaviyoSecret },
      },
      { type: 'braze', settings: { apiKey: 'braze-e2e', baseUrl: `${root}/braze` } },
    ]);
    tessera = await startWorkspaceTessera({
      prefix,
      dataDir,
      workspaceFile,
      env: { DATABASE_URL: database.url, TESSERA_INBOUND_POLL_SECONDS: '1', TESSERA_ADMIN_KEY: adminKey },
    });
    store = new PostgresStore(database.url, { maxConnections: 2 });
    await send(
      members.map((name, index) => ({
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
      })),
    );
    await waitFor(
      () => members.every((name) => braze.user(`C-${name}`) !== undefined),
      Boolean,
      'members at Braze',
    );
    await waitFor(
      () => members.every((name) => klaviyo.findProfile({ email: `${name}@example.com` }) !== undefined),
      Boolean,
      'members at Klaviyo',
    );
  }, 90_000);

  afterAll(async () => {
    await tessera?.stop();
    await store?.close();
    await sandbox.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('does not read back its own unsubscribe at Braze as the member’s; records a real one with Braze’s time', async () => {
    // Ada opts out at Klaviyo (its webhook): Tessera records it and unsubscribes her at Braze.
    const webhook = buildUnsubscribeWebhook({
      secret: klaviyoSecret,
      profiles: [{ id: 'KLAVIYO-ADA', email: 'ada@example.com', external_id: 'C-ada', phone_number: null }],
      timestamp: new Date().toISOString(),
    });
    const response = await fetch(`${tessera.baseUrl}/v1/inbound/sd-klaviyo`, {
      method: 'POST',
      headers: webhook.headers,
      body: webhook.rawBody,
    });
    expect(response.status).toBe(202);
    await waitFor(
      () => braze.state().unsubscribes.find((entry) => entry.email === 'ada@example.com'),
      Boolean,
      'Ada unsubscribed at Braze',
    );
    // Braze's poll has read that unsubscribe back (twice over) since.
    await pollsAfter('sd-braze', Date.now());
    expect(braze.state().emailSubscriptions['ada@example.com']).toBe('unsubscribed');
    expect((await ledger('C-ada')).map((row) => [row.decision, row.source])).toEqual([
      ['withdrawn', 'esp:sd-klaviyo'],
    ]);
    const metrics = await (await fetch(`${tessera.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/tessera_inbound_echoes_total\{destination="sd-braze"\} [1-9]/);

    // Bob unsubscribed at Braze himself a minute ago by Braze's clock: recorded with that time.
    const unsubscribedAt = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    braze.markEmailUnsubscribed('bob@example.com', unsubscribedAt);
    const [bob] = await waitFor(
      () => ledger('C-bob'),
      (rows) => rows.length > 0,
      'Bob’s withdrawal from Braze',
    );
    expect(bob).toMatchObject({ decision: 'withdrawn', source: 'esp:sd-braze' });
    expect(bob?.captured_at.getTime()).toBe(unsubscribedAt);
    expect(braze.state().unsubscribes).toContainEqual({
      email: 'bob@example.com',
      unsubscribed_at: expect.stringMatching(new Date(unsubscribedAt).toISOString().slice(0, 10)),
    });
    // Tessera carries it to Klaviyo; Klaviyo's poll then reads Tessera's own unsubscribe back: not Bob's act.
    await waitFor(
      () =>
        klaviyo.findProfile({ email: 'bob@example.com' })?.attributes.subscriptions.email.marketing.consent,
      (consent) => consent === 'UNSUBSCRIBED',
      'Bob unsubscribed at Klaviyo',
    );
    await pollsAfter('sd-klaviyo', Date.now());
    expect((await ledger('C-bob')).map((row) => row.source)).toEqual(['esp:sd-braze']);

    // Each carried unsubscribe names its origin in the delivery log and the profile API (issue 19 item 11):
    // the reporting ESP and its event id — Braze's id holds the address, stored as [email].
    const deliveriesOf = async (customerId: string) =>
      (await api<{ deliveries: Delivery[] }>(`/v1/profiles/customer_id%3A${customerId}/deliveries?limit=200`))
        .deliveries;
    expect((await deliveriesOf('C-bob')).filter((entry) => entry.operation === 'unsubscribe')).toContainEqual(
      expect.objectContaining({
        destinationId: 'sd-klaviyo',
        sourceId: 'inbound:sd-braze',
        eventSource: 'esp:sd-braze',
        eventId: `braze:email:unsubscribed:[email]:${new Date(unsubscribedAt).toISOString()}`,
      }),
    );
    expect((await deliveriesOf('C-ada')).filter((entry) => entry.operation === 'unsubscribe')).toContainEqual(
      expect.objectContaining({
        destinationId: 'sd-braze',
        sourceId: 'inbound:sd-klaviyo',
        eventSource: 'esp:sd-klaviyo',
        eventId: expect.stringMatching(/\S/),
      }),
    );
    const keys = await store.query<{ source_id: string | null; event_id: string | null }>(
      `SELECT source_id, event_id FROM delivery_log WHERE source_id LIKE 'inbound:%'`,
    );
    expect(keys.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(keys)).not.toMatch(/@example\.com/);
  }, 90_000);

  it('stamps a Klaviyo withdrawal with Klaviyo’s change time, not the original consent time', async () => {
    const consentedAt = new Date(Date.now() - 30 * 24 * 60 * 60_000).toISOString();
    await subscribeAtKlaviyo('cara@example.com', consentedAt);
    await pollsAfter('sd-klaviyo', Date.now());
    klaviyo.unsubscribeInEsp('cara@example.com');
    const held = klaviyo.findProfile({ email: 'cara@example.com' })?.attributes.subscriptions.email.marketing;
    expect(held).toMatchObject({ consent: 'UNSUBSCRIBED', consented_at: consentedAt });
    // Younger than the settle window (30 s), it waits for a poll after that: Tessera might have caused it.
    const [cara] = await waitFor(
      () => ledger('C-cara'),
      (rows) => rows.length > 0,
      'Cara’s withdrawal from Klaviyo',
      60_000,
    );
    expect(cara).toMatchObject({ decision: 'withdrawn', source: 'esp:sd-klaviyo' });
    expect(cara?.captured_at.getTime()).toBe(Date.parse(String(held?.last_updated)));
    expect(cara?.captured_at.getTime()).not.toBe(Date.parse(consentedAt));
    expect(cara?.proof).not.toHaveProperty('time_basis');
    // Carried to Braze, and not read back from there as Cara's.
    await waitFor(
      () => braze.state().emailSubscriptions['cara@example.com'],
      (state) => state === 'unsubscribed',
      'Cara unsubscribed at Braze',
    );
    await pollsAfter('sd-braze', Date.now());
    expect((await ledger('C-cara')).map((row) => row.source)).toEqual(['esp:sd-klaviyo']);
  }, 120_000);

  it('an opt-out Klaviyo gives no time for overrides no grant newer than its last subscribed sighting', async () => {
    await subscribeAtKlaviyo('dan@example.com', new Date(Date.now() - 60 * 60_000).toISOString());
    await pollsAfter('sd-klaviyo', Date.now());
    const sightings = await store.query<{ seen_at: Date }>(
      `SELECT seen_at FROM inbound_subscribed_sightings WHERE destination_id = 'sd-klaviyo' ORDER BY seen_at DESC`,
    );
    expect(sightings.length).toBeGreaterThan(0);
    // The member's grant (at the loyalty site) after that sighting; Dan also unsubscribes at Klaviyo, which
    // says nothing of when: which came first is unknown.
    const grantedAt = new Date();
    klaviyo.hideChangeTimes = true;
    klaviyo.unsubscribeInEsp('dan@example.com');
    const [withdrawal] = await waitFor(
      () => ledger('C-dan'),
      (rows) => rows.length > 0,
      'Dan’s observed withdrawal',
    );
    klaviyo.hideChangeTimes = false;
    expect(withdrawal).toMatchObject({ decision: 'withdrawn', source: 'esp:sd-klaviyo' });
    expect(withdrawal?.proof).toMatchObject({ time_basis: 'observed' });
    const seenSubscribedAt = Date.parse(String(withdrawal?.proof?.['seen_subscribed_at']));
    expect(seenSubscribedAt).toBeLessThan(grantedAt.getTime());
    expect(withdrawal?.captured_at.getTime()).toBeGreaterThanOrEqual(grantedAt.getTime());
    expect(
      klaviyo.findProfile({ email: 'dan@example.com' })?.attributes.subscriptions.email.marketing.consent,
    ).toBe('UNSUBSCRIBED');

    await send([
      {
        specversion: '1.0',
        id: 'consent-dan',
        source: 'https://loyalty.example.com',
        type: 'consent.changed',
        time: grantedAt.toISOString(),
        data: {
          customer_id: 'C-dan',
          email: 'dan@example.com',
          brand: 'sd',
          channel: 'email',
          status: 'granted',
          legal_basis: 'consent',
          captured_at: grantedAt.toISOString(),
          notice_version: 'v3',
          proof: { method: 'double_opt_in', reference: 'doi-dan-1' },
        },
      },
    ]);
    await waitFor(
      () => ledger('C-dan'),
      (rows) => rows.some((row) => row.decision === 'granted'),
      'Dan’s grant in the ledger',
    );
    const state = await store.query<{ decision: string; captured_at: Date }>(
      `SELECT decision, captured_at FROM consent_state WHERE subject_key = $1 AND brand = 'sd' AND channel = 'email'`,
      [withdrawal?.subject_key],
    );
    expect(state.map((row) => [row.decision, row.captured_at.getTime()])).toEqual([
      ['granted', grantedAt.getTime()],
    ]);
    // The profile API shows the deciding grant with its provenance (issue 19 item 11), as the ledger holds it.
    const profile = await api<{ consent: Record<string, unknown>[] }>('/v1/profiles/customer_id%3AC-dan');
    expect(profile.consent).toEqual([
      expect.objectContaining({
        brand: 'sd',
        subject: 'dan@example.com',
        channel: 'email',
        status: 'granted',
        capturedAt: grantedAt.toISOString(),
        source: 'sd-loyalty',
        actor: 'source:sd-loyalty',
        noticeVersion: 'v3',
        proofRef: 'doi-dan-1',
        proof: expect.objectContaining({ method: 'double_opt_in' }),
      }),
    ]);
  }, 60_000);
});
