import {
  AllowedDestinationHosts,
  AuthError,
  destinationAccountKey,
  type DestinationHarness,
  DestinationRunner,
} from '@tessera/destination-kit';
import { MailchimpEmulator } from './emulator/mailchimp.emulator';
import { mailchimpPackage } from './index';
import { mailchimpDestination } from './mailchimp.destination';
import { mailchimpAuthorization, type MailchimpSettings } from './mailchimp-settings';
import { SMS_NOT_SUPPORTED_REASON } from './requests/member-write.request';
import {
  API_KEY,
  consent,
  hashOf,
  LIST,
  member,
  type MailchimpTestBench,
  startMailchimpBench,
  TEST_AUDIENCES,
  WEBHOOK_SECRET,
} from './testing/mailchimp-test-bench';

describe('Mailchimp destination against the sandbox', () => {
  let bench: MailchimpTestBench;
  let emulator: MailchimpEmulator;
  let harness: DestinationHarness<MailchimpSettings>;

  async function start(...args: Parameters<typeof startMailchimpBench>): Promise<void> {
    bench = await startMailchimpBench(...args);
    ({ emulator, harness } = bench);
  }

  const lines = (): string[] => bench.lines();
  const stored = (n: number) => bench.stored(n);

  afterEach(async () => {
    const violations = harness.violations();
    await harness.close();
    expect(violations).toEqual([]);
  });

  it('tests the connection with GET /3.0/ping and HTTP basic auth', async () => {
    await start();
    await harness.runner.testConnection();

    expect(lines()).toEqual(['GET /3.0/ping']);
    expect(harness.requests()[0]?.headers['authorization']).toBe(mailchimpAuthorization(API_KEY));
  });

  describe('upsertProfiles', () => {
    it('writes one profile with PUT on its subscriber hash, as a transactional member', async () => {
      await start();
      const results = await harness.run('upsertProfiles', [member(1, { phone: '+447700900123' })]);

      expect(results).toEqual([{ status: 'ok', externalId: hashOf(1) }]);
      expect(lines()).toEqual([`PUT /3.0/lists/${LIST}/members/${hashOf(1)}`]);
      expect(stored(1)).toEqual({
        id: hashOf(1),
        email_address: 'member1@example.com',
        status: 'transactional',
        merge_fields: { TESSERA_ID: 'C00001', PHONE: '+447700900123', FNAME: 'Ada1', TIER: 'gold' },
        tags: [],
        last_changed: expect.any(String),
      });
    });

    it('creates new members as transactional and updates existing ones without a status, so a subscription stays', async () => {
      await start();
      await harness.run('subscribe', [consent(2)]);
      harness.clearRequests();

      const results = await harness.run('upsertProfiles', [member(1), member(2), member(3)]);

      // Members 1 and 3 are new (created: in no tag yet); member 2 existed and was updated.
      expect(results).toEqual(
        [1, 2, 3].map((n) => ({
          status: 'ok',
          externalId: hashOf(n),
          ...(n === 2 ? {} : { created: true }),
        })),
      );
      expect(harness.requests().map((request) => request.body)).toEqual([
        {
          members: [1, 2, 3].map((n) => ({
            email_address: `member${n}@example.com`,
            status: 'transactional',
            merge_fields: { TESSERA_ID: `C0000${n}`, FNAME: `Ada${n}`, TIER: 'gold' },
          })),
          update_existing: false,
        },
        {
          members: [
            {
              email_address: 'member2@example.com',
              merge_fields: { TESSERA_ID: 'C00002', FNAME: 'Ada2', TIER: 'gold' },
            },
          ],
          update_existing: true,
        },
      ]);
      expect([1, 2, 3].map((n) => stored(n)?.status)).toEqual([
        'transactional',
        'subscribed',
        'transactional',
      ]);
      expect(stored(2)?.merge_fields).toEqual({ TESSERA_ID: 'C00002', FNAME: 'Ada2', TIER: 'gold' });
    });

    it('updates members whose id the items carry in one call, and creates one deleted in Mailchimp since', async () => {
      await start();
      await harness.run('upsertProfiles', [member(1), member(2)]);
      await harness.run('subscribe', [consent(1)]);
      harness.clearRequests();

      const results = await harness.run('upsertProfiles', [
        member(1, { externalId: hashOf(1), attributes: { loyalty_tier: 'platinum' } }),
        member(2, { externalId: hashOf(2), attributes: { loyalty_tier: 'silver' } }),
      ]);

      expect(results).toEqual([1, 2].map((n) => ({ status: 'ok', externalId: hashOf(n) })));
      expect(lines()).toEqual([`POST /3.0/lists/${LIST}`]);
      expect(harness.requests()[0]?.body).toMatchObject({ update_existing: true });
      expect([stored(1)?.status, stored(1)?.merge_fields['TIER'], stored(2)?.merge_fields['TIER']]).toEqual([
        'subscribed',
        'platinum',
        'silver',
      ]);

      emulator.removeInEsp(LIST, 'member2@example.com');
      harness.clearRequests();
      const again = await harness.run('upsertProfiles', [
        member(1, { externalId: hashOf(1) }),
        member(2, { externalId: hashOf(2) }),
      ]);

      expect(again).toEqual([1, 2].map((n) => ({ status: 'ok', externalId: hashOf(n) })));
      expect(
        harness.requests().map((request) => (request.body as { update_existing: boolean }).update_existing),
      ).toEqual([true, false]);
      expect([stored(1)?.status, stored(2)?.status]).toEqual(['subscribed', 'transactional']);
    });

    it('sends 1,200 profiles in exactly 3 requests of at most 500 members', async () => {
      await start();
      const results = await harness.run(
        'upsertProfiles',
        Array.from({ length: 1200 }, (_, index) => member(index + 1)),
      );

      expect(results.every((result) => result.status === 'ok')).toBe(true);
      const sizes = harness
        .requests()
        .map((request) => (request.body as { members: unknown[] }).members.length);
      expect(sizes).toEqual([500, 500, 200]);
      expect(emulator.state().lists[LIST]?.members).toHaveLength(1200);
    });

    it('rejects exactly the members Mailchimp lists in errors[], and skips items without an email', async () => {
      await start();
      const results = await harness.run('updateAttributes', [
        member(1),
        member(2, { email: 'bob@bounce.invalid' }),
        member(3, { email: undefined }),
        member(4, { email: 'MEMBER1@example.com' }),
        member(5),
        member(6, { email: 'not-an-address' }),
      ]);

      expect(results).toEqual([
        { status: 'ok', externalId: hashOf(1), created: true },
        {
          status: 'rejected',
          reason:
            'Mailchimp refused the member: bob@bounce.invalid looks fake or invalid, please enter a real email address. [ERROR_GENERIC]',
        },
        {
          status: 'skipped',
          reason: 'Customer C00003 has no email address: Mailchimp audiences are keyed by email',
        },
        {
          status: 'rejected',
          reason:
            'Customer C00004 has the email address of customer C00001 in the same batch: Mailchimp keeps one member per email',
        },
        { status: 'ok', externalId: hashOf(5), created: true },
        { status: 'rejected', reason: 'Customer C00006\'s email "not-an-address" is not an address' },
      ]);
      expect(harness.requests().map((request) => [request.method, request.status])).toEqual([['POST', 200]]);
      expect(emulator.state().lists[LIST]?.members.map((stored) => stored.email_address)).toEqual([
        'member1@example.com',
        'member5@example.com',
      ]);
    });

    it('rejects a single profile whose PUT Mailchimp refuses with its detail', async () => {
      await start();
      const results = await harness.run('upsertProfiles', [member(1, { email: 'bob@bounce.invalid' })]);

      expect(results).toEqual([
        {
          status: 'rejected',
          reason: 'HTTP 400: bob@bounce.invalid looks fake or invalid, please enter a real email address.',
        },
      ]);
    });
  });

  describe('subscribe, unsubscribe and suppress', () => {
    it('subscribes and unsubscribes email members by status, skipping sms items', async () => {
      await start();
      const subscribed = await harness.run('subscribe', [consent(1), consent(2), consent(3, 'sms')]);

      expect(subscribed).toEqual([
        { status: 'ok', externalId: hashOf(1) },
        { status: 'ok', externalId: hashOf(2) },
        { status: 'skipped', reason: SMS_NOT_SUPPORTED_REASON },
      ]);
      expect(harness.requests()[0]?.body).toEqual({
        members: [1, 2].map((n) => ({
          email_address: `member${n}@example.com`,
          status: 'subscribed',
          merge_fields: { TESSERA_ID: `C0000${n}` },
        })),
        update_existing: true,
      });

      const unsubscribed = await harness.run('unsubscribe', [consent(1)]);

      expect(unsubscribed).toEqual([{ status: 'ok', externalId: hashOf(1) }]);
      expect(lines()).toEqual([`POST /3.0/lists/${LIST}`, `PUT /3.0/lists/${LIST}/members/${hashOf(1)}`]);
      expect([stored(1)?.status, stored(2)?.status, stored(3)]).toEqual([
        'unsubscribed',
        'subscribed',
        undefined,
      ]);
    });

    it('rejects re-subscribing a member Mailchimp cleaned, per item', async () => {
      await start();
      await harness.run('subscribe', [consent(1), consent(2)]);
      emulator.cleanInEsp(LIST, 'member2@example.com', 'hard', Date.parse('2026-11-24T10:00:00Z'));

      const results = await harness.run('subscribe', [consent(1), consent(2)]);

      expect(results).toEqual([
        { status: 'ok', externalId: hashOf(1) },
        {
          status: 'rejected',
          reason:
            'Mailchimp refused the member: member2@example.com is already a list member in compliance state due to unsubscribe, bounce, or compliance review. [ERROR_GENERIC]',
        },
      ]);
      expect(stored(2)?.status).toBe('cleaned');
    });

    it('suppresses by unsubscribing (Mailchimp’s API cannot set cleaned)', async () => {
      await start();
      await harness.run('subscribe', [consent(1)]);
      const results = await harness.run('suppress', [
        { customerId: 'C00001', email: 'member1@example.com' },
        { customerId: 'C00002', email: 'member2@example.com' },
      ]);

      expect(results.map((result) => result.status)).toEqual(['ok', 'ok']);
      expect([stored(1)?.status, stored(2)?.status]).toEqual(['unsubscribed', 'unsubscribed']);
      expect(mailchimpDestination.operations.unsuppress).toBeUndefined();
    });
  });

  describe('deleteProfiles and fetchProfiles', () => {
    it('deletes members permanently, treats a missing member as gone, and Mailchimp refuses to re-import them', async () => {
      await start();
      await harness.run('upsertProfiles', [member(1), member(2)]);
      harness.clearRequests();

      const results = await harness.run('deleteProfiles', [
        { customerId: 'C00001', email: 'member1@example.com' },
        { customerId: 'C00003', email: 'member3@example.com' },
        { customerId: 'C00004' },
      ]);

      expect(results).toEqual([
        { status: 'ok', externalId: hashOf(1) },
        { status: 'ok', externalId: hashOf(3) },
        {
          status: 'skipped',
          reason: 'Customer C00004 has no email address: Mailchimp audiences are keyed by email',
        },
      ]);
      expect(harness.requests().map((request) => [request.path, request.status])).toEqual(
        expect.arrayContaining([
          [`/3.0/lists/${LIST}/members/${hashOf(1)}/actions/delete-permanent`, 204],
          [`/3.0/lists/${LIST}/members/${hashOf(3)}/actions/delete-permanent`, 404],
        ]),
      );
      expect(emulator.state().deletions).toEqual([
        { list_id: LIST, id: hashOf(1), email_address: 'member1@example.com' },
      ]);
      expect(await harness.run('upsertProfiles', [member(1)])).toEqual([
        {
          status: 'rejected',
          reason:
            'HTTP 400: member1@example.com was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.',
        },
      ]);
    });

    it('fetches members back as remote profiles; a member Mailchimp does not hold is ok without a profile', async () => {
      await start();
      await harness.run('upsertProfiles', [member(1, { phone: '+447700900123' })]);
      await harness.run('subscribe', [consent(1)]);

      const results = await harness.run('fetchProfiles', [
        { customerId: 'C00001', email: 'member1@example.com' },
        { customerId: 'C00002', email: 'member2@example.com' },
      ]);

      expect(results).toEqual([
        {
          status: 'ok',
          externalId: hashOf(1),
          profile: {
            externalId: hashOf(1),
            customerId: 'C00001',
            email: 'member1@example.com',
            phone: '+447700900123',
            attributes: { first_name: 'Ada1', loyalty_tier: 'gold' },
            subscriptions: { email: 'subscribed' },
            suppressed: false,
            updatedAt: expect.any(String),
          },
        },
        { status: 'ok' },
      ]);
    });
  });

  describe('the 10-connection cap', () => {
    it('never has more than 10 requests in flight, so Mailchimp never answers 429', async () => {
      await start({}, { responseDelayMs: 40 });
      const refs = Array.from({ length: 30 }, (_, index) => ({
        customerId: `C${index}`,
        email: `member${index + 1}@example.com`,
      }));

      const results = await harness.run('fetchProfiles', refs);

      expect(results).toHaveLength(30);
      expect(results.every((result) => result.status === 'ok')).toBe(true);
      expect(harness.requests().map((request) => request.status)).toEqual(
        Array.from({ length: 30 }, () => 404),
      );
      expect(emulator.peakConnections(API_KEY)).toBe(10);
    });

    it('shares the 10 connections between destinations on one API key (other audience, other webhook secret)', async () => {
      const [audience] = TEST_AUDIENCES.audiences;
      if (audience === undefined) throw new Error('no test audience');
      await start(
        {},
        {
          responseDelayMs: 40,
          audiences: { audiences: [audience, { ...audience, id: 'second-list', name: 'Second' }] },
        },
      );
      const second = new DestinationRunner(mailchimpDestination, {
        settings: {
          apiKey: API_KEY,
          listId: 'second-list',
          webhookSecret: 'another-webhook-secret-42',
          baseUrl: harness.baseUrl,
        },
        allowedHosts: AllowedDestinationHosts.none.with(harness.baseUrl),
      });
      expect(second.accountKey).toBe(harness.runner.accountKey);
      const refs = Array.from({ length: 20 }, (_, index) => ({
        customerId: `C${index}`,
        email: `member${index + 1}@example.com`,
      }));

      const [first, other] = await Promise.all([
        harness.run('fetchProfiles', refs),
        second.run('fetchProfiles', refs),
      ]);

      expect([...first, ...other].every((result) => result.status === 'ok')).toBe(true);
      expect(emulator.peakConnections(API_KEY)).toBe(10);
    });
  });

  describe('limits', () => {
    it('declares no rate budget (Mailchimp publishes no request rate) and no per-operation limits', () => {
      expect(mailchimpDestination.rateBudgets).toBeUndefined();
      expect(mailchimpDestination.maxConcurrentRequests).toBe(10);
      for (const [name, operation] of Object.entries(mailchimpDestination.operations)) {
        expect([name, Object.keys(operation).sort()]).toEqual([name, ['batchSize', 'perform']]);
      }
    });

    it('counts one account per API key', () => {
      const settings = (apiKey: string, listId: string) => ({
        apiKey,
        listId,
        baseUrl: 'https://us21.api.mailchimp.com',
        segmentIds: {},
        mergeFieldMapping: {},
      });
      const key = destinationAccountKey(mailchimpDestination, settings(API_KEY, 'a'));
      expect(
        destinationAccountKey(mailchimpDestination, {
          ...settings(API_KEY, 'b'),
          webhookSecret: 'x'.repeat(16),
        }),
      ).toBe(key);
      expect(destinationAccountKey(mailchimpDestination, settings(`f${API_KEY.slice(1)}`, 'a'))).not.toBe(
        key,
      );
      expect(key).toMatch(/^mailchimp:[0-9a-f]{16}$/);
    });
  });

  describe('faults', () => {
    it('throws an AuthError when Mailchimp refuses the key, so the pipeline pauses the destination', async () => {
      await start();
      harness.sandbox.injectFault(emulator.esp, { kind: 'unauthorized' });

      const error = await harness
        .run('upsertProfiles', [member(1), member(2)])
        .catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).message).toBe(
        'HTTP 401: credentials refused: Injected authentication failure (sandbox fault)',
      );
    });

    it('retries every item of a batch on a 5xx and honours Retry-After on a 429', async () => {
      await start();
      harness.sandbox.injectFault(emulator.esp, { kind: 'server-error', status: 503 });
      expect(await harness.run('upsertProfiles', [member(1), member(2)])).toEqual([
        { status: 'retry', afterMs: 1000, reason: 'HTTP 503: Injected server error (sandbox fault)' },
        { status: 'retry', afterMs: 1000, reason: 'HTTP 503: Injected server error (sandbox fault)' },
      ]);

      harness.sandbox.injectFault(emulator.esp, { kind: 'rate-limit', retryAfterSeconds: 5 });
      expect(
        await harness.run('deleteProfiles', [{ customerId: 'C1', email: 'member1@example.com' }]),
      ).toEqual([expect.objectContaining({ status: 'retry', afterMs: 5000 })]);
    });
  });

  describe('inbound', () => {
    it('turns the unsubscribe webhook Mailchimp sends into an opt-out, and answers its GET check', async () => {
      await start();
      await harness.run('subscribe', [consent(1)]);
      const rawBody = emulator.unsubscribeInEsp(
        LIST,
        'member1@example.com',
        Date.parse('2026-11-24T10:00:00Z'),
      );

      const changes = harness.runner.parseInboundUnsubscribes({
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        rawBody,
        query: { secret: WEBHOOK_SECRET },
      });

      expect(changes).toEqual([
        {
          eventId: expect.stringMatching(/^mailchimp:[0-9a-f]{40}$/),
          channel: 'email',
          change: 'unsubscribed',
          email: 'member1@example.com',
          customerId: 'C00001',
          occurredAt: '2026-11-24T10:00:00.000Z',
        },
      ]);
      expect(
        await harness.runner.answerInboundHandshake({ headers: {}, rawBody: Buffer.alloc(0), method: 'GET' }),
      ).toEqual({ status: 200 });
      expect(await harness.runner.answerInboundHandshake({ headers: {}, rawBody })).toBeUndefined();
    });
  });

  it('is packaged with its emulator for the registry', async () => {
    await start();
    expect(mailchimpPackage.definition).toBe(mailchimpDestination);
    expect(mailchimpPackage.createEmulator()).toBeInstanceOf(MailchimpEmulator);
  });
});
