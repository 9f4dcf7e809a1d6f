import type { IngestedEvent, ResolvedEvent } from '@tessera/queues';
import { waitFor } from '@tessera/testing';
import { compileRules } from '@tessera/transform';
import type { PipelineDestination } from '../src';
import { ResolveStage } from '../src/stages/resolve-stage.service';
import { RouteStage } from '../src/stages/route-stage.service';
import { echoDestination } from './support/echo-destination';
import {
  pointsEvent,
  queueOneJobPerEvent,
  startTestPipeline,
  type TestPipeline,
} from './support/test-pipeline';

const echo = echoDestination(100);

// The resolve and route stages on the real PostgreSQL and Redis, delivering to a capture server on loopback,
// with a backlog of one-event jobs such as a trickle of single-event requests leaves in the resolve queue.
describe('PipelineWorker: resolve and route take waiting jobs in bulk', () => {
  let pipeline: TestPipeline;
  const received: string[] = [];
  const resolved: IngestedEvent[][] = [];
  const routed: ResolvedEvent[][] = [];

  beforeAll(async () => {
    // Spies that call through: they only record what each stage call was given.
    const resolveHandle = ResolveStage.prototype.handle;
    jest.spyOn(ResolveStage.prototype, 'handle').mockImplementation(function (this: ResolveStage, events) {
      resolved.push(events);
      return resolveHandle.call(this, events);
    });
    const routeHandle = RouteStage.prototype.handle;
    jest.spyOn(RouteStage.prototype, 'handle').mockImplementation(function (this: RouteStage, events) {
      routed.push(events);
      return routeHandle.call(this, events);
    });
    pipeline = await startTestPipeline({
      start: false,
      capture: (request) => {
        const items = JSON.parse(request.rawBody.toString('utf8')) as { customerId: string }[];
        received.push(...items.map((item) => item.customerId));
        return { status: 200, body: {} };
      },
      destinationsAt: (root) => [
        {
          id: 'echo-1',
          brand: 'sd',
          type: 'echo',
          definition: echo as unknown as PipelineDestination['definition'],
          settings: { apiKey: 'k', baseUrl: root },
          initialState: 'enabled',
          rules: compileRules({ mappings: { points: 'profile.?points_balance.orValue(0)' } }),
          plugins: [],
        },
      ],
    });
  }, 30_000);

  afterAll(async () => {
    jest.restoreAllMocks();
    await pipeline.close();
  });

  const delivered = async () =>
    (
      await pipeline.store.query<{ n: number }>(
        `SELECT count(DISTINCT customer_id)::int AS n FROM delivery_log WHERE status = 'delivered'`,
      )
    )[0]?.n ?? 0;

  it('resolves and routes 300 one-event jobs in a few batches, each event once; held sources’ events go back', async () => {
    const { worker } = pipeline;
    await worker.states.setSourceHold('held-source', true, { actor: 'test', reason: 'remediation' });
    // The backlog is there before the worker starts: 300 one-event jobs, and 10 of a held source among them.
    const customers = Array.from({ length: 300 }, (_, n) => `C${String(n).padStart(3, '0')}`);
    const heldCustomers = Array.from({ length: 10 }, (_, n) => `H${n}`);
    const jobs = customers.map((id) => pointsEvent('loyalty', id));
    heldCustomers.forEach((id, n) => jobs.splice(n * 30, 0, pointsEvent('held-source', id)));
    await queueOneJobPerEvent(pipeline, jobs);
    await worker.start();

    await waitFor(delivered, (n) => n === 300, 'every loyalty event delivered', { timeoutMs: 60_000 });
    const resolvedIds = resolved.flat().map((event) => event.event.id);
    const routedIds = routed.flat().map((event) => event.event.id);

    expect(resolved.length).toBeLessThanOrEqual(10);
    expect(routed.length).toBeLessThanOrEqual(10);
    expect(resolvedIds.sort()).toEqual(customers.map((id) => `loyalty-${id}`).sort());
    expect(routedIds.sort()).toEqual(customers.map((id) => `loyalty-${id}`).sort());
    expect(received.filter((id) => id.startsWith('C')).sort()).toEqual(customers);

    // The held source's events waited on the queue; released, they go through.
    await worker.states.setSourceHold('held-source', false, { actor: 'test' });
    await worker.refreshStates();
    await waitFor(delivered, (n) => n === 310, 'the held events delivered once released', {
      timeoutMs: 30_000,
    });
    expect(received.filter((id) => id.startsWith('H')).sort()).toEqual(heldCustomers);
  }, 90_000);
});
