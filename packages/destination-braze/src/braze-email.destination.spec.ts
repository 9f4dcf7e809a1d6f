import { DestinationHarness, ManualClock } from '@tessera/destination-kit';
import { brazeDestination, type BrazeSettings } from './braze.destination';
import { API_KEY, brazeSpecContract, change, requestLines, startBraze } from './braze-test-support';
import type { BrazeEmulator } from './emulator/braze.emulator';
import { INVALID_EMAIL_REASON, NO_EMAIL_REASON } from './requests/email-suppression.request';
import { MISSING_SMS_GROUP_REASON, NOT_AN_EMAIL_REASON } from './requests/subscription.request';

describe('Braze email subscriptions, suppression and opt-out polling', () => {
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

  it('halves an /email/status request Braze refuses until only the address it refuses is rejected', async () => {
    const refused = 'member3@example.com';
    harness = await DestinationHarness.start<BrazeSettings>({
      definition: brazeDestination,
      settings: { apiKey: API_KEY },
      ...(brazeSpecContract === undefined ? {} : { contract: brazeSpecContract }),
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
});
