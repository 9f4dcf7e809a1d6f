import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { DeliveryDashboard, DestinationStateBook } from '../src';

// Medium tier: the figures are aggregates over the real store's timestamps.
describe.each(STORE_DRIVERS)('DeliveryDashboard on %s', (driver) => {
  let store: Store;
  let clock: Date;
  let dashboard: DeliveryDashboard;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    clock = new Date('2026-11-24T10:00:00Z');
    dashboard = new DeliveryDashboard(
      store,
      () => [{ queueName: 'route', counts: async () => ({ waiting: 3, active: 1, delayed: 0, failed: 2 }) }],
      () => clock,
    );
  });

  afterEach(() => store.close());

  const receive = async (count: number, secondsAgo: number) => {
    for (let i = 0; i < count; i++) {
      await store.query(
        `INSERT INTO raw_events (source_id, event_source, event_id, brand, type, received_at, payload_ciphertext, payload_key_id)
         VALUES ('loyalty', 'spec', $1, 'sd', 'points.updated', $2, 'x', 'k')`,
        [`e-${secondsAgo}-${i}-${Math.random()}`, new Date(clock.getTime() - secondsAgo * 1000)],
      );
    }
  };

  it('counts the last 10 seconds of events, the queues and the paused destinations', async () => {
    await receive(25, 2);
    await receive(40, 30);
    await new DestinationStateBook(store).ensure([
      { id: 'sd-braze', brand: 'sd', type: 'braze', state: 'paused' },
    ]);
    const figures = await dashboard.figures();
    expect(figures).toMatchObject({
      eventsPerSecond: 2.5,
      deliveriesByDestination: [],
      failuresByClass: { validation: 0, auth: 0, retryable: 0, rejected: 0 },
      latency: { p50: null, p95: null, p99: null },
      queueDepths: [{ queue: 'route', waiting: 3, active: 1, delayed: 0, failed: 2 }],
      deadLetters: 0,
      withinTenMinutesShare: null,
      conflictingConsentProfiles: 0,
      accountLinkRate: null,
    });
    expect(figures.pausedDestinations).toEqual([
      { id: 'sd-braze', brand: 'sd', reason: null, changedAt: expect.any(Date) },
    ]);
  });

  it('shares one computation between viewers for 1.5 s, then reads the store again', async () => {
    await receive(10, 1);
    const first = await dashboard.figures();
    await receive(10, 1);
    expect(await dashboard.figures()).toBe(first);
    clock = new Date(clock.getTime() + 1_600);
    expect((await dashboard.figures()).eventsPerSecond).toBe(2);
  });
});
