import { defineDestination, type DestinationDefinition, type ProfileUpsert } from './destination-definition';
import { AllowedDestinationHosts } from './destination-hosts';
import { DestinationRunner } from './destination-runner';
import { MemoryConnectionGate } from './connection-gate';
import { MemoryRateGate, type RateClaim, type RateDone } from './rate-gate';
import { ManualClock } from './retry-policy';
import type { SandboxRequest, SandboxResponse } from './sandbox/esp-emulator';
import { DestinationHarness } from './sandbox/destination-harness';

type TenantSettings = { baseUrl: string; authBaseUrl: string; clientId: string; clientSecret: string };

/** Records the budget names of every request it admits, in order, and how many were answered (`done`). */
class RecordingRateGate extends MemoryRateGate {
  readonly admitted: string[][] = [];
  answered = 0;

  override async acquireAll(claims: readonly RateClaim[]): Promise<RateDone> {
    const done = await super.acquireAll(claims);
    this.admitted.push(claims.map((claim) => claim.key.split(':').slice(2).join(':')));
    return () => {
      this.answered += 1;
      done();
    };
  }
}

/**
 * An SFMC-like tenant: an OAuth token from a second host, every REST call in one tenant-wide budget, rows in a
 * tighter one, a status poll and an inbound poll.
 */
function tenantDestination(): DestinationDefinition<TenantSettings> {
  return defineDestination<TenantSettings>({
    type: 'tenant',
    name: 'Tenant',
    hosts: ['rest.tenant.invalid', 'auth.tenant.invalid'],
    settingsSchema: {
      type: 'object',
      properties: {
        baseUrl: { type: 'string', default: 'https://rest.tenant.invalid' },
        authBaseUrl: { type: 'string', default: 'https://auth.tenant.invalid', 'x-endpoint': true },
        clientId: { type: 'string' },
        clientSecret: { type: 'string', 'x-secret': true },
      },
      required: ['clientId', 'clientSecret'],
    },
    rateBudgets: {
      rest: { windows: [{ requests: 1000, perMs: 60_000 }], requests: ['* /data/**', 'GET /platform/v1/**'] },
      rows: { windows: [{ requests: 2, perMs: 1000 }], requests: ['POST /data/v1/rows'] },
      token: { windows: [{ requests: 100, perMs: 60_000 }], requests: ['POST /v2/token'] },
    },
    authentication: {
      fetchToken: async ({ http, settings, clock }) => {
        const response = await http.post<{ access_token: string }>(`${settings.authBaseUrl}/v2/token`, {
          client_id: settings.clientId,
        });
        return { value: response.body.access_token, expiresAt: clock.now() + 600_000 };
      },
    },
    requestHeaders: (_settings, token): Record<string, string> => ({
      authorization: `Bearer ${token ?? ''}`,
    }),
    testConnection: async ({ http }) => void (await http.get('/platform/v1/tokenContext')),
    pollInboundUnsubscribes: async (cursor, { http }) => {
      await http.get('/data/v1/unsubscribes', { query: { after: cursor } });
      return { changes: [], cursor: 'c1' };
    },
    operations: {
      upsertProfiles: {
        batchSize: 2,
        perform: async (items, { http }) => {
          await http.post('/data/v1/rows', { rows: items.map((item) => ({ id: item.customerId })) });
          await http.get('/data/v1/status');
          return items.map(() => ({ status: 'ok' }));
        },
      },
    },
  });
}

const respond = (request: SandboxRequest): SandboxResponse =>
  request.path === '/v2/token' ? { status: 200, body: { access_token: 'tok' } } : { status: 200, body: {} };

const profile = (n: number): ProfileUpsert => ({ customerId: `C${n}`, version: 1, attributes: {} });

