import {
  AuthError,
  DestinationHarness,
  DestinationRunner,
  ManualClock,
  MemoryTokenCache,
  type ProfileUpsert,
} from '@tessera/destination-kit';
import { sfmcPackage } from './index';
import { SfmcEmulator } from './emulator/sfmc.emulator';
import { sfmcDestination } from './sfmc.destination';
import type { SfmcSettings } from './sfmc-settings';
import { FastForwardClock } from './testing/fast-forward-clock';
import { allViolations, emulatorOf, requestLines, startSfmcHarness } from './testing/sfmc-test-harness';

const member = (n: number, extra: Partial<ProfileUpsert> = {}): ProfileUpsert => ({
  customerId: `C${String(n).padStart(5, '0')}`,
  version: 1,
  email: `member${n}@example.com`,
  attributes: { first_name: `Ada${n}`, loyalty_tier: 'gold', points_balance: n * 10 },
  ...extra,
});

const ROWSET = 'POST /hub/v1/dataevents/key:TesseraProfiles/rowset';
const ASYNC_ROWS = 'PUT /data/v1/async/dataextensions/key:TesseraProfiles/rows';

describe('SFMC destination against its emulator', () => {
  let harness: DestinationHarness<SfmcSettings>;

  afterEach(async () => {
    const violations = allViolations(harness);
    await harness.close();
    expect(violations).toEqual([]);
  });

  describe('tokens', () => {
    it('fetches one token with the client credentials and account_id, and sends it as a bearer', async () => {
      harness = await startSfmcHarness();
      await harness.run('upsertProfiles', [member(1)]);
      await harness.run('addToSegment', [{ customerId: 'C00001', segment: 'Gold' }]);
      await harness.run('subscribe', [
        { customerId: 'C00001', channel: 'email', email: 'member1@example.com' },
      ]);

      expect(requestLines(harness)).toEqual(['POST /v2/token', ROWSET, ROWSET, 'POST /Service.asmx']);
      const [token, rowset] = harness.requests();
      expect(token?.body).toEqual({
        grant_type: 'client_credentials',
        client_id: 'tessera-client',
        client_secret: 'tessera-secret',
        account_id: '100000001',
      });
      expect(rowset?.headers['authorization']).toMatch(/^Bearer sfmc-sandbox-/);
      expect(emulatorOf(harness).state().tokenRequests).toBe(1);
    });

    it('refreshes the token once when SFMC revokes it, and pauses on a second 401', async () => {
      harness = await startSfmcHarness();
      await harness.run('upsertProfiles', [member(1)]);
      emulatorOf(harness).revokeTokens();

      expect(await harness.run('upsertProfiles', [member(2)])).toEqual([{ status: 'ok' }]);
      expect(emulatorOf(harness).state().tokenRequests).toBe(2);

      harness.sandbox.injectFault('sfmc', { kind: 'unauthorized', times: 2, pathPrefix: '/hub' });
      const error = await harness.run('upsertProfiles', [member(3)]).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).message).toBe(
        'HTTP 401: credentials refused: Injected authentication failure (sandbox fault) (after refreshing the access token)',
      );
    });

    it('refreshes the token once on a SOAP security fault too', async () => {
      harness = await startSfmcHarness();
      await harness.run('upsertProfiles', [member(1)]);
      emulatorOf(harness).revokeTokens();

      const results = await harness.run('unsubscribe', [
        { customerId: 'C00001', channel: 'email', email: 'member1@example.com' },
      ]);

      expect(results).toEqual([{ status: 'ok' }]);
      expect(requestLines(harness).slice(1)).toEqual([
        ROWSET,
        'POST /Service.asmx',
        'POST /v2/token',
        'POST /Service.asmx',
      ]);
      expect(harness.requests()[2]?.status).toBe(500);
    });

    it('fetches a new token once the old one has run out (18 minutes)', async () => {
      const clock = new ManualClock(Date.parse('2026-11-24T09:00:00Z'));
      harness = await startSfmcHarness({ clock });
      await harness.run('upsertProfiles', [member(1)]);
      clock.advance(16 * 60_000);
      await harness.run('upsertProfiles', [member(2)]);
      expect(emulatorOf(harness).state().tokenRequests).toBe(1);

      clock.advance(2 * 60_000); // 18 minutes: the token's 1,080 s are over
      await harness.run('upsertProfiles', [member(3)]);

      expect(emulatorOf(harness).state().tokenRequests).toBe(2);
    });

    it('lets two runners sharing one token cache use one token', async () => {
      const tokenCache = new MemoryTokenCache();
      harness = await startSfmcHarness({ tokenCache });
      const second = new DestinationRunner(sfmcDestination, {
        settings: harness.runner.settings,
        tokenCache,
      });

      await harness.run('upsertProfiles', [member(1)]);
      await second.run('upsertProfiles', [member(2)]);
      await second.testConnection();

      expect(emulatorOf(harness).state().tokenRequests).toBe(1);
      expect(requestLines(harness)).toEqual([
        'POST /v2/token',
        ROWSET,
        ROWSET,
        'GET /platform/v1/tokenContext',
      ]);
    });

    it('reports refused credentials as an AuthError', async () => {
      harness = await startSfmcHarness({ emulator: { clientSecret: 'the-real-secret' } });
      await expect(harness.runner.testConnection()).rejects.toThrow(
        new AuthError('HTTP 401: credentials refused: Client authentication failed.'),
      );
    });
  });

  describe('profiles and segments in the data extension', () => {
    it('upserts up to 50 rows synchronously, mapped and keyed by TesseraId', async () => {
      harness = await startSfmcHarness({ settings: { fieldMapping: { loyalty_tier: 'LoyaltyTier' } } });
      const items = Array.from({ length: 50 }, (_, i) =>
        member(
          i + 1,
          i === 0
            ? {
                phone: '+447700900123',
                attributes: {
                  last_name: 'Lovelace',
                  joined: new Date('2026-01-02T03:04:05Z'),
                  tags: ['a'],
                  gone: null,
                },
              }
            : {},
        ),
      );

      const results = await harness.run('upsertProfiles', items);

      expect(results).toHaveLength(50);
      expect(results.every((result) => result.status === 'ok')).toBe(true);
      expect(requestLines(harness)).toEqual(['POST /v2/token', ROWSET]);
      const rows = emulatorOf(harness).state().dataExtensions['TesseraProfiles'] ?? [];
      expect(rows).toHaveLength(50);
      expect(rows[0]).toEqual({
        TesseraId: 'C00001',
        EmailAddress: 'member1@example.com',
        Phone: '+447700900123',
        LastName: 'Lovelace',
        joined: '2026-01-02T03:04:05.000Z',
        tags: '["a"]',
        gone: '',
      });
      expect(rows[1]).toEqual({
        TesseraId: 'C00002',
        EmailAddress: 'member2@example.com',
        FirstName: 'Ada2',
        LoyaltyTier: 'gold',
        points_balance: 20,
      });
    });

    it('coalesces updates of one customer in a batch: the highest version wins', async () => {
      harness = await startSfmcHarness();
      const results = await harness.run('updateAttributes', [
        member(1, { version: 3, attributes: { loyalty_tier: 'gold' } }),
        member(2),
        member(1, { version: 2, attributes: { loyalty_tier: 'silver', points_balance: 5 } }),
      ]);

      expect(results).toEqual([{ status: 'ok' }, { status: 'ok' }, { status: 'ok' }]);
      const body = harness.requests()[1]?.body as { keys: unknown; values: Record<string, unknown> }[];
      expect(body).toHaveLength(2);
      expect(body[0]).toEqual({
        keys: { TesseraId: 'C00001' },
        values: { EmailAddress: 'member1@example.com', loyalty_tier: 'gold', points_balance: 5 },
      });
    });

    it('goes asynchronous above 50 rows: 1,000 updates cost 4 requests including token and polling', async () => {
      const clock = new FastForwardClock();
      harness = await startSfmcHarness({ clock, emulator: { asyncCompletionMs: 1_500 } });
      const items = Array.from({ length: 1_000 }, (_, i) => member(i + 1));

      const results = await harness.run('upsertProfiles', items);

      expect(results.every((result) => result.status === 'ok')).toBe(true);
      expect(requestLines(harness).map((line) => line.replace(/async\/[0-9a-f-]+\//, 'async/{id}/'))).toEqual(
        ['POST /v2/token', ASYNC_ROWS, 'GET /data/v1/async/{id}/status', 'GET /data/v1/async/{id}/status'],
      );
      expect(harness.requests().length).toBeLessThanOrEqual(25);
      expect((harness.requests()[1]?.body as { items: unknown[] }).items).toHaveLength(1_000);
      expect(clock.sleeps).toEqual([1_000, 2_000]);
      expect(emulatorOf(harness).state().dataExtensions['TesseraProfiles']).toHaveLength(1_000);
    });

    it('51 rows go asynchronous; rows SFMC refuses are rejected with its message, the rest are ok', async () => {
      harness = await startSfmcHarness({ clock: new FastForwardClock() });
      const items = Array.from({ length: 51 }, (_, i) =>
        member(i + 1, i === 6 ? { email: 'not-an-email' } : {}),
      );

      const results = await harness.run('upsertProfiles', items);

      expect(requestLines(harness)[1]).toBe(ASYNC_ROWS);
      expect(requestLines(harness).at(-1)).toMatch(/\/results$/);
      expect(results[6]).toEqual({
        status: 'rejected',
        reason:
          "SFMC: InvalidValue: EmailAddress 'not-an-email' is not a valid email address (TesseraId 'C00007')",
      });
      expect(results.filter((result) => result.status === 'ok')).toHaveLength(50);
      expect(emulatorOf(harness).state().dataExtensions['TesseraProfiles']).toHaveLength(50);
    });

    it('re-drives an async request through the rowset when its errors do not name their rows', async () => {
      harness = await startSfmcHarness({
        clock: new FastForwardClock(),
        emulator: { rowErrorsNameKey: false },
      });
      const items = Array.from({ length: 60 }, (_, i) => member(i + 1, i === 55 ? { email: 'nope' } : {}));

      const results = await harness.run('upsertProfiles', items);

      expect(results[55]).toEqual({
        status: 'rejected',
        reason:
          "HTTP 400: Unable to save rows for data extension TesseraProfiles: EmailAddress 'nope' is not a valid email address",
      });
      expect(results.filter((result) => result.status === 'ok')).toHaveLength(59);
      expect(requestLines(harness).filter((line) => line === ROWSET).length).toBeGreaterThan(2);
    });

    it('hands an async request back for a retry when it is not complete in time', async () => {
      harness = await startSfmcHarness({
        clock: new FastForwardClock(),
        settings: { asyncJobWaitMs: 5_000 },
        emulator: { asyncCompletionMs: 60_000 },
      });
      const results = await harness.run(
        'upsertProfiles',
        Array.from({ length: 60 }, (_, i) => member(i + 1)),
      );

      expect(results[0]).toEqual({
        status: 'retry',
        afterMs: 30_000,
        reason: expect.stringMatching(/^SFMC async request [0-9a-f-]+ was still Pending after 5000 ms$/),
      });
      expect(results.every((result) => result.status === 'retry')).toBe(true);
    });

    it('rejects only the row SFMC refuses in a synchronous batch, with its additionalErrors message', async () => {
      harness = await startSfmcHarness();
      const results = await harness.run('upsertProfiles', [
        member(1),
        member(2, { email: 'nope' }),
        member(3),
      ]);

      expect(results).toEqual([
        { status: 'ok' },
        {
          status: 'rejected',
          reason:
            "HTTP 400: Unable to save rows for data extension TesseraProfiles: EmailAddress 'nope' is not a valid email address",
        },
        { status: 'ok' },
      ]);
      expect(
        emulatorOf(harness)
          .state()
          .dataExtensions['TesseraProfiles']?.map((row) => row['TesseraId']),
      ).toEqual(['C00001', 'C00003']);
    });

    it('rejects an attribute that cannot be a column name without sending it', async () => {
      harness = await startSfmcHarness();
      const results = await harness.run('upsertProfiles', [
        member(1, { attributes: { 'points-balance': 3 } }),
        member(2),
      ]);

      expect(results[0]).toEqual({
        status: 'rejected',
        reason:
          'Attribute "points-balance" maps to "points-balance", which is not a usable data extension column (map it in fieldMapping)',
      });
      expect(results[1]).toEqual({ status: 'ok' });
    });

    it('sets and clears segment columns, mapped or named after the segment', async () => {
      harness = await startSfmcHarness({ settings: { segmentColumns: { 'gold-tier': 'SegmentGoldTier' } } });
      expect(
        await harness.run('addToSegment', [
          { customerId: 'C1', segment: 'gold-tier' },
          { customerId: 'C1', segment: 'Lapsed' },
          { customerId: 'C2', segment: 'gold-tier', email: 'bob@example.com' },
          { customerId: 'C3', segment: 'no-column-for-me' },
        ]),
      ).toEqual([
        { status: 'ok' },
        { status: 'ok' },
        { status: 'ok' },
        {
          status: 'rejected',
          reason: 'Segment "no-column-for-me" has no usable data extension column (map it in segmentColumns)',
        },
      ]);
      await harness.run('removeFromSegment', [{ customerId: 'C1', segment: 'Lapsed' }]);

      expect(emulatorOf(harness).state().dataExtensions['TesseraProfiles']).toEqual([
        { TesseraId: 'C1', SegmentGoldTier: true, Lapsed: false },
        { TesseraId: 'C2', SegmentGoldTier: true, EmailAddress: 'bob@example.com' },
      ]);
    });

    it('reads rows back with fetchProfiles, SFMC lower-casing the column names', async () => {
      harness = await startSfmcHarness();
      await harness.run('upsertProfiles', [member(1, { phone: '+447700900123' })]);
      harness.clearRequests();

      const results = await harness.run('fetchProfiles', [
        { customerId: 'C00001' },
        { customerId: "O'Brien" },
      ]);

      expect(results).toEqual([
        {
          status: 'ok',
          externalId: 'C00001',
          profile: {
            externalId: 'C00001',
            customerId: 'C00001',
            email: 'member1@example.com',
            phone: '+447700900123',
            attributes: { firstname: 'Ada1', loyalty_tier: 'gold', points_balance: '10' },
          },
        },
        { status: 'ok' },
      ]);
      expect(decodeURIComponent(harness.requests()[1]?.path ?? '')).toContain(
        "$filter=TesseraId+eq+'O''Brien'",
      );
    });
  });

  describe('subscriptions over SOAP', () => {
    it('subscribes, unsubscribes and suppresses with a Subscriber UpdateAdd; sms and email-less items are rejected', async () => {
      harness = await startSfmcHarness();
      const subscribed = await harness.run('subscribe', [
        { customerId: 'C1', channel: 'email', email: 'ada@example.com' },
        { customerId: 'C2', channel: 'sms', phone: '+447700900123' },
        { customerId: 'C3', channel: 'email' },
        { customerId: 'C4', channel: 'email', email: 'bob@example.com' },
      ]);
      expect(subscribed).toEqual([
        { status: 'ok' },
        {
          status: 'rejected',
          reason: 'SFMC SMS consent lives in MobileConnect, which this destination does not cover',
        },
        { status: 'rejected', reason: 'SFMC subscribers need an email address and the item has none' },
        { status: 'ok' },
      ]);
      await harness.run('unsubscribe', [{ customerId: 'C1', channel: 'email', email: 'ada@example.com' }]);
      await harness.run('suppress', [{ customerId: 'C4', email: 'bob@example.com' }]);

      expect(emulatorOf(harness).state().subscribers).toEqual([
        { SubscriberKey: 'C1', EmailAddress: 'ada@example.com', Status: 'Unsubscribed' },
        { SubscriberKey: 'C4', EmailAddress: 'bob@example.com', Status: 'Unsubscribed' },
      ]);
      const soap = harness.requests().find((request) => request.path === '/Service.asmx');
      expect(soap?.headers['soapaction']).toBe('Create');
      expect(soap?.headers['content-type']).toBe('text/xml; charset=utf-8');
      expect(String(soap?.body)).toContain('<SaveAction>UpdateAdd</SaveAction>');
      expect(sfmcDestination.operations.unsuppress).toBeUndefined();
    });

    it('maps per-object SOAP errors to the item by OrdinalID', async () => {
      harness = await startSfmcHarness();
      const results = await harness.run('subscribe', [
        { customerId: 'C1', channel: 'email', email: 'ada@example.com' },
        { customerId: 'C2', channel: 'email', email: 'no-at-sign.example.com' },
      ]);
      expect(results).toEqual([
        { status: 'ok' },
        { status: 'rejected', reason: 'SFMC: Invalid email address. (ErrorCode 12001)' },
      ]);
      // The validator flags the bad address too: this request is the one meant to break the contract.
      expect(allViolations(harness)).toEqual([
        'SOAP /Service.asmx: Objects[1].EmailAddress must be an email address',
      ]);
      harness.clearRequests();
    });

    it('retries a SOAP batch SFMC throttles (HTTP 500 with a Server fault)', async () => {
      harness = await startSfmcHarness({ limitsLifted: false });
      const items = [{ customerId: 'C1', channel: 'email' as const, email: 'ada@example.com' }];
      for (let call = 0; call < 20; call++) await harness.run('subscribe', items);

      const throttled = await harness.run('subscribe', items);

      expect(throttled).toEqual([
        {
          status: 'retry',
          afterMs: 1_000,
          reason: expect.stringMatching(/^HTTP 500/),
        },
      ]);
      expect(harness.requests().at(-1)?.status).toBe(500);
    });
  });

  describe('throttling and failures', () => {
    it('retries every item after the Retry-After of a 429', async () => {
      harness = await startSfmcHarness();
      harness.sandbox.injectFault('sfmc', { kind: 'rate-limit', retryAfterSeconds: 30, pathPrefix: '/hub' });

      expect(await harness.run('upsertProfiles', [member(1), member(2)])).toEqual([
        expect.objectContaining({ status: 'retry', afterMs: 30_000 }),
        expect.objectContaining({ status: 'retry', afterMs: 30_000 }),
      ]);
    });

    it("answers the emulator's own rate limit with 429 and Retry-After, which the items wait for", async () => {
      harness = await startSfmcHarness({ limitsLifted: false });
      for (let call = 0; call < 20; call++) await harness.run('upsertProfiles', [member(call)]);

      const [result] = await harness.run('upsertProfiles', [member(99)]);

      expect(result).toEqual(expect.objectContaining({ status: 'retry', afterMs: 1_000 }));
      expect(harness.requests().at(-1)?.status).toBe(429);
    });
  });

  describe('deletion, connection, inbound', () => {
    it('deletes contacts by key (ContactAndAttributes), which also drops their rows and subscriber', async () => {
      harness = await startSfmcHarness();
      await harness.run('upsertProfiles', [member(1), member(2)]);
      await harness.run('subscribe', [
        { customerId: 'C00001', channel: 'email', email: 'member1@example.com' },
      ]);

      const results = await harness.run('deleteProfiles', [{ customerId: 'C00001' }]);

      expect(results).toEqual([{ status: 'ok', externalId: '1' }]);
      const request = harness.requests().at(-1);
      expect(request?.path).toBe('/contacts/v1/contacts/actions/delete?type=keys');
      expect(request?.body).toEqual({ values: ['C00001'], DeleteOperationType: 'ContactAndAttributes' });
      const state = emulatorOf(harness).state();
      expect(state.contactDeletions).toEqual([{ operationID: 1, keys: ['C00001'] }]);
      expect(state.subscribers).toEqual([]);
      expect(state.dataExtensions['TesseraProfiles']?.map((row) => row['TesseraId'])).toEqual(['C00002']);
    });

    it('tests the connection with a token and GET /platform/v1/tokenContext', async () => {
      harness = await startSfmcHarness();
      await harness.runner.testConnection();
      expect(requestLines(harness)).toEqual(['POST /v2/token', 'GET /platform/v1/tokenContext']);
    });

    it('answers the ENS verification by calling ens-verify, then verifies signed unsubscribes', async () => {
      const sfmc = new SfmcEmulator();
      const callback = sfmc.createCallback('https://tessera.example/v1/inbound/sfmc');
      harness = await startSfmcHarness({
        emulator: sfmc,
        settings: { ensSignatureKey: callback.signatureKey, ensCallbackId: callback.callbackId },
      });

      expect(
        await harness.runner.answerInboundHandshake(sfmc.verificationRequest(callback.callbackId)),
      ).toEqual({
        status: 200,
      });
      expect(requestLines(harness)).toEqual(['POST /v2/token', 'POST /platform/v1/ens-verify']);
      expect(sfmc.state().callbacks).toEqual([
        { callbackId: callback.callbackId, url: callback.url, verified: true },
      ]);

      const notification = sfmc.recordUnsubscribe({
        subscriberKey: 'C1',
        email: 'ada@example.com',
        atMs: Date.parse('2026-11-24T10:00:00Z'),
      });
      expect(await harness.runner.answerInboundHandshake(notification)).toBeUndefined();
      expect(harness.runner.parseInboundUnsubscribes(notification)).toEqual([
        {
          eventId: notification.event.compositeId,
          channel: 'email',
          change: 'unsubscribed',
          customerId: 'C1',
          email: 'ada@example.com',
          occurredAt: '2026-11-24T10:00:00.000Z',
        },
      ]);
      expect(sfmc.state().subscribers).toEqual([
        { SubscriberKey: 'C1', EmailAddress: 'ada@example.com', Status: 'Unsubscribed' },
      ]);
    });

    it('refuses the verification of another callback than the configured one', async () => {
      const sfmc = new SfmcEmulator();
      const other = sfmc.createCallback('https://elsewhere.example/hook');
      harness = await startSfmcHarness({ emulator: sfmc, settings: { ensCallbackId: 'tessera-callback' } });

      expect(await harness.runner.answerInboundHandshake(sfmc.verificationRequest(other.callbackId))).toEqual(
        {
          status: 403,
          headers: { 'content-type': 'text/plain' },
          body: `ENS callback ${other.callbackId} is not this destination's (tessera-callback)`,
        },
      );
      expect(requestLines(harness)).toEqual(['POST /v2/token']);
    });
  });

  it('is packaged with its emulator for the registry', async () => {
    harness = await startSfmcHarness();
    expect(sfmcPackage.definition).toBe(sfmcDestination);
    expect(sfmcPackage.createEmulator()).toBeInstanceOf(SfmcEmulator);
  });
});
