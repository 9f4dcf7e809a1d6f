import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import {
  DeliveryLog,
  type DeliveryLogEntry,
  formatDeliveryCursor,
  parseDeliveryCursor,
} from '../../src/store';
import { at } from './store-fixture';

// The profile API pages a customer's deliveries newest first with a cursor (issue 19 item 11).

function entry(itemKey: string, overrides: Partial<DeliveryLogEntry> = {}): DeliveryLogEntry {
  return {
    brand: 'sd',
    customerId: 'C1',
    destinationId: 'sd-klaviyo',
    operation: 'upsertProfiles',
    itemKey,
    status: 'delivered',
    attempts: 1,
    ...overrides,
  };
}

describe.each(STORE_DRIVERS)('DeliveryLog paging on %s', (driver) => {
  let store: Store;
  let log: DeliveryLog;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    log = new DeliveryLog(store);
  });

  afterEach(() => store.close());

  it('pages every entry of a customer newest first, none twice, with no cursor after the last page', async () => {
    // 45 entries, three sharing one time (the id breaks the tie), and another customer's in between.
    await log.record(
      Array.from({ length: 45 }, (_, index) => entry(`k${index}`, { at: at(index < 3 ? 0 : index) })),
    );
    await log.record([entry('other', { customerId: 'C2', at: at(50) })]);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await log.pageForCustomer('C1', {
        limit: 20,
        ...(cursor === undefined ? {} : { before: parseDeliveryCursor(cursor) }),
      });
      seen.push(...page.entries.map((record) => record.itemKey));
      cursor = page.next === undefined ? undefined : formatDeliveryCursor(page.next);
      pages += 1;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(45);
    expect(new Set(seen).size).toBe(45);
    expect(seen.slice(0, 2)).toEqual(['k44', 'k43']);
    expect(seen.slice(-3)).toEqual(['k2', 'k1', 'k0']);
    expect(seen).not.toContain('other');
  });

  it('keeps its place when entries are recorded between pages', async () => {
    await log.record(Array.from({ length: 5 }, (_, index) => entry(`k${index}`, { at: at(index) })));
    const first = await log.pageForCustomer('C1', { limit: 2 });
    expect(first.entries.map((record) => record.itemKey)).toEqual(['k4', 'k3']);
    await log.record([entry('newer', { at: at(9) })]);
    const second = await log.pageForCustomer('C1', { limit: 2, before: first.next });
    expect(second.entries.map((record) => record.itemKey)).toEqual(['k2', 'k1']);
    const exact = await log.pageForCustomer('C1', { limit: 1, before: second.next });
    expect(exact.entries.map((record) => record.itemKey)).toEqual(['k0']);
    expect(exact.next).toBeUndefined();
  });

  it('reads back only cursors it could have written', () => {
    expect(parseDeliveryCursor(formatDeliveryCursor({ at: at(3), id: 17 }))).toEqual({ at: at(3), id: 17 });
    for (const text of ['', 'abc', '12', '12.', '.5', '1.2.3', '-1.5', '1e3.4', '1.99999999999999999999']) {
      expect(parseDeliveryCursor(text)).toBeUndefined();
    }
  });
});
