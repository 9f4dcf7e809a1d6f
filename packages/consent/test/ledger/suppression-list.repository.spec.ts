import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { AuditLog, SuppressionList } from '../../src/ledger';
import { emailKey, phoneKey } from './ledger-fixture';

const ANA = emailKey('ana@example.com');
const BRUNO = emailKey('bruno@example.com');
const PHONE = phoneKey('+447700900123');

describe.each(STORE_DRIVERS)('SuppressionList and AuditLog on %s', (driver) => {
  let store: Store;
  let clock: Date;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    clock = new Date('2026-03-01T08:00:00Z');
  });

  afterEach(() => store.close());

  it('suppresses by blind index, per brand or for every brand, and keeps the first time', async () => {
    const list = new SuppressionList(store, { now: () => clock });
    expect(
      await list.suppress([
        { subjectType: 'email', subjectKey: ANA, brand: '*', reason: 'spam_complaint' },
        { subjectType: 'email', subjectKey: BRUNO, brand: 'sd', reason: 'hard_bounce' },
        { subjectType: 'email', subjectKey: BRUNO, brand: 'sd', reason: 'repeated in the batch' },
      ]),
    ).toBe(2);
    const first = clock;
    clock = new Date('2026-03-02T08:00:00Z');
    expect(
      await list.suppress([
        { subjectType: 'email', subjectKey: BRUNO, brand: 'sd', reason: 'hard_bounce again' },
        { subjectType: 'phone', subjectKey: PHONE, brand: 'flannels', reason: 'carrier_block' },
      ]),
    ).toBe(1);

    expect(await list.isSuppressed([ANA, BRUNO, PHONE], 'sd')).toEqual(new Set([ANA, BRUNO]));
    expect(await list.isSuppressed([ANA, BRUNO, PHONE], 'flannels')).toEqual(new Set([ANA, PHONE]));
    expect(await list.isSuppressed([BRUNO], 'evans')).toEqual(new Set());
    expect(await list.list({ brand: 'sd' })).toEqual([
      { subjectType: 'email', subjectKey: BRUNO, brand: 'sd', reason: 'hard_bounce', suppressedAt: first },
    ]);
    expect((await list.list()).map((item) => item.subjectKey)).toEqual(
      expect.arrayContaining([ANA, BRUNO, PHONE]),
    );

    expect(await list.lift(BRUNO, 'sd')).toBe(true);
    expect(await list.lift(BRUNO, 'sd')).toBe(false);
    // Lifting a brand's suppression leaves the all-brand one in force.
    expect(await list.lift(ANA, 'sd')).toBe(false);
    expect(await list.isSuppressed([ANA, BRUNO], 'sd')).toEqual(new Set([ANA]));
  });

  it('ends an erasure for the brand a member registers with again, and for that brand only', async () => {
    const list = new SuppressionList(store, { now: () => clock });
    const erasedAt = clock;
    await list.suppress([
      { subjectType: 'email', subjectKey: ANA, brand: '*', reason: 'erasure' },
      { subjectType: 'email', subjectKey: BRUNO, brand: '*', reason: 'spam_complaint' },
    ]);
    const brands = ['sd', 'flannels', 'evans'];
    // A grant captured before the erasure ends nothing (a late event, not a registration).
    expect(await list.endErasure(ANA, 'sd', new Date('2026-02-28T00:00:00Z'), brands)).toBe(false);
    expect(await list.isSuppressed([ANA], 'sd')).toEqual(new Set([ANA]));

    expect(await list.endErasure(ANA, 'sd', new Date('2026-03-05T00:00:00Z'), brands)).toBe(true);
    expect(await list.isSuppressed([ANA], 'sd')).toEqual(new Set());
    // Every other brand stays suppressed, with the erasure's time and reason.
    expect(await list.isSuppressed([ANA], 'flannels')).toEqual(new Set([ANA]));
    expect(await list.isSuppressed([ANA], 'evans')).toEqual(new Set([ANA]));
    expect(
      (await list.list({ subjectKeys: [ANA] })).map((item) => [item.brand, item.reason, item.suppressedAt]),
    ).toEqual(
      [
        ['evans', 'erasure', erasedAt],
        ['flannels', 'erasure', erasedAt],
      ].sort(),
    );
    // Then a second brand: its own suppression ends too.
    expect(await list.endErasure(ANA, 'flannels', new Date('2026-03-06T00:00:00Z'), brands)).toBe(true);
    expect(await list.isSuppressed([ANA], 'flannels')).toEqual(new Set());
    expect(await list.isSuppressed([ANA], 'evans')).toEqual(new Set([ANA]));
    // A complaint is not an erasure: a grant does not end it.
    expect(await list.endErasure(BRUNO, 'sd', new Date('2026-03-05T00:00:00Z'), brands)).toBe(false);
    expect(await list.isSuppressed([BRUNO], 'sd')).toEqual(new Set([BRUNO]));
  });

  it('refuses a plaintext contact point and writes nothing', async () => {
    const list = new SuppressionList(store);
    await expect(
      list.suppress([
        { subjectType: 'email', subjectKey: ANA, brand: 'sd', reason: 'hard_bounce' },
        { subjectType: 'email', subjectKey: 'ana@example.com', brand: 'sd', reason: 'hard_bounce' },
      ]),
    ).rejects.toThrow(/not a blind index/);
    expect(await list.list()).toEqual([]);
  });

  it('records audit rows and serves them newest first, by customer, action and time', async () => {
    const audit = new AuditLog(store, { now: () => clock });
    await audit.record([
      { actor: 'admin:lead', action: 'dsr.export', customerId: 'C1', detail: { requestId: 'r1' } },
      { actor: 'admin:lead', action: 'dsr.export', customerId: 'C2' },
    ]);
    clock = new Date('2026-03-01T09:00:00Z');
    await audit.record([
      { actor: 'esp:sd-klaviyo', action: 'consent.withdrawn', customerId: 'C1', subjectKey: ANA },
    ]);
    clock = new Date('2026-03-01T10:00:00Z');
    await store.transaction((tx) =>
      audit.record([{ actor: 'system:retention', action: 'erasure', customerId: 'C1' }], tx),
    );

    const c1 = await audit.query({ customerId: 'C1' });
    expect(c1.map((row) => [row.action, row.at.toISOString()])).toEqual([
      ['erasure', '2026-03-01T10:00:00.000Z'],
      ['consent.withdrawn', '2026-03-01T09:00:00.000Z'],
      ['dsr.export', '2026-03-01T08:00:00.000Z'],
    ]);
    expect(c1[1]).toEqual({
      id: expect.any(Number),
      at: new Date('2026-03-01T09:00:00Z'),
      actor: 'esp:sd-klaviyo',
      action: 'consent.withdrawn',
      customerId: 'C1',
      subjectKey: ANA,
      detail: {},
    });
    expect(c1[2].detail).toEqual({ requestId: 'r1' });
    const window = await audit.query({
      customerId: 'C1',
      from: new Date('2026-03-01T08:30:00Z'),
      to: new Date('2026-03-01T10:00:00Z'),
    });
    expect(window.map((row) => row.action)).toEqual(['consent.withdrawn']);
    expect((await audit.query({ action: 'dsr.export' })).map((row) => row.customerId)).toEqual(['C2', 'C1']);
    expect(await audit.query({ limit: 1 })).toHaveLength(1);
  });
});
