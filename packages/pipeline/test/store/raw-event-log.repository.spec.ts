import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { InvalidRawEventError, RawEventLog, rawEventKeyString, type RawEventKey } from '../../src/store';
import { at, ingested, tableText, vault } from './store-fixture';

const NOW = new Date('2026-03-01T00:00:00Z');
const keyOf = (id: string, sourceId = 'src-web'): RawEventKey => ({
  sourceId,
  eventSource: 'https://shop.example/orders',
  eventId: id,
});

describe.each(STORE_DRIVERS)('RawEventLog on %s', (driver) => {
  let store: Store;
  let log: RawEventLog;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    log = new RawEventLog(store, vault, { now: () => NOW });
  });

  afterEach(() => store.close());

  const count = async () =>
    (await store.query<{ n: number }>('SELECT count(*)::int AS n FROM raw_events'))[0].n;

  it('migrates: the pipeline tables exist on a scratch store', async () => {
    const tables = [
      'raw_events',
      'destination_states',
      'source_holds',
      'delivery_log',
      'dead_letters',
      'inbound_cursors',
    ];
    const rows = await store.query<{ t: string | null }>(
      'SELECT to_regclass(name)::text AS t FROM unnest($1::text[]) AS name',
      [tables],
    );
    expect(rows.map((row) => row.t)).toEqual(tables);
  });

  it('stores each event once: false for a repeat within the batch and across batches', async () => {
    const a = ingested({ id: 'a' });
    const b = ingested({ id: 'b' });
    // Same CloudEvent id through another source, or from another CloudEvent source: different events.
    const otherSource = ingested({ id: 'a', sourceId: 'src-app' });
    const otherEventSource = ingested({ id: 'a', source: 'https://pos.example' });
    expect(await log.append([a, b, a, otherSource, otherEventSource, b])).toEqual([
      true,
      true,
      false,
      true,
      true,
      false,
    ]);
    expect(await log.append([ingested({ id: 'c' }), a, otherSource])).toEqual([true, false, false]);
    expect(await log.append([])).toEqual([]);
    expect(await count()).toBe(5);
  });

  it('appends a batch of 1,000 with repeats in one call, and recognises all of them the second time', async () => {
    const events = Array.from({ length: 1_000 }, (_, i) => ingested({ id: `e${i % 900}`, received: i }));
    const first = await log.append(events);
    expect(first.filter(Boolean)).toHaveLength(900);
    expect(first.slice(900).every((fresh) => !fresh)).toBe(true);
    expect((await log.append(events)).some(Boolean)).toBe(false);
    expect(await count()).toBe(900);
  });

  it('keeps no contact point in clear: the payload is sealed and binds its row', async () => {
    await log.append([ingested({ id: 'a', email: 'ana.secret@example.com' })]);
    const text = await tableText(store, 'raw_events');
    expect(text).not.toContain('ana.secret@example.com');
    expect(text).not.toContain('+33612345678');
    // Moving a sealed payload to another row does not open.
    await log.append([ingested({ id: 'b' })]);
    await store.query(
      `UPDATE raw_events SET payload_ciphertext = (SELECT payload_ciphertext FROM raw_events WHERE event_id = 'a')
        WHERE event_id = 'b'`,
    );
    await expect(log.find({ limit: 10 })).rejects.toThrow();
  });

  it('refuses a batch holding an invalid event and writes none of it', async () => {
    const bad = { ...ingested({ id: 'x' }), receivedAt: 'yesterday' };
    await expect(log.append([ingested({ id: 'ok' }), bad])).rejects.toThrow(
      new InvalidRawEventError('RawEventLog.append: event 1 cannot be stored: receivedAt is not a date-time'),
    );
    expect(await count()).toBe(0);
  });

  it('appends inside the caller transaction', async () => {
    await expect(
      store.transaction(async (tx) => {
        expect(await log.append([ingested({ id: 'a' })], tx)).toEqual([true]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await count()).toBe(0);
  });

  it('finds events decrypted, by customer, brand and time, in order, a page at a time', async () => {
    // Three events share a received time: the key orders them.
    const events = [
      ingested({ id: 'e3', received: 5 }),
      ingested({ id: 'e1', received: 5 }),
      ingested({ id: 'e2', received: 5 }),
      ingested({ id: 'e0', received: 1 }),
      ingested({ id: 'e4', received: 9, brand: 'other' }),
      ingested({ id: 'e5', received: 20 }),
    ];
    await log.append(events);
    expect(
      await log.assignCustomers([
        ...['e0', 'e1', 'e2', 'e3', 'e4'].map((id) => ({ ...keyOf(id), customerId: 'C1' })),
        { ...keyOf('e5'), customerId: 'C2' },
        { ...keyOf('missing'), customerId: 'C1' },
      ]),
    ).toBe(6);

    const ids = async (filter: Parameters<RawEventLog['find']>[0]) => {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await log.find({ ...filter, afterKey: cursor });
        seen.push(...page.events.map((event) => event.event.id));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor !== undefined && pages < 20);
      return seen;
    };
    expect(await ids({ customerId: 'C1', limit: 2 })).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    expect(await ids({ customerId: 'C1', brand: 'sd', limit: 1 })).toEqual(['e0', 'e1', 'e2', 'e3']);
    expect(await ids({ from: at(5), to: at(20), limit: 100 })).toEqual(['e1', 'e2', 'e3', 'e4']);
    expect(await ids({ limit: 6 })).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5']);

    const page = await log.find({ customerId: 'C2', limit: 10 });
    expect(page).toEqual({ events: [events[5]] });
    await expect(log.find({ limit: 10, afterKey: 'not-a-cursor' })).rejects.toThrow(
      'RawEventLog.find: afterKey is not a cursor this log returned',
    );
  });

  it('assigns customers for 1,000 events in one call, and detaches with null', async () => {
    const events = Array.from({ length: 1_000 }, (_, i) => ingested({ id: `e${i}` }));
    await log.append(events);
    const assignments = events.map((_, i) => ({ ...keyOf(`e${i}`), customerId: `C${i % 10}` }));
    expect(await log.assignCustomers(assignments)).toBe(1_000);
    // Unchanged rows are not rewritten.
    expect(await log.assignCustomers(assignments)).toBe(0);
    expect(await log.assignCustomers([{ ...keyOf('e3'), customerId: null }])).toBe(1);
    const rows = await store.query<{ customer_id: string | null; n: number }>(
      'SELECT customer_id, count(*)::int AS n FROM raw_events GROUP BY customer_id ORDER BY customer_id',
    );
    expect(rows[0]).toEqual({ customer_id: 'C0', n: 100 });
    expect(rows.find((row) => row.customer_id === null)).toEqual({ customer_id: null, n: 1 });
  });

  it('tracks progress: resolved (with or without a profile) and routed', async () => {
    await log.append([ingested({ id: 'a' }), ingested({ id: 'b' }), ingested({ id: 'c' })]);
    await store.transaction((tx) =>
      log.markResolved(
        [
          { key: keyOf('a'), customerId: 'C1' },
          { key: keyOf('b'), customerId: null },
        ],
        tx,
      ),
    );
    await log.markRouted([keyOf('a')]);
    const progress = await log.progress([keyOf('a'), keyOf('b'), keyOf('c'), keyOf('missing')]);
    expect(progress).toEqual(
      new Map([
        [rawEventKeyString(keyOf('a')), { customerId: 'C1', resolved: true, routed: true }],
        [rawEventKeyString(keyOf('b')), { customerId: null, resolved: true, routed: false }],
        [rawEventKeyString(keyOf('c')), { customerId: null, resolved: false, routed: false }],
      ]),
    );
    expect(rawEventKeyString(keyOf('a'))).toBe('src-web\u0000https://shop.example/orders\u0000a');
  });

  it('deletes only events received before the cutoff', async () => {
    await log.append([
      ingested({ id: 'old', received: 1 }),
      ingested({ id: 'edge', received: 10 }),
      ingested({ id: 'new', received: 11 }),
    ]);
    expect(await log.deleteReceivedBefore(at(10))).toBe(1);
    expect((await log.find({ limit: 10 })).events.map((event) => event.event.id)).toEqual(['edge', 'new']);
    expect(await log.deleteReceivedBefore(at(10))).toBe(0);
  });

  it('deletes in bounded batches, oldest first, for the retention job', async () => {
    await log.append(Array.from({ length: 1_000 }, (_, i) => ingested({ id: `e${i}`, received: i })));
    expect(await log.deleteReceivedBefore(at(900), 500)).toBe(500);
    expect(await log.deleteReceivedBefore(at(900), 500)).toBe(400);
    expect(await log.deleteReceivedBefore(at(900), 500)).toBe(0);
    const [first] = (await log.find({ limit: 1 })).events;
    expect(first.event.id).toBe('e900');
  });
});
