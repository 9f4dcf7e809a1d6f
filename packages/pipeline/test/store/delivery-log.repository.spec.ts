import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { DeliveryLog, type DeliveryLogEntry, type DeliveryStatus } from '../../src/store';
import { at } from './store-fixture';

const NOW = at(100);

function entry(itemKey: string, overrides: Partial<DeliveryLogEntry> = {}): DeliveryLogEntry {
  return {
    sourceId: 'src-web',
    eventSource: 'https://shop.example/orders',
    eventId: 'e1',
    brand: 'sd',
    customerId: 'C1',
    destinationId: 'sd-klaviyo',
    operation: 'upsert_profile',
    itemKey,
    status: 'delivered',
    attempts: 1,
    ...overrides,
  };
}

describe.each(STORE_DRIVERS)('DeliveryLog on %s', (driver) => {
  let store: Store;
  let log: DeliveryLog;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    log = new DeliveryLog(store, { now: () => NOW });
  });

  afterEach(() => store.close());

  it('records entries and reads them per event and per customer', async () => {
    expect(
      await log.record([
        entry('k1', { at: at(1) }),
        entry('k2', { status: 'rejected', detail: 'invalid phone', attempts: 2, at: at(2) }),
        entry('k3', { eventId: 'e2', customerId: 'C2' }),
        {
          brand: 'sd',
          destinationId: 'sd-braze',
          operation: 'track',
          itemKey: 'k4',
          status: 'dropped',
          attempts: 0,
          customerId: 'C1',
        },
      ]),
    ).toBe(4);
    const forEvent = await log.forEvent({
      sourceId: 'src-web',
      eventSource: 'https://shop.example/orders',
      eventId: 'e1',
    });
    expect(forEvent).toEqual([
      { ...entry('k1'), id: expect.any(Number), at: at(1) },
      {
        ...entry('k2'),
        status: 'rejected',
        detail: 'invalid phone',
        attempts: 2,
        id: expect.any(Number),
        at: at(2),
      },
    ]);
    const c1 = await log.forCustomer('C1', { limit: 10 });
    expect(c1.map((r) => r.itemKey)).toEqual(['k1', 'k2', 'k4']);
    expect(c1[2]).toEqual({
      id: expect.any(Number),
      brand: 'sd',
      customerId: 'C1',
      destinationId: 'sd-braze',
      operation: 'track',
      itemKey: 'k4',
      status: 'dropped',
      attempts: 0,
      at: NOW,
    });
    const firstPage = await log.forCustomer('C1', { limit: 2 });
    expect(firstPage.map((r) => r.itemKey)).toEqual(['k1', 'k2']);
    expect(
      (await log.forCustomer('C1', { limit: 2, afterId: firstPage[1].id })).map((r) => r.itemKey),
    ).toEqual(['k4']);
    expect((await log.latestForCustomer('C1', 2)).map((r) => r.itemKey)).toEqual(['k4', 'k2']);
    expect(await log.latestForCustomer('nobody', 2)).toEqual([]);
    expect(await log.record([])).toBe(0);
  });

  it('records 1,000 entries in one call and answers which items were delivered in one query', async () => {
    const statuses: DeliveryStatus[] = ['delivered', 'rejected', 'dead_lettered', 'dropped'];
    const entries = Array.from({ length: 1_000 }, (_, i) => entry(`k${i}`, { status: statuses[i % 4] }));
    expect(await log.record(entries)).toBe(1_000);
    const asked = ['k0', 'k1', 'k2', 'k3', 'k4', 'k8', 'k8', 'missing'];
    expect(await log.deliveredItemKeys('sd-klaviyo', asked)).toEqual(new Set(['k0', 'k4', 'k8']));
    expect(await log.deliveredItemKeys('sd-braze', asked)).toEqual(new Set());
    expect(await log.deliveredItemKeys('sd-klaviyo', [])).toEqual(new Set());
    expect(await log.forCustomer('C1', { limit: 5_000 })).toHaveLength(1_000);
  });

  it('records inside the caller transaction, and refuses an unknown status', async () => {
    await expect(
      store.transaction(async (tx) => {
        await log.record([entry('k1')], tx);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await expect(log.record([entry('k1', { status: 'sent' as DeliveryStatus })])).rejects.toThrow(
      'DeliveryLog.record: entry 0 has unknown status "sent"',
    );
    expect(await log.forCustomer('C1', { limit: 10 })).toEqual([]);
  });

  it('deletes only entries recorded before the cutoff', async () => {
    await log.record([
      entry('old', { at: at(1) }),
      entry('edge', { at: at(10) }),
      entry('new', { at: at(11) }),
    ]);
    expect(await log.deleteBefore(at(10))).toBe(1);
    expect((await log.forCustomer('C1', { limit: 10 })).map((r) => r.itemKey)).toEqual(['edge', 'new']);
  });

  it('deletes in bounded batches, oldest first, for the retention job', async () => {
    await log.record(Array.from({ length: 1_000 }, (_, i) => entry(`k${i}`, { at: at(i) })));
    expect(await log.deleteBefore(at(900), 600)).toBe(600);
    expect(await log.deleteBefore(at(900), 600)).toBe(300);
    const [oldest] = await log.forCustomer('C1', { limit: 1 });
    expect(oldest.itemKey).toBe('k900');
    await expect(log.deleteBefore(at(900), 0)).rejects.toThrow('limit must be a positive integer, got 0');
  });
});
