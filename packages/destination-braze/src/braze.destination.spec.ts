import {
  AuthError,
  DestinationHarness,
  ManualClock,
  planSpecSuite,
  type ProfileMerge,
  type ProfileUpsert,
  type SubscriptionChange,
} from '@tessera/destination-kit';
import { brazePackage } from './index';
import { SEGMENTS_ATTRIBUTE } from './braze-endpoints';
import { brazeContract } from './braze-spec-corrections';
import { brazeDestination, type BrazeSettings } from './braze.destination';
import { BrazeEmulator } from './emulator/braze.emulator';
import { INVALID_EMAIL_REASON, NO_EMAIL_REASON } from './requests/email-suppression.request';
import { MISSING_SMS_GROUP_REASON, NOT_AN_EMAIL_REASON } from './requests/subscription.request';
import { decideMergeRelease, PROBABILISTIC_MERGE_REASON } from './requests/user-merge.request';
import { EXPORTED_FIELDS } from './requests/users-export.request';

// Every request the destination sends is checked against the community Braze spec when the folder exists.
const plan = planSpecSuite('braze');
const contract = plan.kind === 'run' ? brazeContract(plan.dir) : undefined;

const API_KEY = 'braze-rest-key-0001';

const member = (n: number, extra: Partial<ProfileUpsert> = {}): ProfileUpsert => ({
  customerId: `C${String(n).padStart(5, '0')}`,
  version: 1,
  email: `member${n}@example.com`,
  attributes: { first_name: `Ada${n}`, loyalty_tier: 'gold', points_balance: n * 10 },
  ...extra,
});

const change = (n: number, channel: 'email' | 'sms'): SubscriptionChange => ({
  customerId: `C${String(n).padStart(5, '0')}`,
  channel,
  email: `member${n}@example.com`,
  phone: `+4477009001${String(n).padStart(2, '0')}`,
});

