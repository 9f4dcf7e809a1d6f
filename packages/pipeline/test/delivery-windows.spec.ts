import { type SandboxRequest, type SandboxResponse } from '@tessera/destination-kit';
import { waitFor } from '@tessera/testing';
import { compileRules } from '@tessera/transform';
import type { PipelineDestination } from '../src';
import { echoDestination } from './support/echo-destination';
import {
  pointsEvent,
  queueOneJobPerEvent,
  startTestPipeline,
  type TestPipeline,
} from './support/test-pipeline';

const echo = echoDestination(1_000) as unknown as PipelineDestination['definition'];

// A trickle of one-event resolve jobs through the real stages (PostgreSQL, Redis) to two capture servers: one
// destination with the default 2 s window, one with `windowMs: 0` (each route batch goes at once).
describe('Delivery windows in the running pipeline', () => {
  let pipeline: TestPipeline;
  let failNext = 0;
  const requests: Record<string, { customers: string[]; status: number }[]> = { windowed: [], direct: [] };

  beforeAll(async () => {
    pipeline = await startTestPipeline({
      capture: (request: SandboxRequest): SandboxResponse => {
        const which = request.path.startsWith('/windowed') ? 'windowed' : 'direct';
        const customers = (JSON.parse(request.rawBody.toString('utf8')) as { customerId: string }[]).map(
          (item) => item.customerId,
        );
        if (which === 'windowed' && failNext > 0) {
          failNext -= 1;
          requests[which]?.push({ customers, status: 503 });
          return { status: 503, headers: { 'retry-after': '1' }, body: { error: 'down' } };
        }
        requests[which]?.push({ customers, status: 200 });
        return { status: 200, body: {} };
      },
      destinationsAt: (root) =>
        (
          [
            ['windowed-1', 'windowed', {}],
            ['direct-1', 'direct', { windowMs: 0 }],
          ] as const
        ).map(([id, path, settings]) => ({
          id,
          brand: 'sd',
          type: 'echo',
          definition: echo,
          settings: { apiKey: 'k', baseUrl: `${root}/${path}`, ...settings },
          initialState: 'enabled',
          rules: compileRules({ mappings: { points: 'profile.?points_balance.orValue(0)' } }),
          plugins: [],
        })),
    });
  }, 30_000);

  afterAll(() => pipeline.close());

  const deliveredTo = async (destinationId: string) =>
    (
      await pipeline.store.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM delivery_log WHERE status = 'delivered' AND destination_id = $1`,
        [destinationId],
      )
    )[0]?.n ?? 0;

  it('gathers a trickle of events into a few requests, where no window sends about one per event', async () => {
    const customers = Array.from({ length: 24 }, (_, index) => `T${index}`);
    await queueOneJobPerEvent(
      pipeline,
      customers.map((id) => pointsEvent('loyalty', id, `trickle-${id}`)),
      60,
    );
    await waitFor(
      () => deliveredTo('windowed-1'),
      (n) => n === 24,
      'every event at the windowed destination',
    );
    await waitFor(
      () => deliveredTo('direct-1'),
      (n) => n === 24,
      'every event at the direct destination',
    );

    const windowed = requests['windowed'] ?? [];
    const direct = requests['direct'] ?? [];
    expect(windowed.flatMap((request) => request.customers).sort()).toEqual([...customers].sort());
    // 24 events over ~1.5 s: one or two windows of 2 s.
    expect(windowed.length).toBeLessThanOrEqual(2);
    expect(direct.length).toBeGreaterThan(windowed.length * 4);
    expect((await pipeline.worker.deliveryWindow.size('windowed-1')).waiting).toBe(0);
  }, 60_000);

  it('reports the items waiting in each window among the queue depths', async () => {
    await pipeline.worker.delivery.enqueue(
      'direct-1',
      [
        {
          operation: { operation: 'upsertProfiles', item: { customerId: 'W1', version: 1, attributes: {} } },
          itemKey: 'waiting-W1',
          customerId: 'W1',
          receivedAt: new Date().toISOString(),
          attempts: 1,
        },
      ],
      60_000,
    );
    const depths = await pipeline.worker.queueDepths();
    expect(depths).toContainEqual({ queue: 'deliver-direct-1', state: 'in_window', count: 1 });
    expect(depths).toContainEqual({ queue: 'deliver-windowed-1', state: 'in_window', count: 0 });
    await pipeline.worker.deliveryWindow.drop('direct-1');
  });

  it('sends retried items back as one batch through the window, honouring Retry-After', async () => {
    requests['windowed'] = [];
    failNext = 1;
    const customers = ['R1', 'R2', 'R3', 'R4', 'R5'];
    await queueOneJobPerEvent(
      pipeline,
      customers.map((id) => pointsEvent('loyalty', id, `retry-${id}`)),
    );
    await waitFor(
      () => deliveredTo('windowed-1'),
      (n) => n === 24 + 5,
      'the retried items delivered',
      {
        timeoutMs: 40_000,
      },
    );
    const windowed = requests['windowed'] ?? [];
    // The failed request and the retry: each carries all five (not one request per retried item).
    expect(windowed.map((request) => request.status)).toEqual([503, 200]);
    expect(windowed.map((request) => request.customers.sort())).toEqual([customers, customers]);
  }, 60_000);
});
