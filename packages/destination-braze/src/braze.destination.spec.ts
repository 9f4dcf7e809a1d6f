import { AuthError, type DestinationHarness, type ManualClock } from '@tessera/destination-kit';
import { brazePackage } from './index';
import { SEGMENTS_ATTRIBUTE } from './braze-endpoints';
import { brazeDestination, type BrazeSettings } from './braze.destination';
import { API_KEY, change, member, requestLines, startBraze } from './braze-test-support';
import { BrazeEmulator } from './emulator/braze.emulator';
import { EXPORTED_FIELDS } from './requests/users-export.request';

describe('Braze destination against the sandbox', () => {
  let emulator: BrazeEmulator;
  let harness: DestinationHarness<BrazeSettings>;

  async function start(settings: Partial<BrazeSettings> = {}, clock?: ManualClock): Promise<void> {
    ({ emulator, harness } = await startBraze(settings, clock));
  }

  const lines = () => requestLines(harness);

  afterEach(async () => {
    const violations = harness.violations();
    await harness.close();
    expect(violations).toEqual([]);
  });

  it('upserts profiles through /users/track keyed by external_id, with the bearer key', async () => {
    await start();
    const results = await harness.run('upsertProfiles', [
      member(1, { phone: '+447700900123', attributes: { first_name: 'Ada', loyalty_tier: 'gold' } }),
      member(2),
    ]);

    expect(results).toEqual([{ status: 'ok' }, { status: 'ok' }]);
    expect(emulator.user('C00001')).toEqual({
      external_id: 'C00001',
      email: 'member1@example.com',
      phone: '+447700900123',
      attributes: { first_name: 'Ada', loyalty_tier: 'gold' },
    });
    expect(lines()).toEqual(['POST /users/track']);
    const [request] = harness.requests();
    expect(request?.headers).toMatchObject({
      authorization: `Bearer ${API_KEY}`,
      'content-type': 'application/json',
    });
    expect((request?.body as { attributes: unknown[] }).attributes).toHaveLength(2);
  });

  it('sends nothing billable it need not: a profile with no attribute, email or phone is ok without a write', async () => {
    await start();
    const results = await harness.run('upsertProfiles', [
      { customerId: 'C00001', version: 2, attributes: {} },
      member(2, { email: undefined, attributes: { loyalty_tier: 'silver' } }),
      { customerId: 'G00003', version: 1, guest: true, attributes: { note: undefined } },
      { customerId: 'C00004', version: 3, phone: '+447700900123', attributes: {} },
    ]);

    expect(results).toEqual([{ status: 'ok' }, { status: 'ok' }, { status: 'ok' }, { status: 'ok' }]);
    expect(harness.requests().map((request) => request.body)).toEqual([
      {
        attributes: [
          { loyalty_tier: 'silver', external_id: 'C00002' },
          { external_id: 'C00004', phone: '+447700900123' },
        ],
      },
    ]);
    expect(emulator.user('C00001')).toBeUndefined();

    harness.clearRequests();
    const nothing = await harness.run('updateAttributes', [
      { customerId: 'C00001', version: 3, attributes: {} },
      { customerId: 'C00002', version: 2, attributes: {} },
    ]);
    expect(nothing).toEqual([{ status: 'ok' }, { status: 'ok' }]);
    expect(harness.requests()).toEqual([]);
  });

  it('maps Braze errors[] back to the right items when some profiles had nothing to write', async () => {
    await start();
    const results = await harness.run('upsertProfiles', [
      { customerId: 'C00001', version: 1, attributes: {} },
      member(2, { email: 'not-an-email' }),
      member(3),
    ]);

    expect(results).toEqual([
      { status: 'ok' },
      { status: 'rejected', reason: `Braze: Invalid 'email' "not-an-email"` },
      { status: 'ok' },
    ]);
  });

  it('splits 150 profiles into two /users/track requests of at most 75 attribute objects', async () => {
    await start();
    const results = await harness.run(
      'upsertProfiles',
      Array.from({ length: 150 }, (_, index) => member(index + 1)),
    );

    expect(results.every((result) => result.status === 'ok')).toBe(true);
    const sizes = harness
      .requests()
      .map((request) => (request.body as { attributes: unknown[] }).attributes.length);
    expect(sizes).toEqual([75, 75]);
    expect(emulator.state().users).toHaveLength(150);
  });

  it('rejects exactly the items a 2xx answer lists in errors; the rest land', async () => {
    await start();
    const results = await harness.run('upsertProfiles', [
      member(1),
      member(2, { email: 'not-an-email' }),
      member(3),
      member(4, { customerId: '' }),
    ]);

    expect(results).toEqual([
      { status: 'ok' },
      { status: 'rejected', reason: `Braze: Invalid 'email' "not-an-email"` },
      { status: 'ok' },
      { status: 'rejected', reason: "Braze: 'external_id' must be a non-empty string" },
    ]);
    expect(harness.requests().map((request) => request.status)).toEqual([201]);
    expect(emulator.state().users.map((user) => user.external_id)).toEqual(['C00001', 'C00003']);
  });

  it('keeps segment membership in the tessera_segments array attribute with add and remove', async () => {
    await start();
    await harness.run('upsertProfiles', [member(1)]);
    const added = await harness.run('addToSegment', [
      { customerId: 'C00001', segment: 'vip' },
      { customerId: 'C00001', segment: 'lapsed' },
    ]);
    const removed = await harness.run('removeFromSegment', [{ customerId: 'C00001', segment: 'lapsed' }]);

    expect([...added, ...removed].every((result) => result.status === 'ok')).toBe(true);
    expect(emulator.user('C00001')?.attributes[SEGMENTS_ATTRIBUTE]).toEqual(['vip']);
    expect(harness.requests()[1]?.body).toEqual({
      attributes: [
        { external_id: 'C00001', [SEGMENTS_ATTRIBUTE]: { add: ['vip'] } },
        { external_id: 'C00001', [SEGMENTS_ATTRIBUTE]: { add: ['lapsed'] } },
      ],
    });
    expect(harness.requests()[2]?.body).toEqual({
      attributes: [{ external_id: 'C00001', [SEGMENTS_ATTRIBUTE]: { remove: ['lapsed'] } }],
    });
  });

  it('deletes users through /users/delete by external id, at most 50 per request', async () => {
    await start();
    await harness.run('upsertProfiles', [member(1), member(2)]);
    const items = Array.from({ length: 60 }, (_, index) => ({ customerId: member(index + 1).customerId }));

    const results = await harness.run('deleteProfiles', items);

    expect(results.every((result) => result.status === 'ok')).toBe(true);
    expect(emulator.state().users).toEqual([]);
    expect(emulator.state().deletions).toHaveLength(60);
    expect(
      harness
        .requests()
        .slice(1)
        .map((request) => (request.body as { external_ids: string[] }).external_ids.length),
    ).toEqual([50, 10]);
  });

  it('reads profiles back through /users/export/ids; unknown ids are ok without a profile', async () => {
    await start();
    await harness.run('upsertProfiles', [member(1, { phone: '+447700900123' })]);
    await harness.run('unsubscribe', [change(1, 'email')]);

    const results = await harness.run('fetchProfiles', [{ customerId: 'C00001' }, { customerId: 'C09999' }]);

    expect(results).toEqual([
      {
        status: 'ok',
        externalId: 'braze-C00001',
        profile: {
          externalId: 'braze-C00001',
          customerId: 'C00001',
          email: 'member1@example.com',
          phone: '+447700900123',
          attributes: { first_name: 'Ada1', loyalty_tier: 'gold', points_balance: 10 },
          subscriptions: { email: 'unsubscribed' },
        },
      },
      { status: 'ok' },
    ]);
    expect(harness.requests().at(-1)?.body).toEqual({
      external_ids: ['C00001', 'C09999'],
      fields_to_export: [...EXPORTED_FIELDS],
    });
  });

  it('tests the connection with an authenticated read', async () => {
    await start();
    await harness.runner.testConnection();
    expect(lines()).toEqual(['GET /email/unsubscribes']);
  });

  describe('faults', () => {
    it('hands every item back for a retry after the Retry-After of a 429', async () => {
      await start();
      harness.sandbox.injectFault('braze', { kind: 'rate-limit', retryAfterSeconds: 30 });

      const results = await harness.run('upsertProfiles', [member(1), member(2)]);

      expect(results.map((result) => result.status === 'retry' && result.afterMs)).toEqual([30_000, 30_000]);
      expect(emulator.state().users).toEqual([]);
    });

    it('retries every item on a 5xx', async () => {
      await start();
      harness.sandbox.injectFault('braze', { kind: 'server-error', status: 503 });

      expect(await harness.run('deleteProfiles', [{ customerId: 'C00001' }])).toEqual([
        { status: 'retry', afterMs: 1000, reason: expect.stringMatching(/^HTTP 503/) },
      ]);
    });

    it('retries the email subscriptions of a request that hit a 5xx, and only those', async () => {
      await start({ smsSubscriptionGroupId: 'sg-sms-1' });
      harness.sandbox.injectFault('braze', { kind: 'server-error', status: 502 });

      const results = await harness.run('subscribe', [
        change(1, 'email'),
        change(2, 'sms'),
        change(3, 'email'),
      ]);

      expect(results.map((result) => result.status)).toEqual(['retry', 'ok', 'retry']);
      expect(lines()).toEqual(['POST /email/status', 'POST /v2/subscription/status/set']);
    });

    it('throws an AuthError on 401 so the pipeline pauses the destination', async () => {
      await start({ apiKey: 'wrong-key' });

      const error = await harness.run('upsertProfiles', [member(1)]).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).message).toBe('HTTP 401: credentials refused: Invalid API key: wron…');
    });
  });

  it('is packaged with its emulator for the registry', async () => {
    await start();
    expect(brazePackage.definition).toBe(brazeDestination);
    expect(brazePackage.createEmulator()).toBeInstanceOf(BrazeEmulator);
  });
});
