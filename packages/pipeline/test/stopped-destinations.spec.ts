import { defineDestination, type SandboxRequest, type SandboxResponse } from '@tessera/destination-kit';
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

/** The echo destination that also deletes profiles (POST /delete) and polls for opt-outs (GET /poll). */
const echo = echoDestination(100);
const polling = defineDestination<{ baseUrl: string; apiKey: string }>({
  ...echo,
  type: 'polling',
  name: 'Polling',
  operations: {
    ...echo.operations,
    deleteProfiles: {
      batchSize: 100,
      perform: async (items, { http }) => {
        await http.post('/delete', items);
        return items.map(() => ({ status: 'ok' }));
      },
    },
  },
  pollInboundUnsubscribes: async (_cursor, { http }) => {
    await http.get('/poll');
    return { changes: [], cursor: 'polled' };
  },
});

const answer = (request: SandboxRequest): SandboxResponse =>
  request.path.endsWith('/profiles') ? { status: 200, body: { refused: [] } } : { status: 200, body: {} };

/** A destination of the polling type under `root/<id>`, so the sandbox's stats tell them apart. */
function destination(
  root: string,
  id: string,
  options: { brand?: string; initialState?: PipelineDestination['initialState']; windowMs?: number } = {},
): PipelineDestination {
  return {
    id,
    brand: options.brand ?? 'sd',
    type: 'polling',
    definition: polling as unknown as PipelineDestination['definition'],
    settings: {
      apiKey: 'k',
      baseUrl: `${root}/${id}`,
      ...(options.windowMs === undefined ? {} : { windowMs: options.windowMs }),
    },
    initialState: options.initialState ?? 'enabled',
    rules: compileRules({ mappings: { points: 'profile.?points_balance.orValue(0)' } }),
    plugins: [],
  };
}

/** Requests the capture server answered at `METHOD /<destination>/<path>` (below its mount), from its stats. */
function sent(pipeline: TestPipeline, endpoint: string): number {
  return pipeline.sandbox.stats('capture').byEndpoint[endpoint] ?? 0;
}

/** What the sandbox counted for one destination, all endpoints together. */
function sentTo(pipeline: TestPipeline, id: string): number {
  return Object.entries(pipeline.sandbox.stats('capture').byEndpoint)
    .filter(([endpoint]) => endpoint.split(' ')[1]?.startsWith(`/${id}/`))
    .reduce((total, [, count]) => total + count, 0);
}

