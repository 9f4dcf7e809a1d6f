import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import {
  defineDestination,
  AllowedDestinationHosts,
  DestinationHarness,
  DestinationRunner,
  type DestinationDefinition,
  type EmulatorTools,
  type ProfileUpsert,
  type RateWindow,
  type SandboxRequest,
  type SandboxResponse,
} from '@tessera/destination-kit';
import { RedisRateGate } from './redis-rate-gate';

// (Not @tessera/testing: it depends on this package.)
const TEST_REDIS_URL = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The window the ESP publishes for its whole REST API, per account; the emulator below enforces it too. */
const ACCOUNT_WINDOW: RateWindow = { requests: 10, perMs: 500 };

type TenantSettings = { baseUrl: string; apiKey: string; listId: string };

/** Two operations on different endpoints, one budget for every request of the account. */
function tenantDestination(window: RateWindow = ACCOUNT_WINDOW): DestinationDefinition<TenantSettings> {
  return defineDestination<TenantSettings>({
    type: 'tenant',
    name: 'Tenant',
    hosts: ['api.tenant.invalid'],
    settingsSchema: {
      type: 'object',
      properties: {
        baseUrl: { type: 'string', default: 'https://api.tenant.invalid' },
        apiKey: { type: 'string', 'x-secret': true },
        listId: { type: 'string' },
      },
      required: ['apiKey', 'listId'],
    },
    rateBudgets: { rest: { windows: [window], requests: ['* /**'] } },
    requestHeaders: (settings): Record<string, string> => ({ 'x-api-key': settings.apiKey }),
    testConnection: async ({ http }) => void (await http.get('/me')),
    operations: {
      upsertProfiles: {
        batchSize: 1,
        perform: async (items, { http, settings }) => {
          await http.put(`/lists/${settings.listId}/profiles/${items[0]?.customerId ?? ''}`, {});
          return items.map(() => ({ status: 'ok' }));
        },
      },
      suppress: {
        batchSize: 1,
        perform: async (items, { http }) => {
          await http.post('/suppressions', { ids: items.map((item) => item.customerId) });
          return items.map(() => ({ status: 'ok' }));
        },
      },
    },
  });
}

const profile = (n: number): ProfileUpsert => ({ customerId: `C${n}`, version: 1, attributes: {} });

/** Answers 429 (with Retry-After) once the account's window is full, as the ESP does, counting arrivals. */
function enforcingAccountWindow(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
  const waitMs = tools.rateLimit(`account:${request.headers['x-api-key'] ?? ''}`, [ACCOUNT_WINDOW]);
  if (waitMs !== undefined) {
    return { status: 429, headers: { 'retry-after': String(Math.ceil(waitMs / 1000)) }, body: {} };
  }
  return { status: 200, body: {} };
}