describe('Braze destination against the sandbox', () => {
  let emulator: BrazeEmulator;
  let harness: DestinationHarness<BrazeSettings>;

  async function start(settings: Partial<BrazeSettings> = {}, clock?: ManualClock): Promise<void> {
    emulator = new BrazeEmulator({ apiKey: API_KEY });
    harness = await DestinationHarness.start<BrazeSettings>({
      definition: brazeDestination,
      emulator,
      settings: { apiKey: API_KEY, ...settings },
      ...(contract === undefined ? {} : { contract }),
      ...(clock === undefined ? {} : { runner: { clock } }),
    });
  }

  const lines = () => harness.requests().map((request) => `${request.method} ${request.path.split('?')[0]}`);

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

  it('subscribes and unsubscribes email through /email/status, every address of the batch in one request', async () => {
    await start();
    const subscribed = await harness.run('subscribe', [change(1, 'email'), change(2, 'email')]);
    const unsubscribed = await harness.run('unsubscribe', [change(2, 'email')]);

    expect([...subscribed, ...unsubscribed]).toEqual([{ status: 'ok' }, { status: 'ok' }, { status: 'ok' }]);
    expect(emulator.state().emailSubscriptions).toEqual({
      'member1@example.com': 'opted_in',
      'member2@example.com': 'unsubscribed',
    });
    expect(harness.requests().map((request) => request.body)).toEqual([
      { email: ['member1@example.com', 'member2@example.com'], subscription_state: 'opted_in' },
      { email: 'member2@example.com', subscription_state: 'unsubscribed' },
    ]);
  });

  it('sends 120 email subscriptions as /email/status requests of 50, 50 and 20 addresses', async () => {
    await start();
    const items = Array.from({ length: 120 }, (_, n) => change(n + 1, 'email'));

    const results = await harness.run('unsubscribe', items);

    expect(results.every((result) => result.status === 'ok')).toBe(true);
    expect(harness.requests().map((request) => (request.body as { email: string[] }).email.length)).toEqual([
      50, 50, 20,
    ]);
    expect(Object.values(emulator.state().emailSubscriptions)).toEqual(Array(120).fill('unsubscribed'));
  });

  it('sends an address shared by two items once, and rejects items whose address Braze would refuse', async () => {
    await start();
    const results = await harness.run('subscribe', [
      change(1, 'email'),
      { ...change(2, 'email'), email: 'member1@example.com' },
      { ...change(3, 'email'), email: 'not-an-email' },
      { customerId: 'C00004', channel: 'email' },
    ]);

    expect(results).toEqual([
      { status: 'ok' },
      { status: 'ok' },
      { status: 'rejected', reason: NOT_AN_EMAIL_REASON('not-an-email') },
      { status: 'rejected', reason: 'No email address for customer C00004' },
    ]);
    expect(harness.requests().map((request) => request.body)).toEqual([
      { email: 'member1@example.com', subscription_state: 'opted_in' },
    ]);
  });

  it('sets sms subscriptions in the configured group, and rejects them by name without the setting', async () => {
    await start({ smsSubscriptionGroupId: 'sg-sms-1' });
    expect(await harness.run('subscribe', [change(1, 'sms'), change(2, 'sms')])).toEqual([
      { status: 'ok' },
      { status: 'ok' },
    ]);
    expect(await harness.run('unsubscribe', [change(2, 'sms')])).toEqual([{ status: 'ok' }]);
    expect(emulator.state().subscriptionGroups).toEqual({
      'sg-sms-1': { C00001: 'subscribed', C00002: 'unsubscribed' },
    });
    expect(lines()).toEqual(['POST /v2/subscription/status/set', 'POST /v2/subscription/status/set']);
    await harness.close();

    await start();
    const results = await harness.run('subscribe', [change(1, 'sms'), change(2, 'email')]);
    expect(results).toEqual([{ status: 'rejected', reason: MISSING_SMS_GROUP_REASON }, { status: 'ok' }]);
    expect(MISSING_SMS_GROUP_REASON).toContain('smsSubscriptionGroupId');
    expect(lines()).toEqual(['POST /email/status']);
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

  it('polls email unsubscribes from the stored cursor, paging by offset', async () => {
    const clock = new ManualClock(Date.parse('2026-03-10T12:00:00Z'));
    await start({}, clock);
    emulator.markEmailUnsubscribed('old@example.com', Date.parse('2026-03-01T08:00:00Z'));
    emulator.markEmailUnsubscribed('ada@example.com', Date.parse('2026-03-09T15:24:32Z'));
    emulator.markEmailUnsubscribed('bob@example.com', Date.parse('2026-03-10T09:00:00Z'));

    const first = await harness.runner.pollInboundUnsubscribes(undefined);

    expect(first.changes).toEqual([
      {
        eventId: 'braze:email:unsubscribed:ada@example.com:2026-03-09T15:24:32.000Z',
        channel: 'email',
        change: 'unsubscribed',
        email: 'ada@example.com',
        occurredAt: '2026-03-09T15:24:32.000Z',
      },
      expect.objectContaining({ email: 'bob@example.com', occurredAt: '2026-03-10T09:00:00.000Z' }),
    ]);
    expect(first.cursor).toBe('2026-03-09');
    const [request] = harness.requests();
    expect(request?.path).toBe(
      '/email/unsubscribes?start_date=2026-03-09&end_date=2026-03-11&limit=500&offset=0&sort_direction=asc',
    );

    const fromStart = await harness.runner.pollInboundUnsubscribes('2026-02-01');
    expect(fromStart.changes.map((entry) => entry.email)).toEqual([
      'old@example.com',
      'ada@example.com',
      'bob@example.com',
    ]);
  });

  it('pages through more than 500 unsubscribes with offset', async () => {
    const clock = new ManualClock(Date.parse('2026-03-10T12:00:00Z'));
    await start({}, clock);
    for (let n = 0; n < 501; n++) {
      emulator.markEmailUnsubscribed(`m${n}@example.com`, Date.parse('2026-03-09T00:00:00Z') + n * 1000);
    }

    const poll = await harness.runner.pollInboundUnsubscribes('2026-03-09');

    expect(poll.changes).toHaveLength(501);
    expect(new Set(poll.changes.map((entry) => entry.eventId)).size).toBe(501);
    expect(poll.changes[500]?.email).toBe('m500@example.com');
    expect(
      harness.requests().map((request) => new URL(request.path, 'http://x').searchParams.get('offset')),
    ).toEqual(['0', '500']);
  });

  describe('guests and merges', () => {
    const NOW = Date.parse('2026-03-10T12:00:00Z');
    const merge = (extra: Partial<ProfileMerge> = {}): ProfileMerge => ({
      customerId: 'C00001',
      mergedCustomerId: 'G00009',
      mergedWasGuest: true,
      basis: 'deterministic',
      mergedAt: new Date(NOW - 25 * 3_600_000).toISOString(),
      ...extra,
    });

    it('keys a guest by the tessera_customer_id alias, creating the alias-only user', async () => {
      await start();
      const guest: ProfileUpsert = {
        customerId: 'G00009',
        version: 1,
        guest: true,
        email: 'guest@example.com',
        attributes: { viewed_model: 'Sofa 3D' },
      };

      expect(await harness.run('upsertProfiles', [guest])).toEqual([{ status: 'ok' }]);

      expect(harness.requests()[0]?.body).toEqual({
        attributes: [
          {
            viewed_model: 'Sofa 3D',
            user_alias: { alias_name: 'G00009', alias_label: 'tessera_customer_id' },
            _update_existing_only: false,
            email: 'guest@example.com',
          },
        ],
      });
      expect(emulator.aliasUser('G00009', 'tessera_customer_id')).toMatchObject({
        email: 'guest@example.com',
        attributes: { viewed_model: 'Sofa 3D' },
      });
      expect(emulator.user('G00009')).toBeUndefined();
    });

    it('identifies a guest that became a member with merge_behavior merge, keeping its attributes', async () => {
      await start({}, new ManualClock(NOW));
      await harness.run('upsertProfiles', [
        { customerId: 'G00009', version: 1, guest: true, attributes: { viewed_model: 'Sofa 3D' } },
        member(1),
      ]);

      expect(await harness.run('mergeProfiles', [merge()])).toEqual([{ status: 'ok' }]);

      expect(harness.requests().at(-1)?.body).toEqual({
        aliases_to_identify: [
          { external_id: 'C00001', user_alias: { alias_name: 'G00009', alias_label: 'tessera_customer_id' } },
        ],
        merge_behavior: 'merge',
      });
      expect(emulator.aliasUser('G00009', 'tessera_customer_id')).toBeUndefined();
      expect(emulator.user('C00001')?.attributes).toMatchObject({
        viewed_model: 'Sofa 3D',
        first_name: 'Ada1',
      });
    });

    it('merges two members through /users/merge, the merged id into the kept one', async () => {
      await start({}, new ManualClock(NOW));
      await harness.run('upsertProfiles', [
        member(1),
        member(2, { attributes: { favourite_store: 'Leeds' } }),
      ]);

      const results = await harness.run('mergeProfiles', [
        merge({ mergedCustomerId: 'C00002', mergedWasGuest: false, basis: 'human' }),
      ]);

      expect(results).toEqual([{ status: 'ok' }]);
      expect(lines().at(-1)).toBe('POST /users/merge');
      expect(emulator.state().merges).toEqual([{ kind: 'merge', merged: 'C00002', kept: 'C00001' }]);
      expect(emulator.user('C00002')).toBeUndefined();
      expect(emulator.user('C00001')?.attributes).toMatchObject({ favourite_store: 'Leeds' });
    });

    it('never sends a probabilistic merge, and holds a fresh one until the cooling-off ends', async () => {
      await start({ mergeCoolingOffMinutes: 60 }, new ManualClock(NOW));

      const results = await harness.run('mergeProfiles', [
        merge({ basis: 'probabilistic' }),
        merge({ mergedCustomerId: 'G00010', mergedAt: new Date(NOW - 20 * 60_000).toISOString() }),
        merge({ mergedCustomerId: 'G00011', mergedAt: 'yesterday' }),
      ]);

      expect(results).toEqual([
        { status: 'rejected', reason: PROBABILISTIC_MERGE_REASON },
        {
          status: 'retry',
          afterMs: 40 * 60_000,
          reason: 'Cooling off until 2026-03-10T12:40:00.000Z before an irreversible Braze merge',
        },
        { status: 'rejected', reason: 'mergedAt is not an ISO-8601 time: "yesterday"' },
      ]);
      expect(harness.requests()).toEqual([]);
      expect(emulator.state().merges).toEqual([]);
    });

    it('decides the release of a merge from its basis and age', () => {
      const due = merge({ mergedAt: new Date(NOW - 60_000).toISOString() });
      expect(decideMergeRelease(due, 60_000, NOW)).toEqual({ action: 'send' });
      expect(decideMergeRelease(due, 120_000, NOW)).toEqual({
        action: 'wait',
        afterMs: 60_000,
        until: new Date(NOW + 60_000).toISOString(),
      });
      expect(decideMergeRelease({ ...due, basis: 'human' }, 0, NOW)).toEqual({ action: 'send' });
    });

    it('refuses a cooling-off period outside 0..43,200 minutes', async () => {
      await expect(start({ mergeCoolingOffMinutes: -1 })).rejects.toThrow(
        'Destination "braze" settings are invalid: /mergeCoolingOffMinutes must be >= 0',
      );
      await start();
    });
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

  it('suppresses through /email/blocklist and lifts it with /email/bounce/remove, leaving the email unsubscribed', async () => {
    await start();
    const refs = [
      { customerId: 'C00001', email: 'member1@example.com' },
      { customerId: 'C00002' },
      { customerId: 'C00003', email: 'member3@example.com' },
      { customerId: 'C00004', email: 'nope' },
    ];
    const expected = [
      { status: 'ok' },
      { status: 'rejected', reason: NO_EMAIL_REASON('C00002') },
      { status: 'ok' },
      { status: 'rejected', reason: INVALID_EMAIL_REASON('nope') },
    ];

    expect(await harness.run('suppress', refs)).toEqual(expected);
    expect(emulator.state()).toMatchObject({
      hardBounces: ['member1@example.com', 'member3@example.com'],
      emailSubscriptions: { 'member1@example.com': 'unsubscribed', 'member3@example.com': 'unsubscribed' },
    });

    expect(await harness.run('unsuppress', refs)).toEqual(expected);
    expect(emulator.state()).toMatchObject({
      hardBounces: [],
      emailSubscriptions: { 'member1@example.com': 'unsubscribed', 'member3@example.com': 'unsubscribed' },
    });
    expect(
      harness
        .requests()
        .map((request) => `${request.method} ${request.path} ${JSON.stringify(request.body)}`),
    ).toEqual([
      'POST /email/blocklist {"email":["member1@example.com","member3@example.com"]}',
      'POST /email/bounce/remove {"email":["member1@example.com","member3@example.com"]}',
    ]);
  });

  it('lifts the hard bounces of 60 members in two /email/bounce/remove requests of 50 and 10', async () => {
    await start();
    const refs = Array.from({ length: 60 }, (_, n) => ({ customerId: `C${n}`, email: `m${n}@example.com` }));
    await harness.run('suppress', refs);
    harness.clearRequests();

    expect((await harness.run('unsuppress', refs)).every((result) => result.status === 'ok')).toBe(true);

    expect(harness.requests().map((request) => (request.body as { email: string[] }).email.length)).toEqual([
      50, 10,
    ]);
    expect(emulator.state().hardBounces).toEqual([]);
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

  it('halves an /email/status request Braze refuses until only the address it refuses is rejected', async () => {
    const refused = 'member3@example.com';
    harness = await DestinationHarness.start<BrazeSettings>({
      definition: brazeDestination,
      settings: { apiKey: API_KEY },
      ...(contract === undefined ? {} : { contract }),
      // A capture server standing in for a Braze that refuses one address the destination's check lets through.
      respond: (request) => {
        const body = JSON.parse(request.rawBody.toString('utf8')) as { email: string | string[] };
        return [body.email].flat().includes(refused)
          ? { status: 400, body: { message: `Invalid email: ${refused}` } }
          : { status: 201, body: { message: 'success' } };
      },
    });
    const items = [1, 2, 3, 4, 5].map((n) => change(n, 'email'));

    const results = await harness.run('subscribe', items);

    expect(results.map((result) => result.status)).toEqual(['ok', 'ok', 'rejected', 'ok', 'ok']);
    expect(results[2]).toEqual({
      status: 'rejected',
      reason: `HTTP 400: Invalid email: ${refused}`,
    });
    // 5 → [1,2,3] refused → [1,2] ok, [3] refused; [4,5] ok.
    expect(
      harness
        .requests()
        .map((request) => [(request.body as { email: string | string[] }).email].flat().length),
    ).toEqual([5, 3, 2, 1, 2]);
  });

  it('is packaged with its emulator for the registry', async () => {
    await start();
    expect(brazePackage.definition).toBe(brazeDestination);
    expect(brazePackage.createEmulator()).toBeInstanceOf(BrazeEmulator);
  });
});