describe('DestinationRunner rate budgets', () => {
  it('acquires every matching budget before each request: token, testConnection, operations and polls', async () => {
    const gate = new RecordingRateGate();
    const harness = await DestinationHarness.start({
      definition: tenantDestination(),
      settings: { clientId: 'c1', clientSecret: 's1' },
      respond,
      runner: { rateGate: gate },
    });
    try {
      await harness.runner.testConnection();
      await harness.run('upsertProfiles', [profile(1)]);
      await harness.runner.pollInboundUnsubscribes(undefined);
      expect(gate.admitted).toEqual([['token'], ['rest'], ['rest', 'rows'], ['rest'], ['rest']]);
      expect(gate.answered).toBe(5);
      expect(harness.requests().map((request) => `${request.method} ${request.path}`)).toEqual([
        'POST /v2/token',
        'GET /platform/v1/tokenContext',
        'POST /data/v1/rows',
        'GET /data/v1/status',
        'GET /data/v1/unsubscribes',
      ]);
    } finally {
      await harness.close();
    }
  });

  it('counts two instances on one account under one key, and holds the second request until the window has room', async () => {
    const clock = new ManualClock(0);
    const gate = new MemoryRateGate(clock);
    const harness = await DestinationHarness.start({
      definition: tenantDestination(),
      settings: { clientId: 'c1', clientSecret: 's1' },
      respond,
      runner: { clock, rateGate: gate, instanceKey: 'dest-a' },
    });
    const sameAccount = new DestinationRunner(tenantDestination(), {
      settings: {
        clientId: 'c1',
        clientSecret: 's1',
        baseUrl: harness.baseUrl,
        authBaseUrl: harness.baseUrl,
      },
      clock,
      rateGate: gate,
      instanceKey: 'dest-b',
      allowedHosts: AllowedDestinationHosts.none.with(harness.baseUrl),
    });
    const otherAccount = new DestinationRunner(tenantDestination(), {
      settings: {
        clientId: 'c2',
        clientSecret: 's2',
        baseUrl: harness.baseUrl,
        authBaseUrl: harness.baseUrl,
      },
      clock,
      rateGate: gate,
      allowedHosts: AllowedDestinationHosts.none.with(harness.baseUrl),
    });
    try {
      expect(sameAccount.accountKey).toBe(harness.runner.accountKey);
      expect(otherAccount.accountKey).not.toBe(harness.runner.accountKey);
      const rows = (): number =>
        harness.requests().filter((request) => request.path === '/data/v1/rows').length;
      await harness.run('upsertProfiles', [profile(1)]);
      await sameAccount.run('upsertProfiles', [profile(2)]);
      // Another account has its own budget: it goes at once.
      await otherAccount.run('upsertProfiles', [profile(3)]);
      expect(rows()).toBe(3);
      // The account's 2 rows calls per second are spent: the third waits for the clock.
      const third = sameAccount.run('upsertProfiles', [profile(4)]);
      await waitFor(() => clock.pendingSleeps === 1);
      expect(rows()).toBe(3);
      clock.advance(1000);
      await expect(third).resolves.toEqual([{ status: 'ok' }]);
      expect(rows()).toBe(4);
    } finally {
      await harness.close();
    }
  });

  it('caps connections per account: two instances on one key share the cap', async () => {
    const connectionGate = new MemoryConnectionGate();
    const capped = { ...tenantDestination(), maxConcurrentRequests: 1 };
    let inFlight = 0;
    let peak = 0;
    const harness = await DestinationHarness.start({
      definition: capped,
      settings: { clientId: 'c1', clientSecret: 's1' },
      respond: async (request) => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 15));
        inFlight -= 1;
        return respond(request);
      },
      runner: { connectionGate, instanceKey: 'dest-a' },
    });
    const second = new DestinationRunner(capped, {
      settings: {
        clientId: 'c1',
        clientSecret: 's1',
        baseUrl: harness.baseUrl,
        authBaseUrl: harness.baseUrl,
      },
      connectionGate,
      instanceKey: 'dest-b',
      allowedHosts: AllowedDestinationHosts.none.with(harness.baseUrl),
    });
    try {
      await Promise.all([
        harness.run('upsertProfiles', [profile(1)]),
        second.run('upsertProfiles', [profile(2)]),
        harness.runner.testConnection(),
        second.testConnection(),
      ]);
      expect(peak).toBe(1);
      expect(connectionGate.count(harness.runner.accountKey)).toBe(0);
    } finally {
      await harness.close();
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
