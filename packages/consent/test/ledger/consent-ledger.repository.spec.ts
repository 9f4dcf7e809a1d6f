import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import type { CatalogEvent } from '@tessera/events';
import {
  AuditLog,
  ConsentLedger,
  entriesFromConsentEvent,
  entriesFromInboundUnsubscribes,
  foldConsent,
  REGRANT_REPLAYED_PROOF,
  REGRANT_WITHOUT_PROOF,
  SuppressionList,
} from '../../src/ledger';
import { emailKey, entry, minutes, phoneKey, vault } from './ledger-fixture';

const ANA = emailKey('ana@example.com');
const BRUNO = emailKey('bruno@example.com');
const CLOCK = new Date('2026-02-01T09:00:00Z');

// Medium tier: the real PostgreSQL on loopback and PGlite.
describe.each(STORE_DRIVERS)('ConsentLedger on %s', (driver) => {
  let store: Store;
  let ledger: ConsentLedger;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    ledger = new ConsentLedger(store, { now: () => CLOCK });
  });

  afterEach(() => store.close());

  const decisions = async (keys: string[], brand = 'sd') =>
    (await ledger.state(keys, brand)).map((state) => [
      state.subject.key === ANA ? 'ana' : 'bruno',
      state.scope.channel,
      state.scope.purpose,
      state.decision,
    ]);

  it('appends, skips duplicates by dedupeKey and keeps one state per scope', async () => {
    const grant = entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'e1', customerId: 'C1' });
    const news = entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'e2', purpose: 'newsletter' });
    expect(await ledger.append([grant, news, grant])).toEqual({
      appended: 2,
      duplicates: ['e1'],
      refused: [],
    });
    expect(await ledger.append([grant])).toEqual({ appended: 0, duplicates: ['e1'], refused: [] });

    const states = await ledger.state([ANA, BRUNO], 'sd');
    const [history] = await ledger.history({ customerId: 'C1' });
    expect(states).toEqual([
      {
        subject: { type: 'email', key: ANA },
        scope: { brand: 'sd', channel: 'email', purpose: 'marketing' },
        decision: 'granted',
        legalBasis: 'consent',
        capturedAt: minutes(1),
        ledgerId: history.id,
      },
      expect.objectContaining({ scope: { brand: 'sd', channel: 'email', purpose: 'newsletter' } }),
    ]);
    expect(history).toEqual({ ...grant, id: history.id });
    expect(await store.query('SELECT count(*)::int AS n FROM consent_ledger')).toEqual([{ n: 2 }]);
  });

  it("reads a contact point's consent in every brand at once, brand by brand", async () => {
    await ledger.append([
      entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'a-sd', brand: 'sd' }),
      entry({ key: ANA, decision: 'withdrawn', at: 1, dedupeKey: 'a-fl', brand: 'flannels' }),
      entry({ key: BRUNO, decision: 'granted', at: 1, dedupeKey: 'b-sd', brand: 'sd' }),
    ]);
    expect(
      (await ledger.stateInEveryBrand([ANA])).map((state) => [state.scope.brand, state.decision]),
    ).toEqual([
      ['flannels', 'withdrawn'],
      ['sd', 'granted'],
    ]);
    expect(await ledger.stateInEveryBrand([])).toEqual([]);
  });

  it('refuses a re-grant without new proof, with the reason, writes nothing for it and audits it', async () => {
    await ledger.append([
      entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'g1', proofRef: 'doi-1', customerId: 'C1' }),
      entry({ key: ANA, decision: 'withdrawn', at: 2, dedupeKey: 'w1', customerId: 'C1' }),
    ]);
    const result = await ledger.append([
      entry({ key: ANA, decision: 'granted', at: 3, dedupeKey: 'g2', customerId: 'C1' }),
      entry({ key: ANA, decision: 'granted', at: 4, dedupeKey: 'g3', proofRef: 'doi-1', customerId: 'C1' }),
    ]);
    expect(result).toEqual({
      appended: 0,
      duplicates: [],
      refused: [
        { dedupeKey: 'g2', reason: REGRANT_WITHOUT_PROOF },
        { dedupeKey: 'g3', reason: REGRANT_REPLAYED_PROOF },
      ],
    });
    expect(await decisions([ANA])).toEqual([['ana', 'email', 'marketing', 'withdrawn']]);
    expect((await ledger.history({ subjectKey: ANA })).map((item) => item.dedupeKey)).toEqual(['g1', 'w1']);

    // New provenance: the re-grant is applied.
    expect(
      await ledger.append([
        entry({ key: ANA, decision: 'granted', at: 5, dedupeKey: 'g4', proofRef: 'doi-2', customerId: 'C1' }),
      ]),
    ).toEqual({ appended: 1, duplicates: [], refused: [] });
    expect(await decisions([ANA])).toEqual([['ana', 'email', 'marketing', 'granted']]);

    const audit = await new AuditLog(store).query({ customerId: 'C1' });
    expect(audit.map((row) => [row.action, row.detail.dedupeKey, row.detail.reason])).toEqual(
      expect.arrayContaining([
        ['consent.granted', 'g1', undefined],
        ['consent.withdrawn', 'w1', undefined],
        ['consent.refused', 'g2', REGRANT_WITHOUT_PROOF],
        ['consent.refused', 'g3', REGRANT_REPLAYED_PROOF],
        ['consent.granted', 'g4', undefined],
      ]),
    );
    expect(audit).toHaveLength(5);
    expect(audit.every((row) => row.subjectKey === ANA && row.at.getTime() === CLOCK.getTime())).toBe(true);
  });

  it('refuses invalid entries with a reason, a plaintext subject key among them', async () => {
    const plaintext = entry({ key: 'ana@example.com', decision: 'granted', at: 1, dedupeKey: 'bad-key' });
    const smsByEmail = { ...entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'bad-scope' }) };
    smsByEmail.scope = { ...smsByEmail.scope, channel: 'sms' };
    const badTime = entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'bad-time' });
    badTime.provenance = { ...badTime.provenance, capturedAt: 'yesterday' };
    expect(await ledger.append([plaintext, smsByEmail, badTime])).toEqual({
      appended: 0,
      duplicates: [],
      refused: [
        { dedupeKey: 'bad-key', reason: 'subject key is not a blind index (32 hex characters)' },
        { dedupeKey: 'bad-scope', reason: 'sms consent must be about a phone subject' },
        { dedupeKey: 'bad-time', reason: 'capturedAt is not a date-time' },
      ],
    });
    expect(await store.query('SELECT count(*)::int AS n FROM consent_ledger')).toEqual([{ n: 0 }]);
  });

  it('lets a withdrawal beat an older grant, and keeps a late older grant from overriding it', async () => {
    await ledger.append([entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'g1', proofRef: 'p1' })]);
    await ledger.append([entry({ key: ANA, decision: 'withdrawn', at: 10, dedupeKey: 'w1' })]);
    expect(await decisions([ANA])).toEqual([['ana', 'email', 'marketing', 'withdrawn']]);

    // Captured before the withdrawal, arriving after it: history, not state.
    const late = entry({ key: ANA, decision: 'granted', at: 5, dedupeKey: 'g-late', proofRef: 'p-late' });
    expect(await ledger.append([late])).toEqual({ appended: 1, duplicates: [], refused: [] });
    const [state] = await ledger.state([ANA], 'sd');
    expect(state).toMatchObject({ decision: 'withdrawn', capturedAt: minutes(10) });
    expect((await ledger.history({ subjectKey: ANA })).map((item) => item.dedupeKey)).toEqual([
      'g1',
      'g-late',
      'w1',
    ]);
  });

  it('lets a late older withdrawal demote a later grant that had no new proof', async () => {
    await ledger.append([entry({ key: ANA, decision: 'granted', at: 10, dedupeKey: 'g1' })]);
    await ledger.append([entry({ key: ANA, decision: 'withdrawn', at: 5, dedupeKey: 'w-late' })]);
    // g1 (no proofRef) now follows a withdrawal: the fold refuses it, so the state is the withdrawal.
    expect(await ledger.state([ANA], 'sd')).toEqual([expect.objectContaining({ decision: 'withdrawn' })]);
    expect(await ledger.rebuildState()).toBe(1);
    expect(await ledger.state([ANA], 'sd')).toEqual([expect.objectContaining({ decision: 'withdrawn' })]);
  });

  it('keeps brands apart: a grant for one brand never answers for another', async () => {
    await ledger.append([
      entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'a', brand: 'sd' }),
      entry({ key: ANA, decision: 'withdrawn', at: 1, dedupeKey: 'b', brand: 'flannels' }),
    ]);
    expect(await decisions([ANA], 'sd')).toEqual([['ana', 'email', 'marketing', 'granted']]);
    expect(await decisions([ANA], 'flannels')).toEqual([['ana', 'email', 'marketing', 'withdrawn']]);
    expect(await ledger.state([ANA], 'evans')).toEqual([]);
  });

  it('never moves consent on a merge: each contact point keeps its own', async () => {
    await ledger.append([
      entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'a1', customerId: 'C1', proofRef: 'p1' }),
      entry({ key: BRUNO, decision: 'withdrawn', at: 1, dedupeKey: 'b1', customerId: 'C2' }),
    ]);
    // C2 merged into C1: later entries name C1 on both contact points.
    await ledger.append([
      entry({
        key: ANA,
        decision: 'granted',
        at: 2,
        dedupeKey: 'a2',
        customerId: 'C1',
        purpose: 'newsletter',
      }),
      entry({
        key: BRUNO,
        decision: 'withdrawn',
        at: 2,
        dedupeKey: 'b2',
        customerId: 'C1',
        purpose: 'newsletter',
      }),
    ]);
    expect(await decisions([ANA, BRUNO])).toEqual(
      expect.arrayContaining([
        ['ana', 'email', 'marketing', 'granted'],
        ['ana', 'email', 'newsletter', 'granted'],
        ['bruno', 'email', 'marketing', 'withdrawn'],
        ['bruno', 'email', 'newsletter', 'withdrawn'],
      ]),
    );
    expect(await ledger.state([ANA, BRUNO], 'sd')).toHaveLength(4);
    expect((await ledger.history({ customerId: 'C1' })).map((item) => item.dedupeKey).sort()).toEqual([
      'a1',
      'a2',
      'b2',
    ]);
  });

  it('keeps state equal to the fold under concurrent appends to one scope', async () => {
    const writers = Array.from({ length: 6 }, (_, index) =>
      ledger.append([
        entry({
          key: ANA,
          decision: index % 2 === 0 ? 'granted' : 'withdrawn',
          at: 10 - index,
          dedupeKey: `c${index}`,
          proofRef: `p${index}`,
        }),
      ]),
    );
    await Promise.all(writers);
    const [state] = await ledger.state([ANA], 'sd');
    expect(state).toEqual(foldConsent(await ledger.history({ subjectKey: ANA })));
    expect(state).toMatchObject({ decision: 'granted', capturedAt: minutes(10) });
  });

  it('filters history by receivedAt', async () => {
    await ledger.append([
      entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'a1' }),
      entry({ key: ANA, decision: 'withdrawn', at: 60, dedupeKey: 'a2' }),
    ]);
    const from = new Date(minutes(30));
    expect((await ledger.history({ subjectKey: ANA, from })).map((item) => item.dedupeKey)).toEqual(['a2']);
    expect((await ledger.history({ subjectKey: ANA, to: from })).map((item) => item.dedupeKey)).toEqual([
      'a1',
    ]);
  });

  it('records consent events and ESP opt-outs, and keeps no plaintext email or phone in any table', async () => {
    const event: CatalogEvent<'consent.changed'> = {
      specversion: '1.0',
      id: 'evt-1',
      source: 'loyalty',
      type: 'consent.changed',
      data: {
        customer_id: 'C9',
        email: ' Carla@Example.com ',
        phone: '07700 900123',
        brand: 'sd',
        channel: 'email',
        status: 'granted',
        legal_basis: 'consent',
        captured_at: '2026-01-05T10:00:00+01:00',
        notice_version: 'n-3',
        proof: { method: 'double_opt_in', reference: 'doi-9', ip: '203.0.113.7', user_agent: 'Mozilla/5.0' },
      },
    };
    const sms: CatalogEvent<'consent.changed'> = {
      ...event,
      id: 'evt-2',
      data: {
        ...event.data,
        channel: 'sms',
        status: 'granted',
        proof: { method: 'checkbox', reference: 'f-2' },
      },
    };
    const context = { vault, defaultCountry: 'GB', sourceId: 'loyalty', receivedAt: CLOCK };
    const fromEvents = [event, sms].flatMap((item) => entriesFromConsentEvent(item, context).entries);
    const optOuts = entriesFromInboundUnsubscribes(
      [
        {
          eventId: 'k-1',
          channel: 'sms',
          change: 'unsubscribed',
          phone: '+447700900123',
          customerId: 'C9',
          occurredAt: '2026-01-06T10:00:00Z',
        },
      ],
      { vault, defaultCountry: 'GB', brand: 'sd', destinationId: 'sd-klaviyo', receivedAt: CLOCK },
    );
    expect(await ledger.append([...fromEvents, ...optOuts])).toEqual({
      appended: 3,
      duplicates: [],
      refused: [],
    });
    const carla = emailKey('carla@example.com');
    const phone = phoneKey('+447700900123');
    expect(
      (await ledger.state([carla, phone], 'sd')).map((state) => [state.subject.key, state.decision]),
    ).toEqual(
      expect.arrayContaining([
        [carla, 'granted'],
        [phone, 'withdrawn'],
      ]),
    );
    await new SuppressionList(store, { now: () => CLOCK }).suppress([
      { subjectType: 'email', subjectKey: carla, brand: '*', reason: 'hard_bounce' },
    ]);

    const dump = JSON.stringify(
      await Promise.all(
        ['consent_ledger', 'consent_state', 'suppression_list', 'audit_log'].map((table) =>
          store.query(`SELECT * FROM ${table}`),
        ),
      ),
    ).toLowerCase();
    expect(dump).toContain(carla);
    for (const plaintext of ['carla@example.com', 'carla', '7700 900123', '7700900123', '203.0.113.7']) {
      expect(dump).not.toContain(plaintext);
    }
  });
});
