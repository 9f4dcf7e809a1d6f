import {
  AllowedDestinationHosts,
  AuthError,
  DestinationHarness,
  DestinationRunner,
  ManualClock,
  MemoryRateGate,
  MemoryTokenCache,
} from '@tessera/destination-kit';
import { sfmcPackage } from './index';
import { INVALID_CLIENT_DESCRIPTION, SfmcEmulator } from './emulator/sfmc.emulator';
import { sfmcDestination } from './sfmc.destination';
import { SFMC_RATE_BUDGETS } from './sfmc-endpoints';
import type { SfmcSettings } from './sfmc-settings';
import { FastForwardClock } from './testing/fast-forward-clock';
import {
  allViolations,
  emulatorOf,
  member,
  REQUEST_LINES,
  requestLines,
  startSfmcHarness,
  TEST_EMULATOR_CONFIG,
} from './testing/sfmc-test-harness';

const ROWSET = REQUEST_LINES.rowset;

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
        allowedHosts: AllowedDestinationHosts.none.with(harness.baseUrl),
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

    it('reports credentials the tenant does not know as an AuthError', async () => {
      harness = await startSfmcHarness({
        emulator: {
          config: {
            ...TEST_EMULATOR_CONFIG,
            clients: [{ clientId: 'tessera-client', clientSecret: 'the-real-secret' }],
          },
        },
      });
      await expect(harness.runner.testConnection()).rejects.toThrow(
        new AuthError(`HTTP 401: credentials refused: ${INVALID_CLIENT_DESCRIPTION}`),
      );
    });
  });

  describe('subscriptions over SOAP', () => {
    it('subscribes, unsubscribes and suppresses with a Subscriber UpdateAdd; sms items are rejected, members without email skipped', async () => {
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
        { status: 'skipped', reason: 'SFMC subscribers need an email address and the member has none' },
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
      const perSecond = SFMC_RATE_BUDGETS.soap.windows[0]?.requests ?? 0;
      for (let call = 0; call < perSecond; call++) await harness.run('subscribe', items);

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
    it('paces every instance on one tenant by one REST, one SOAP and one token budget: SFMC answers no 429', async () => {
      const clock = new FastForwardClock();
      const rateGate = new MemoryRateGate(clock);
      const config = {
        ...TEST_EMULATOR_CONFIG,
        clients: [
          ...TEST_EMULATOR_CONFIG.clients,
          { clientId: 'second-package', clientSecret: 'second-secret' },
        ],
      };
      harness = await startSfmcHarness({ clock, rateGate, limitsLifted: false, emulator: { config } });
      // Another installed package of the same tenant: SFMC counts both together.
      const second = new DestinationRunner(sfmcDestination, {
        settings: { ...harness.runner.settings, clientId: 'second-package', clientSecret: 'second-secret' },
        clock,
        rateGate,
        allowedHosts: AllowedDestinationHosts.none.with(harness.baseUrl),
      });
      const elsewhere = new DestinationRunner(sfmcDestination, {
        settings: { ...harness.runner.settings, subdomain: 'mc-another-tenant' },
        allowedHosts: AllowedDestinationHosts.none.with(harness.baseUrl),
      });
      expect(second.accountKey).toBe(harness.runner.accountKey);
      expect(elsewhere.accountKey).not.toBe(harness.runner.accountKey);
      const started = clock.now();

      for (let round = 0; round < 15; round++) {
        const { customerId, email } = member(round);
        await Promise.all([
          harness.run('upsertProfiles', [member(round)]),
          second.run('addToSegment', [{ customerId, segment: 'Gold' }]),
          second.run('subscribe', [{ customerId, channel: 'email', email: email as string }]),
        ]);
      }

      const requests = harness.requests();
      expect(requests.filter((request) => request.status >= 400)).toEqual([]);
      expect(requestLines(harness).filter((line) => line === ROWSET)).toHaveLength(30);
      expect(requestLines(harness).filter((line) => line === 'POST /Service.asmx')).toHaveLength(15);
      // 30 REST calls do not fit in one second's 20: the budget held some back.
      const perSecond = SFMC_RATE_BUDGETS.rest.windows[0]?.requests ?? 0;
      expect(30).toBeGreaterThan(perSecond);
      expect(clock.now() - started).toBeGreaterThanOrEqual(1_000);
    });

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
      const perSecond = SFMC_RATE_BUDGETS.rest.windows[0]?.requests ?? 0;
      for (let call = 0; call < perSecond; call++) await harness.run('upsertProfiles', [member(call)]);

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
      const sfmc = new SfmcEmulator({ config: TEST_EMULATOR_CONFIG });
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
      const sfmc = new SfmcEmulator({ config: TEST_EMULATOR_CONFIG });
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