const pause = (pipeline: TestPipeline, id: string, state: 'enabled' | 'paused' | 'disabled') =>
  pipeline.worker.states
    .setState(id, state, { actor: 'admin:spec', reason: `set ${state} by the spec` })
    .then(() => pipeline.worker.refreshStates());

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Paused and disabled destinations are sent nothing', () => {
  let pipeline: TestPipeline;

  afterEach(async () => {
    await pipeline?.close();
  });

  it('a paused destination gets no delivery and no poll until it is resumed, then both', async () => {
    pipeline = await startTestPipeline({
      capture: answer,
      destinationsAt: (root) => [
        destination(root, 'open-1', { windowMs: 0 }),
        destination(root, 'held-1', { initialState: 'paused', windowMs: 0 }),
      ],
      worker: { inboundPollMs: 200 },
    });
    await queueOneJobPerEvent(pipeline, [pointsEvent('sd-loyalty', 'C-PAUSE-1')]);
    await waitFor(
      () => sent(pipeline, 'POST /open-1/profiles'),
      (count) => count === 1,
      'the enabled destination gets the profile',
    );
    await waitFor(
      () => sent(pipeline, 'GET /open-1/poll'),
      (count) => count >= 3,
      'the enabled destination is polled',
    );
    // Long enough for several polls and a flush: the paused one was sent nothing at all.
    await settle(1_000);
    expect(sentTo(pipeline, 'held-1')).toBe(0);
    expect(await pipeline.worker.pollInbound('held-1')).toEqual({ changes: 0, skipped: 'paused' });
    expect(sentTo(pipeline, 'held-1')).toBe(0);

    await pause(pipeline, 'held-1', 'enabled');
    await waitFor(
      () => sent(pipeline, 'POST /held-1/profiles'),
      (count) => count === 1,
      'the resumed destination gets the profile that waited',
    );
    await waitFor(
      () => sent(pipeline, 'GET /held-1/poll'),
      (count) => count >= 1,
      'the resumed destination is polled again',
    );
  }, 30_000);

  it('items waiting in the window of a destination disabled meanwhile are dropped and logged, not sent', async () => {
    pipeline = await startTestPipeline({
      capture: answer,
      destinationsAt: (root) => [destination(root, 'off-1', { windowMs: 1_500 })],
    });
    await queueOneJobPerEvent(pipeline, [pointsEvent('sd-loyalty', 'C-OFF-1')]);
    await waitFor(
      async () => (await pipeline.worker.deliveryWindow.size('off-1')).waiting,
      (waiting) => waiting === 1,
      'the item waits in the window',
    );
    await pause(pipeline, 'off-1', 'disabled');
    const logged = await waitFor(
      () => pipeline.worker.deliveryLog.forCustomer('C-OFF-1', { limit: 10 }),
      (entries) => entries.length === 1,
      'the flush settles the item',
    );
    expect(logged.map((entry) => [entry.status, entry.detail])).toEqual([
      ['dropped', 'destination disabled: not sent'],
    ]);
    expect(sent(pipeline, 'POST /off-1/profiles')).toBe(0);
  }, 30_000);

  it('an erasure goes only to the destinations holding the person (a disabled one too), and waits, pending, at a paused one', async () => {
    pipeline = await startTestPipeline({
      capture: answer,
      destinationsAt: (root) => [
        destination(root, 'erase-a', { windowMs: 0 }),
        destination(root, 'erase-b', { windowMs: 0 }),
        destination(root, 'erase-d', { windowMs: 0 }),
        // Another brand's: it was never sent the person.
        destination(root, 'erase-c', { brand: 'fl', windowMs: 0 }),
      ],
    });
    await queueOneJobPerEvent(pipeline, [pointsEvent('sd-loyalty', 'C-ERASE-1')]);
    for (const id of ['erase-a', 'erase-b', 'erase-d'])
      await waitFor(
        () => sent(pipeline, `POST /${id}/profiles`),
        (count) => count === 1,
        `${id} holds the profile`,
      );
    await pause(pipeline, 'erase-b', 'paused');
    // Disabled: no more marketing sync, but what its ESP holds of the person must still go.
    await pause(pipeline, 'erase-d', 'disabled');

    const { dsr } = pipeline.worker;
    const request = await dsr.open({
      type: 'erasure',
      identities: { customerId: 'C-ERASE-1' },
      requestedBy: 'admin:spec',
    });
    await pipeline.worker.enqueueDsr('erasure', request.id);
    const waiting = await waitFor(
      () => dsr.requests.get(request.id),
      (current) => current?.status === 'open' && current.detail['graphErased'] === true,
      'the erasure ran and waits for the paused destination',
    );
    expect(waiting?.detail['waitingFor']).toEqual(['erase-b']);
    expect(
      (await dsr.requests.destinationResults(request.id)).map(({ destinationId, status, detail }) => ({
        destinationId,
        status,
        detail,
      })),
    ).toEqual([
      { destinationId: 'erase-a', status: 'ok', detail: null },
      {
        destinationId: 'erase-b',
        status: 'pending',
        detail: 'destination paused: the deletion is sent once it is resumed',
      },
      { destinationId: 'erase-d', status: 'ok', detail: null },
    ]);
    expect(sent(pipeline, 'POST /erase-a/delete')).toBe(1);
    expect(sent(pipeline, 'POST /erase-d/delete')).toBe(1);
    expect(sent(pipeline, 'POST /erase-c/delete')).toBe(0);
    await settle(500);
    expect(sent(pipeline, 'POST /erase-b/delete')).toBe(0);

    await pause(pipeline, 'erase-b', 'enabled');
    const done = await waitFor(
      () => dsr.requests.get(request.id),
      (current) => current?.status === 'completed',
      'the erasure completes once the destination is resumed',
    );
    expect(done?.detail['waitingFor']).toBeUndefined();
    expect(sent(pipeline, 'POST /erase-b/delete')).toBe(1);
    expect(sent(pipeline, 'POST /erase-a/delete')).toBe(1);
    expect(sent(pipeline, 'POST /erase-c/delete')).toBe(0);
    expect((await dsr.requests.destinationResults(request.id)).map((result) => result.status)).toEqual([
      'ok',
      'ok',
      'ok',
    ]);
  }, 40_000);
});
