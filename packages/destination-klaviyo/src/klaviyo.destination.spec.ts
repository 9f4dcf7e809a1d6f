import {
  AuthError,
  DestinationHarness,
  DestinationSettingsError,
  DestinationRunner,
  redactSettings,
} from '@tessera/destination-kit';
import { KLAVIYO_REVISION } from './api-revision';
import { klaviyoDestination } from './klaviyo.destination';
import { emulatorOf, member, startHarness, WEBHOOK_SECRET } from './klaviyo-destination-test-support';
import type { KlaviyoSettings } from './klaviyo-settings';

describe('Klaviyo destination against the sandbox', () => {
  let harness: DestinationHarness<KlaviyoSettings>;

  afterEach(async () => {
    const violations = harness.violations();
    await harness.close();
    expect(violations).toEqual([]);
  });

  it('upserts a small batch through profile-import: ids back, names, location and mapped custom properties', async () => {
    harness = await startHarness();
    const address = { line1: '1 Rue de Rivoli', city: 'Paris', postcode: '75001', country: 'FR' };
    const results = await harness.run('upsertProfiles', [
      member(1, { phone: '+33612345678', attributes: { first_name: 'Ada', address, loyalty_tier: 'gold' } }),
      member(2),
    ]);
    expect(results.map((result) => result.status)).toEqual(['ok', 'ok']);
    const stored = emulatorOf(harness).findProfile({ externalId: 'C00001' }) as {
      id: string;
      attributes: Record<string, unknown>;
    };
    expect(results[0]).toEqual({ status: 'ok', externalId: stored.id });
    expect(stored.attributes).toMatchObject({
      email: 'member1@example.com',
      phone_number: '+33612345678',
      first_name: 'Ada',
      location: { address1: '1 Rue de Rivoli', city: 'Paris', zip: '75001', country: 'FR' },
      properties: { 'Loyalty Tier': 'gold' },
    });
    const requests = harness.requests();
    expect(requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'POST /api/profile-import',
      'POST /api/profile-import',
    ]);
    expect(requests[0]?.headers).toMatchObject({
      authorization: 'Klaviyo-API-Key pk_sandbox_test',
      revision: KLAVIYO_REVISION,
      'content-type': 'application/vnd.api+json',
    });
  });

  it('rejects only the profile Klaviyo refuses in a small batch, with Klaviyo’s reason', async () => {
    harness = await startHarness();
    const results = await harness.run('upsertProfiles', [
      member(1),
      member(2, { email: 'not-an-email' }),
      member(3),
    ]);
    expect(results.map((result) => result.status)).toEqual(['ok', 'rejected', 'ok']);
    expect(results[1]).toMatchObject({
      status: 'rejected',
      reason: expect.stringMatching(/^HTTP 400: .*email/i),
    });
    expect(emulatorOf(harness).findProfile({ externalId: 'C00002' })).toBeUndefined();
  });

  it('upserts a large batch through one bulk import job: rejects a refused email, leaves out a refused phone', async () => {
    harness = await startHarness();
    const items = Array.from({ length: 250 }, (_, i) => member(i + 1));
    items[17] = member(18, { email: 'broken-at-17' });
    items[201] = member(202, { phone: '12345' });
    const results = await harness.run('upsertProfiles', items);
    const rejected = results.flatMap((result, index) => (result.status === 'rejected' ? [index] : []));
    expect(rejected).toEqual([17]);
    expect(results[17]).toEqual({
      status: 'rejected',
      reason: "Klaviyo import error: Invalid email address 'broken-at-17'.",
    });
    const again = emulatorOf(harness).findProfile({ externalId: 'C00202' });
    expect(results[201]).toEqual({
      status: 'ok',
      externalId: again?.id,
      omittedFields: [
        {
          field: 'phone_number',
          reason: "Invalid phone number format (Example of a valid format: +12345678901): '12345'.",
        },
      ],
    });
    expect(again?.attributes).toMatchObject({ email: 'member202@example.com', phone_number: null });
    expect(results.filter((result) => result.status === 'ok')).toHaveLength(249);
    expect(emulatorOf(harness).findProfile({ externalId: 'C00250' })).toBeDefined();
    expect(emulatorOf(harness).findProfile({ externalId: 'C00018' })).toBeUndefined();
    expect(harness.requests().map((request) => `${request.method} ${request.path.split('?')[0]}`)).toEqual([
      'POST /api/profile-bulk-import-jobs',
      expect.stringMatching(/^GET \/api\/profile-bulk-import-jobs\/[^/]+$/),
      expect.stringMatching(/^GET \/api\/profile-bulk-import-jobs\/[^/]+\/import-errors$/),
      // The one profile without its phone number: through profile-import, which answers with its id.
      'POST /api/profile-import',
    ]);
  });

  it('mirrors the consent ledger: subscribe, unsubscribe, suppress and unsuppress bulk jobs', async () => {
    harness = await startHarness();
    const subscribed = await harness.run('subscribe', [
      { customerId: 'C1', channel: 'email', email: 'ada@example.com' },
      { customerId: 'C2', channel: 'sms', phone: '+33612345678' },
      { customerId: 'C3', channel: 'email' },
    ]);
    expect(subscribed).toEqual([
      { status: 'ok' },
      { status: 'ok' },
      { status: 'rejected', reason: "A email subscription needs the profile's email" },
    ]);
    const consentOf = (email: string) =>
      (
        emulatorOf(harness).findProfile({ email }) as {
          attributes: { subscriptions: { email: { marketing: { consent: string } } } };
        }
      ).attributes.subscriptions.email.marketing.consent;
    expect(consentOf('ada@example.com')).toBe('SUBSCRIBED');
    await harness.run('unsubscribe', [{ customerId: 'C1', channel: 'email', email: 'ada@example.com' }]);
    expect(consentOf('ada@example.com')).toBe('UNSUBSCRIBED');
    const suppressed = await harness.run('suppress', [
      { customerId: 'C1', email: 'ada@example.com' },
      { customerId: 'C9' },
    ]);
    expect(suppressed).toEqual([
      { status: 'ok' },
      { status: 'rejected', reason: 'Klaviyo suppresses by email address and the profile has none' },
    ]);
    const suppression = () =>
      (
        emulatorOf(harness).findProfile({ email: 'ada@example.com' }) as {
          attributes: { subscriptions: { email: { marketing: { suppression: unknown[] } } } };
        }
      ).attributes.subscriptions.email.marketing.suppression;
    expect(suppression()).toHaveLength(1);
    await harness.run('unsuppress', [{ customerId: 'C1', email: 'ada@example.com' }]);
    expect(suppression()).toHaveLength(0);
  });

  it('erases a profile through a data privacy deletion job, by email, else phone, else Klaviyo’s id', async () => {
    harness = await startHarness();
    const upserted = await harness.run('upsertProfiles', [
      member(1),
      member(2, { email: undefined, phone: '+33612345678' }),
      member(3, { email: undefined }),
    ]);
    const third = upserted[2]?.status === 'ok' ? upserted[2].externalId : undefined;
    const results = await harness.run('deleteProfiles', [
      { customerId: 'C00001', email: 'member1@example.com' },
      { customerId: 'C00002', phone: '+33612345678' },
      { customerId: 'C00003', ...(third === undefined ? {} : { externalId: third }) },
      { customerId: 'C00404' },
    ]);
    expect(results).toEqual([
      { status: 'ok' },
      { status: 'ok' },
      { status: 'ok' },
      {
        status: 'rejected',
        reason: 'Klaviyo deletes by email, phone number or its own id and the profile has none of them',
      },
    ]);
    expect(emulatorOf(harness).state().profiles).toEqual([]);
    expect(emulatorOf(harness).state().deletions).toEqual([
      expect.objectContaining({ identifier: { email: 'member1@example.com' } }),
      expect.objectContaining({ identifier: { phone_number: '+33612345678' } }),
      expect.objectContaining({ identifier: { id: third } }),
    ]);
  });

  it('fetches profiles for reconciliation, with subscriptions, and reports the ones Klaviyo lacks', async () => {
    harness = await startHarness();
    await harness.run('upsertProfiles', [member(1)]);
    await harness.run('subscribe', [
      { customerId: 'C00001', channel: 'email', email: 'member1@example.com' },
    ]);
    const results = await harness.run('fetchProfiles', [{ customerId: 'C00001' }, { customerId: 'C00002' }]);
    expect(results[1]).toEqual({ status: 'ok' });
    expect(results[0]).toMatchObject({
      status: 'ok',
      profile: {
        customerId: 'C00001',
        email: 'member1@example.com',
        attributes: { first_name: 'Ada1', 'Loyalty Tier': 'gold', points_balance: 10 },
        subscriptions: { email: 'subscribed' },
        suppressed: false,
      },
    });
  });

  it('tests the connection with the key, and names Klaviyo’s refusal', async () => {
    harness = await startHarness();
    await expect(harness.runner.testConnection()).resolves.toBeUndefined();
    harness.sandbox.injectFault('klaviyo', { kind: 'unauthorized' });
    await expect(harness.runner.testConnection()).rejects.toBeInstanceOf(AuthError);
  });

  describe('faults', () => {
    it('hands every item back for a retry after Retry-After on a 429', async () => {
      harness = await startHarness();
      harness.sandbox.injectFault('klaviyo', { kind: 'rate-limit', retryAfterSeconds: 12 });
      const results = await harness.run('suppress', [
        { customerId: 'C1', email: 'a@example.com' },
        { customerId: 'C2', email: 'b@example.com' },
      ]);
      expect(results.map((result) => result.status === 'retry' && result.afterMs)).toEqual([12_000, 12_000]);
    });

    it('retries on 5xx and on a timeout, and nothing lands', async () => {
      harness = await startHarness({}, { timeoutMs: 250 });
      harness.sandbox.injectFault('klaviyo', { kind: 'server-error', status: 503 });
      const first = await harness.run('upsertProfiles', [member(1)]);
      expect(first).toEqual([
        { status: 'retry', afterMs: 1_000, reason: expect.stringMatching(/^HTTP 503/) },
      ]);
      harness.sandbox.injectFault('klaviyo', { kind: 'timeout' });
      const second = await harness.run('upsertProfiles', [member(1)]);
      expect(second).toEqual([
        {
          status: 'retry',
          afterMs: 1_000,
          reason: 'Request timed out after 250 ms: POST /api/profile-import',
        },
      ]);
      expect(emulatorOf(harness).findProfile({ externalId: 'C00001' })).toBeUndefined();
    });

    it('throws an AuthError on 401 so the pipeline pauses the destination', async () => {
      harness = await startHarness();
      harness.sandbox.injectFault('klaviyo', { kind: 'unauthorized' });
      await expect(harness.run('upsertProfiles', [member(1)])).rejects.toThrow(
        /^HTTP 401: credentials refused: /,
      );
    });
  });

  describe('inbound unsubscribes', () => {
    it('verifies the Klaviyo-Signature of a webhook and returns its opt-outs', async () => {
      harness = await startHarness();
      const signed = emulatorOf(harness).signUnsubscribeWebhook({
        secret: WEBHOOK_SECRET,
        emails: ['ada@example.com', 'bob@example.com'],
      });
      const changes = harness.runner.parseInboundUnsubscribes({
        headers: signed.headers,
        rawBody: signed.rawBody,
      });
      expect(changes.map((change) => [change.channel, change.change, change.email])).toEqual([
        ['email', 'unsubscribed', 'ada@example.com'],
        ['email', 'unsubscribed', 'bob@example.com'],
      ]);
      expect(new Set(changes.map((change) => change.eventId)).size).toBe(2);
    });

    it('refuses a tampered body, a wrong secret and a stale timestamp', async () => {
      harness = await startHarness();
      const emulator = emulatorOf(harness);
      const signed = emulator.signUnsubscribeWebhook({ secret: WEBHOOK_SECRET, emails: ['ada@example.com'] });
      const tampered = Buffer.from(signed.rawBody.toString('utf8').replace('ada@', 'eve@'));
      expect(() =>
        harness.runner.parseInboundUnsubscribes({ headers: signed.headers, rawBody: tampered }),
      ).toThrow('Klaviyo webhook refused: the signature does not match the body');
      const wrong = emulator.signUnsubscribeWebhook({
        secret: 'another-secret-of-16+',
        emails: ['ada@example.com'],
      });
      expect(() => harness.runner.parseInboundUnsubscribes(wrong)).toThrow(AuthError);
      const stale = emulator.signUnsubscribeWebhook({
        secret: WEBHOOK_SECRET,
        emails: ['ada@example.com'],
        timestamp: new Date(Date.now() - 10 * 60_000).toISOString(),
      });
      expect(() => harness.runner.parseInboundUnsubscribes(stale)).toThrow(
        'Klaviyo webhook refused: Klaviyo-Timestamp is more than 5 minutes from now',
      );
      const unsigned = { headers: { 'content-type': 'application/json' }, rawBody: signed.rawBody };
      expect(() => harness.runner.parseInboundUnsubscribes(unsigned)).toThrow(
        'Klaviyo webhook refused: the Klaviyo-Signature and Klaviyo-Timestamp headers are required',
      );
    });

    it('polls the profiles whose subscription changed since the cursor', async () => {
      harness = await startHarness();
      await harness.run('subscribe', [
        { customerId: 'C1', channel: 'email', email: 'ada@example.com' },
        { customerId: 'C2', channel: 'email', email: 'bob@example.com' },
      ]);
      const first = await harness.runner.pollInboundUnsubscribes(undefined);
      expect(first.changes).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      emulatorOf(harness).unsubscribeInEsp('bob@example.com');
      const second = await harness.runner.pollInboundUnsubscribes(first.cursor);
      expect(second.changes).toMatchObject([
        { channel: 'email', change: 'unsubscribed', email: 'bob@example.com' },
      ]);
      const third = await harness.runner.pollInboundUnsubscribes(second.cursor);
      expect(third.changes).toEqual([]);
    });
  });
});

describe('Klaviyo settings', () => {
  it('refuses a key that is not a private key, naming the setting', () => {
    expect(() => new DestinationRunner(klaviyoDestination, { settings: { apiKey: 'abc' } })).toThrow(
      new DestinationSettingsError('klaviyo', [
        { pointer: '/apiKey', message: 'must match pattern "^pk_\\S+$"' },
      ]).message,
    );
  });

  it('applies defaults and never shows the key or the webhook secret', () => {
    const runner = new DestinationRunner(klaviyoDestination, {
      settings: { apiKey: 'pk_live_123', webhookSecret: WEBHOOK_SECRET },
    });
    expect(runner.settings).toMatchObject({
      baseUrl: 'https://a.klaviyo.com',
      listIds: {},
      propertyMapping: {},
      bulkImportMinProfiles: 20,
    });
    expect(redactSettings(klaviyoDestination.settingsSchema, runner.settings)).toMatchObject({
      apiKey: '***',
      webhookSecret: '***',
    });
  });
});
