import {
  DestinationHarness,
  ManualClock,
  MemoryRateGate,
  planSpecSuite,
  rateBudgetsOf,
  type RateClaim,
  type RateDone,
  type RateGate,
  type RateWindow,
} from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS, BRAZE_RATE_BUDGETS } from './braze-endpoints';
import { brazeContract } from './braze-spec-corrections';
import { brazeDestination, type BrazeSettings } from './braze.destination';
import { BrazeEmulator } from './emulator/braze.emulator';

const plan = planSpecSuite('braze');
const contract = plan.kind === 'run' ? brazeContract(plan.dir) : undefined;
const API_KEY = 'braze-rest-key-0001';
const NOW = Date.parse('2026-03-10T12:00:00Z');

/** A real in-memory gate that also notes which budgets each request claimed (the last segment of its key). */
class NotingRateGate implements RateGate {
  readonly claimed: string[][] = [];
  private readonly gate: MemoryRateGate;

  constructor(clock: ManualClock) {
    this.gate = new MemoryRateGate(clock);
  }

  acquire(key: string, windows: readonly RateWindow[], cost?: number): Promise<void> {
    return this.gate.acquire(key, windows, cost);
  }

  acquireAll(claims: readonly RateClaim[]): Promise<RateDone> {
    this.claimed.push(claims.map((claim) => claim.key.split(':').at(-1) ?? ''));
    return this.gate.acquireAll(claims);
  }
}

describe('Braze rate budgets', () => {
  let harness: DestinationHarness<BrazeSettings> | undefined;

  afterEach(async () => {
    const violations = harness?.violations() ?? [];
    await harness?.close();
    harness = undefined;
    expect(violations).toEqual([]);
  });

  async function start(clock: ManualClock, gate: RateGate, settings: Partial<BrazeSettings> = {}) {
    harness = await DestinationHarness.start<BrazeSettings>({
      definition: brazeDestination,
      emulator: new BrazeEmulator({ apiKey: API_KEY }),
      settings: { apiKey: API_KEY, ...settings },
      ...(contract === undefined ? {} : { contract }),
      // The emulator enforces its windows, so a request the budgets let through too early is answered 429.
      limitsLifted: false,
      runner: { clock, rateGate: gate },
    });
    return harness;
  }

  it('are declared once in the definition; no operation paces itself', () => {
    expect(brazeDestination.rateBudgets).toBe(BRAZE_RATE_BUDGETS);
    for (const [name, operation] of Object.entries(brazeDestination.operations)) {
      expect([name, 'rateLimits' in operation, 'requestCost' in operation]).toEqual([name, false, false]);
    }
  });

  it('put every endpoint in exactly the budget the emulator counts it in, and Braze’s shared ones together', () => {
    const budgets = rateBudgetsOf(brazeDestination);
    const names = (method: string, path: string) =>
      budgets.matching(method, path).map((budget) => budget.name);

    for (const endpoint of Object.values(BRAZE_ENDPOINTS)) {
      expect([endpoint.path, names(endpoint.method, endpoint.path)]).toEqual([
        endpoint.path,
        [endpoint.budget],
      ]);
    }
    // Endpoints the destination does not call still count where Braze counts them.
    expect(names('POST', '/users/alias/new')).toEqual(['userIdentity']);
    expect(names('POST', '/subscription/status/set')).toEqual(['subscriptionStatusSet']);
    expect(names('POST', '/email/spam/remove')).toEqual(['sharedDefault']);
  });

  it('counts every request — operations, the unsubscribe poll and testConnection — in its budget once', async () => {
    const clock = new ManualClock(NOW);
    const gate = new NotingRateGate(clock);
    const braze = await start(clock, gate, { smsSubscriptionGroupId: 'sg-sms-1' });

    await braze.run('upsertProfiles', [{ customerId: 'C1', version: 1, attributes: { tier: 'gold' } }]);
    await braze.run('subscribe', [
      { customerId: 'C1', channel: 'email', email: 'c1@example.com' },
      { customerId: 'C1', channel: 'sms' },
    ]);
    await braze.run('fetchProfiles', [{ customerId: 'C1' }]);
    await braze.run('deleteProfiles', [{ customerId: 'C1' }]);
    await braze.runner.pollInboundUnsubscribes(undefined);
    await braze.runner.testConnection();

    const sent = braze.requests().map((request) => `${request.method} ${request.path.split('?')[0]}`);
    expect(sent).toEqual([
      'POST /users/track',
      'POST /email/status',
      'POST /v2/subscription/status/set',
      'POST /users/export/ids',
      'POST /users/delete',
      'GET /email/unsubscribes',
      'GET /email/unsubscribes',
    ]);
    expect(gate.claimed).toEqual([
      ['usersTrack'],
      ['sharedDefault'],
      ['subscriptionStatusSet'],
      ['usersExportIds'],
      ['userIdentity'],
      ['sharedDefault'],
      ['sharedDefault'],
    ]);
  });

  it('paces /users/export/ids at 250 a minute: 260 requests, the last 10 a minute later, none answered 429', async () => {
    const clock = new ManualClock(NOW);
    const braze = await start(clock, new MemoryRateGate(clock));
    const items = Array.from({ length: 260 * 50 }, (_, n) => ({ customerId: `C${n}` }));

    let settled = false;
    const run = braze.run('fetchProfiles', items).finally(() => {
      settled = true;
    });
    // The gate sleeps on the manual clock: move it a second at a time while requests wait for room.
    while (!settled) {
      await new Promise((resolve) => setImmediate(resolve));
      if (clock.pendingSleeps > 0) clock.advance(1000);
    }
    const results = await run;

    expect(results.every((result) => result.status === 'ok')).toBe(true);
    const statuses = braze.requests().map((request) => request.status);
    expect(statuses).toHaveLength(260);
    expect(statuses.filter((status) => status !== 201)).toEqual([]);
    expect(clock.now() - NOW).toBeGreaterThanOrEqual(60_000);
    expect(clock.now() - NOW).toBeLessThan(70_000);
  });
});