// Medium tier: the pipeline's Redis-backed gate, real HTTP to a sandbox that enforces the ESP's window.
describe('rate budgets through RedisRateGate', () => {
  let prefix: string;
  const clients: Redis[] = [];
  const workerGate = (): RedisRateGate => {
    const client = new Redis(TEST_REDIS_URL);
    clients.push(client);
    return new RedisRateGate(client, prefix);
  };

  beforeEach(() => {
    prefix = `{tessera-test-${randomBytes(6).toString('hex')}}`;
  });

  afterEach(async () => {
    const [first] = clients;
    if (first !== undefined) {
      let cursor = '0';
      do {
        const [next, keys] = await first.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await first.del(...keys);
      } while (cursor !== '0');
    }
    await Promise.all(clients.splice(0).map((client) => client.quit()));
  });

  it('two workers running two destination instances of one account share one budget: no 429 in a burst', async () => {
    const harness = await DestinationHarness.start({
      definition: tenantDestination(),
      settings: { apiKey: 'account-1', listId: 'L1' },
      respond: enforcingAccountWindow,
      limitsLifted: false,
      runner: { rateGate: workerGate(), instanceKey: 'dest-a' },
    });
    // Another worker process (its own Redis connection) delivering a second destination on the same account.
    const otherWorker = new DestinationRunner(tenantDestination(), {
      settings: { apiKey: 'account-1', listId: 'L2', baseUrl: harness.baseUrl },
      rateGate: workerGate(),
      instanceKey: 'dest-b',
      allowedHosts: AllowedDestinationHosts.none.with(harness.baseUrl),
    });
    try {
      expect(otherWorker.accountKey).toBe(harness.runner.accountKey);
      const startedAt = Date.now();
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, n) => {
          const runner = n % 2 === 0 ? harness.runner : otherWorker;
          // Both operations, on different endpoints, draw on the one account budget.
          return n % 4 < 2
            ? runner.run('upsertProfiles', [profile(n)])
            : runner.run('suppress', [profile(n)]);
        }),
      );
      const elapsedMs = Date.now() - startedAt;
      const statuses = harness.requests().map((request) => request.status);
      expect(statuses.filter((status) => status === 429)).toEqual([]);
      expect(statuses).toHaveLength(40);
      expect(results.flat().every((result) => result.status === 'ok')).toBe(true);
      // 40 requests at 10 per window: the budget holds them to 4 windows at least, and uses it (one request a
      // window would take 20 s; the bound leaves a busy machine room).
      expect(elapsedMs).toBeGreaterThanOrEqual(3 * ACCOUNT_WINDOW.perMs);
      expect(elapsedMs).toBeLessThan(20 * ACCOUNT_WINDOW.perMs);
    } finally {
      await harness.close();
    }
  });

  it('the emulator throttles the same burst sent without a rate gate (so the check above can fail)', async () => {
    const harness = await DestinationHarness.start({
      definition: tenantDestination(),
      settings: { apiKey: 'account-2', listId: 'L1' },
      respond: enforcingAccountWindow,
      limitsLifted: false,
    });
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, n) => harness.run('upsertProfiles', [profile(n)])),
      );
      // 20 at once against 10 a window: throttled (how many depends on how long the burst takes to arrive on a
      // busy machine), and every throttled request came back as a retry, never as a failure.
      const throttled = harness.requests().filter((request) => request.status === 429).length;
      expect(throttled).toBeGreaterThan(0);
      expect(results.flat().filter((result) => result.status === 'retry')).toHaveLength(throttled);
      expect(results.flat().filter((result) => result.status === 'ok')).toHaveLength(20 - throttled);
    } finally {
      await harness.close();
    }
  });

  it('keeps accounts apart: another account is not held by a full budget', async () => {
    // A long window, so that "held" and "not held" differ by seconds, not by how busy the machine is.
    const window: RateWindow = { requests: 10, perMs: 5_000 };
    const gate = workerGate();
    const harness = await DestinationHarness.start({
      definition: tenantDestination(window),
      settings: { apiKey: 'account-3', listId: 'L1' },
      respond: enforcingAccountWindow,
      limitsLifted: false,
      runner: { rateGate: gate },
    });
    const otherAccount = new DestinationRunner(tenantDestination(window), {
      settings: { apiKey: 'account-4', listId: 'L1', baseUrl: harness.baseUrl },
      rateGate: gate,
      allowedHosts: AllowedDestinationHosts.none.with(harness.baseUrl),
    });
    try {
      await Promise.all(Array.from({ length: 10 }, (_, n) => harness.run('upsertProfiles', [profile(n)])));
      // Account 3's budget is spent: its next request waits for the window; account 4's ten go now.
      const finished: string[] = [];
      await Promise.all([
        harness.run('upsertProfiles', [profile(10)]).then(() => finished.push('account-3')),
        ...Array.from({ length: 10 }, (_, n) =>
          otherAccount.run('upsertProfiles', [profile(n)]).then(() => finished.push('account-4')),
        ),
      ]);
      expect(finished).toEqual([...Array.from({ length: 10 }, () => 'account-4'), 'account-3']);
      expect(harness.requests().filter((request) => request.status === 429)).toEqual([]);
    } finally {
      await harness.close();
    }
  });
});
