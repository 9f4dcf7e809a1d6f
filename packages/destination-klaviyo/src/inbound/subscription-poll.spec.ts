import { ManualClock, type EmulatorTools, type SandboxRequest } from '@tessera/destination-kit';
import { KlaviyoEmulator } from '../emulator';
import { emulatorOf, startHarness, type KlaviyoHarness } from '../klaviyo-destination-test-support';

// Issue 19 item 8: a polled withdrawal carries Klaviyo's change time (the subscription's `last_updated`), not the
// original consent time; without one, the time it was observed, marked so.

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const CONSENTED = '2026-01-15T08:00:00.000Z';

/** Klaviyo as it answers for consent it holds without a change time (`last_updated` is nullable). */
class NoChangeTimeKlaviyo extends KlaviyoEmulator {
  override async handle(request: SandboxRequest, tools: EmulatorTools) {
    const response = await super.handle(request, tools);
    if (request.method !== 'GET' || !request.path.startsWith('/api/profiles')) return response;
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

describe('Klaviyo subscription poll: change times', () => {
  let harness: KlaviyoHarness;
  let clock: ManualClock;

  afterEach(() => harness?.close());

  async function subscribeAdaAndBob(): Promise<string> {
    await harness.run('subscribe', [
      { customerId: 'C-ada', channel: 'email', email: 'ada@example.com', changedAt: CONSENTED },
      { customerId: 'C-bob', channel: 'email', email: 'bob@example.com', changedAt: CONSENTED },
    ]);
    clock.advance(60_000);
    const first = await harness.runner.pollInboundUnsubscribes(undefined);
    expect(first.changes).toEqual([]);
    return first.cursor;
  }

  it('stamps a withdrawal with the time Klaviyo changed the subscription, not the original consent time', async () => {
    clock = new ManualClock(T0);
    harness = await startHarness({}, { clock });
    const cursor = await subscribeAdaAndBob();
    clock.advance(10 * 60_000);
    emulatorOf(harness).unsubscribeInEsp('bob@example.com');
    const unsubscribedAt = new Date(clock.now()).toISOString();
    clock.advance(5 * 60_000);
    const poll = await harness.runner.pollInboundUnsubscribes(cursor);
    expect(poll.changes).toHaveLength(1);
    expect(poll.changes[0]).toMatchObject({
      channel: 'email',
      change: 'unsubscribed',
      email: 'bob@example.com',
    });
    expect(poll.changes[0]?.timeBasis).toBeUndefined();
    expect(Date.parse(poll.changes[0]?.occurredAt ?? '')).toBe(Date.parse(unsubscribedAt));
    expect(Date.parse(poll.changes[0]?.occurredAt ?? '')).not.toBe(Date.parse(CONSENTED));
  });

  it('reports members it saw subscribed, with when it saw them', async () => {
    clock = new ManualClock(T0);
    harness = await startHarness({}, { clock });
    await harness.run('subscribe', [
      { customerId: 'C-ada', channel: 'email', email: 'ada@example.com', changedAt: CONSENTED },
    ]);
    clock.advance(60_000);
    const poll = await harness.runner.pollInboundUnsubscribes(undefined);
    expect(poll.changes).toEqual([]);
    expect(poll.subscribed).toEqual([
      {
        channel: 'email',
        email: 'ada@example.com',
        seenAt: new Date(clock.now()).toISOString(),
      },
    ]);
  });

  it('without a change time, uses the time it observed the withdrawal and says so (a stable event id)', async () => {
    clock = new ManualClock(T0);
    harness = await startHarness({}, { clock, emulator: new NoChangeTimeKlaviyo() });
    const cursor = await subscribeAdaAndBob();
    clock.advance(10 * 60_000);
    emulatorOf(harness).unsubscribeInEsp('bob@example.com');
    clock.advance(5 * 60_000);
    const observedAt = new Date(clock.now()).toISOString();
    const poll = await harness.runner.pollInboundUnsubscribes(cursor);
    expect(poll.changes).toHaveLength(1);
    expect(poll.changes[0]).toMatchObject({
      email: 'bob@example.com',
      change: 'unsubscribed',
      timeBasis: 'observed',
      occurredAt: observedAt,
    });
    // Polled again from the same cursor a minute later: the same event, so the ledger records it once.
    clock.advance(60_000);
    const again = await harness.runner.pollInboundUnsubscribes(cursor);
    expect(again.changes.map((change) => change.eventId)).toEqual([poll.changes[0]?.eventId]);
  });
});
