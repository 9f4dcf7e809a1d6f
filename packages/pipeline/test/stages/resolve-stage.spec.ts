import { randomBytes } from 'node:crypto';
import { ConsentLedger, StoreConsentStateReader, SuppressionList } from '@tessera/consent';
import type { CatalogEvent } from '@tessera/events';
import { IdentityGraph, IdentityOutbox } from '@tessera/identity-graph';
import type { IngestedEvent, ResolvedEvent } from '@tessera/queues';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import { IdentityLineageReader } from '../../src/scheduled/identity-lineage.repository';
import { mergeBasisOf } from '../../src/scheduled/merge-basis';
import { ResolveStage } from '../../src/stages/resolve-stage.service';
import { RawEventLog } from '../../src/store/raw-event-log.repository';
import { eventKeyOf } from '../../src/stages/event-identity';

let sequence = 0;
function ingested(type: string, data: Record<string, unknown>, id = `evt-${++sequence}`): IngestedEvent {
  return {
    sourceId: 'loyalty',
    brand: 'sd',
    receivedAt: '2026-11-24T10:00:00.000Z',
    event: {
      specversion: '1.0',
      id,
      source: 'https://loyalty.example.com',
      type,
      time: `2026-11-24T09:00:${String(sequence % 60).padStart(2, '0')}Z`,
      data,
    } as unknown as CatalogEvent,
  };
}

/** The loyalty platform's own merge: `from` folded into `to`. */
const platformMerge = (from: string, to: string, data: Record<string, unknown> = {}) =>
  ingested('membership.merged', { from_customer_id: from, to_customer_id: to, reason: 'duplicate', ...data });

const purchase = (customerId: string, amount: number, id?: string) =>
  ingested(
    'transaction.created',
    { customer_id: customerId, transaction_id: `T-${id ?? sequence}`, amount, currency: 'GBP' },
    id,
  );

describe.each(STORE_DRIVERS)('ResolveStage on %s', (driver) => {
  let store: Store;
  let vault: PiiVault;
  let graph: IdentityGraph;
  let routed: ResolvedEvent[][];
  let failRoute: boolean;
  let stage: ResolveStage;

  beforeAll(async () => {
    store = await openScratchStore(driver);
    vault = new PiiVault([randomBytes(32)]);
  }, 30_000);
  afterAll(() => store.close());

  beforeEach(() => {
    graph = new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] });
    routed = [];
    failRoute = false;
    stage = new ResolveStage({
      journal: new RawEventLog(store, vault),
      graph,
      ledger: new ConsentLedger(store),
      vault,
      route: async (events) => {
        if (failRoute) throw new Error('Redis is away');
        routed.push(events);
      },
    });
  });

  const lifetimeValue = async (customerId: string) =>
    (await graph.customerViews([customerId])).get(customerId)?.traits.total_lifetime_value;

  it('resolves and routes new events once; a repeat (same source and id) is a duplicate', async () => {
    const first = purchase('R1', 10);
    const outcome = await stage.handle([first, purchase('R2', 5), first]);
    expect(outcome).toEqual({
      received: 3,
      duplicates: 1,
      erased: 0,
      resolved: 2,
      unresolved: 0,
      routed: 2,
      merged: 0,
      mergesRefused: [],
      linked: 0,
      linksRefused: [],
    });
    expect(routed.flat().map((event) => event.customerId)).toEqual(['R1', 'R2']);

    const again = await stage.handle([first]);
    expect(again).toEqual({
      received: 1,
      duplicates: 1,
      erased: 0,
      resolved: 0,
      unresolved: 0,
      routed: 0,
      merged: 0,
      mergesRefused: [],
      linked: 0,
      linksRefused: [],
    });
    expect(await lifetimeValue('R1')).toBe(10);
  });

  it('recognises a retried event of an erased person by its tombstone: not stored, resolved nor routed again', async () => {
    const erasedEvent = purchase('R9', 40);
    const kept = purchase('R10', 1);
    await stage.handle([erasedEvent, kept]);
    const journal = new RawEventLog(store, vault);
    const erasedKeys = await journal.erase({ customerIds: ['R9'] });
    expect(erasedKeys.map((key) => key.eventId)).toEqual([erasedEvent.event.id]);
    await graph.eraseProfile('R9', { actor: 'admin:dpo', reason: 'test' });
    // The tombstone holds a keyed hash of the key: neither the event's id nor the customer id.
    const tombstones = JSON.stringify(await store.query('SELECT * FROM erased_events'));
    expect(tombstones).not.toContain(erasedEvent.event.id);
    expect(tombstones).not.toContain('R9');
    routed = [];

    // The source sends it again (a retry after the ingest dedupe window), beside a new event of another member.
    const outcome = await stage.handle([erasedEvent, purchase('R10', 2)]);
    expect(outcome).toMatchObject({ received: 2, duplicates: 1, erased: 1, resolved: 1, routed: 1 });
    expect(routed.flat().map((event) => event.customerId)).toEqual(['R10']);
    const stored = await store.query<{ event_id: string }>(
      "SELECT event_id FROM raw_events WHERE event_id = $1 OR customer_id = 'R9'",
      [erasedEvent.event.id],
    );
    expect(stored).toEqual([]);
    // Nothing revived the erased profile.
    expect((await graph.customerViews(['R9'])).get('R9')).toBeUndefined();
    expect(await lifetimeValue('R10')).toBe(3);
    // A different event of the same source is no tombstone.
    expect((await journal.erasedAmong([eventKeyOf(kept)])).size).toBe(0);
  });

  it('keeps an erased person erased: their new event is neither stored nor routed, until a grant after the erasure registers them (issue 19, item 6)', async () => {
    const suppressions = new SuppressionList(store);
    const journal = new RawEventLog(store, vault);
    const registering = new ResolveStage({
      journal,
      graph,
      ledger: new ConsentLedger(store),
      vault,
      suppressions,
      route: async (events) => {
        routed.push(events);
      },
    });
    const email = 'erin.erased@example.com';
    const emailKey = vault.blindIndex('email', email);
    await registering.handle([
      ingested('profile.updated', { customer_id: 'R20', email, first_name: 'Erin' }),
    ]);
    // The erasure, as the DSR service runs it: the graph, the stored events, an all-brand suppression.
    await graph.eraseProfile('R20', { actor: 'admin:dpo', reason: 'test' });
    await journal.tombstoneCustomers(['R20']);
    await journal.erase({ customerIds: ['R20'] });
    await suppressions.suppress([
      { subjectType: 'email', subjectKey: emailKey, brand: '*', reason: 'erasure' },
    ]);
    routed = [];

    // A new event of theirs (a new id): dropped as erased, not kept, not routed, no profile.
    const later = ingested('profile.updated', {
      customer_id: 'R20',
      email,
      first_name: 'Erin',
      last_name: 'Ever',
    });
    expect(await registering.handle([later])).toMatchObject({
      erased: 1,
      resolved: 1,
      unresolved: 0,
      routed: 0,
    });
    expect(routed).toEqual([]);
    expect(
      await store.query('SELECT event_id FROM raw_events WHERE event_id = $1', [later.event.id]),
    ).toEqual([]);
    expect((await journal.erasedAmong([eventKeyOf(later)])).size).toBe(1);
    expect(await graph.getProfile(`email:${email}`)).toBeUndefined();
    // Its retry is recognised by the tombstone the drop left.
    expect(await registering.handle([later])).toMatchObject({ duplicates: 1, erased: 1, routed: 0 });

    // A grant captured after the erasure: the member registers again, for this brand.
    const grant = ingested('consent.changed', {
      customer_id: 'R20',
      email,
      brand: 'sd',
      channel: 'email',
      status: 'granted',
      legal_basis: 'consent',
      captured_at: new Date(Date.now() + 60_000).toISOString(),
      notice_version: 'v3',
    });
    expect(await registering.handle([grant])).toMatchObject({ erased: 0, routed: 1 });
    expect(routed.flat().map((event) => event.customerId)).toEqual(['R20']);
    expect((await graph.getProfile(`email:${email}`))?.customerId).toBe('R20');
    expect(await suppressions.isSuppressed([emailKey], 'sd')).toEqual(new Set());
    expect(await journal.erasedCustomersAmong(['R20'])).toEqual(new Set());
  });

  it('a job re-run after a crash between resolution and routing routes the events without applying them twice', async () => {
    const events = [purchase('R3', 7), purchase('R3', 8)];
    failRoute = true;
    await expect(stage.handle(events)).rejects.toThrow('Redis is away');
    expect(await lifetimeValue('R3')).toBe(15);

    failRoute = false;
    const retried = await stage.handle(events);

    expect(retried).toMatchObject({ resolved: 0, routed: 2 });
    expect(routed.flat().map((event) => event.event.id)).toEqual(events.map((event) => event.event.id));
    // Sums would double if the retry resolved the events again.
    expect(await lifetimeValue('R3')).toBe(15);
  });

  it('keeps an event without a usable identifier in the raw log, unrouted', async () => {
    const outcome = await stage.handle([ingested('profile.updated', { email: 'not an email' })]);
    expect(outcome).toMatchObject({ resolved: 1, unresolved: 1, routed: 0 });
    expect(routed).toEqual([]);
  });

  it('records consent changes in the ledger, once even when the job runs twice', async () => {
    const consent = ingested('consent.changed', {
      customer_id: 'R4',
      email: 'r4@example.com',
      brand: 'sd',
      channel: 'email',
      status: 'granted',
      legal_basis: 'consent',
      captured_at: '2026-11-24T08:00:00Z',
      notice_version: 'v3',
    });
    await stage.handle([consent]);
    await stage.handle([consent]);
    const states = await new StoreConsentStateReader(store).load(
      [vault.blindIndex('email', 'r4@example.com')],
      'sd',
    );
    expect(states.states.map((state) => [state.scope.channel, state.decision])).toEqual([
      ['email', 'granted'],
    ]);
    const rows = await store.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM consent_ledger WHERE subject_key = $1',
      [vault.blindIndex('email', 'r4@example.com')],
    );
    expect(rows[0]?.n).toBe(1);
  });

  describe("the loyalty platform's membership.merged", () => {
    const member = (customerId: string, email: string) =>
      ingested('profile.updated', { customer_id: customerId, email, first_name: customerId });
    const outboxMergesOf = async (from: string) =>
      (await new IdentityOutbox(store).pending(10_000)).filter(
        (event) => event.type === 'membership.merged' && event.data.from_customer_id === from,
      );

    it('merges the two profiles in the graph, resolves to the survivor and announces a deterministic merge', async () => {
      await stage.handle([member('M1', 'm1@example.com'), member('M2', 'm2@example.com')]);
      routed = [];

      const merge = platformMerge('M1', 'M2', { email: 'm1@example.com' });
      const outcome = await stage.handle([merge]);

      expect(outcome).toMatchObject({ resolved: 1, routed: 1, merged: 1, mergesRefused: [] });
      expect(routed.flat().map((event) => [event.event.id, event.customerId])).toEqual([
        [merge.event.id, 'M2'],
      ]);
      const views = await graph.customerViews(['M1', 'M2']);
      expect([...views.keys()]).toEqual(['M2']);
      const profile = await graph.getProfile('customer_id:M1');
      expect(profile?.customerId).toBe('M2');
      expect(profile?.identifiers.map((identifier) => identifier.label).sort()).toEqual([
        'customer_id',
        'customer_id',
        'email',
        'email',
      ]);
      expect(profile?.lineage).toEqual([
        expect.objectContaining({ kind: 'merge', winner: 'M2', loser: 'M1', eventId: merge.event.id }),
      ]);
      const [announced, ...more] = await outboxMergesOf('M1');
      expect(more).toEqual([]);
      expect(announced?.data).toEqual({
        from_customer_id: 'M1',
        to_customer_id: 'M2',
        reason: 'platform merge: duplicate',
      });
      // What the lineage publisher reads to set the merge's basis.
      const lineageId = Number(announced?.eventId.replace('tessera-lineage-', ''));
      const record = (await new IdentityLineageReader(store).merges([lineageId])).get(lineageId);
      expect(record?.edgeKinds).toEqual(['event']);
      expect(mergeBasisOf(record?.edgeKinds ?? [])).toBe('deterministic');
    });

    it('merges once when the job runs again, whether it had finished or crashed before routing', async () => {
      await stage.handle([member('M3', 'm3@example.com'), member('M4', 'm4@example.com')]);
      const merge = platformMerge('M3', 'M4');
      failRoute = true;
      await expect(stage.handle([merge])).rejects.toThrow('Redis is away');

      failRoute = false;
      routed = [];
      const retried = await stage.handle([merge]);
      const again = await stage.handle([merge]);

      expect(retried).toMatchObject({ resolved: 0, routed: 1, merged: 0, mergesRefused: [] });
      expect(routed.flat().map((event) => event.customerId)).toEqual(['M4']);
      expect(again).toMatchObject({ duplicates: 1, resolved: 0, routed: 0, merged: 0 });
      expect(await outboxMergesOf('M3')).toHaveLength(1);
      expect(await store.query("SELECT count(*)::int AS n FROM identity_lineage WHERE loser = 'M3'")).toEqual(
        [{ n: 1 }],
      );
    });

    it('counts a merge the graph refuses, with its reason, and routes the event as before', async () => {
      await stage.handle([
        ingested('profile.updated', {
          customer_id: 'M5',
          member_id: 'SD5',
          brand: 'sd',
          email: 'm5@example.com',
        }),
        ingested('profile.updated', { customer_id: 'M6', member_id: 'SD6', brand: 'sd' }),
      ]);
      routed = [];
      const merge = platformMerge('M5', 'M6', { email: 'm5@example.com' });

      const outcome = await stage.handle([merge, purchase('M6', 3)]);

      expect(outcome).toMatchObject({ resolved: 2, routed: 2, merged: 0 });
      expect(outcome.mergesRefused).toEqual([
        {
          key: { sourceId: 'loyalty', eventSource: merge.event.source, eventId: merge.event.id },
          reason: 'anchor conflict: two different member.sd values never merge',
        },
      ]);
      expect(routed.flat().map((event) => event.customerId)).toEqual(['M5', 'M6']);
      expect([...(await graph.customerViews(['M5', 'M6'])).keys()]).toEqual(['M5', 'M6']);
      expect(await outboxMergesOf('M5')).toEqual([]);
    });

    it('creates customer ids it never saw, and sends events of the batch resolved to a merged-away profile to the survivor', async () => {
      await stage.handle([member('M7', 'm7@example.com')]);
      routed = [];

      const outcome = await stage.handle([
        purchase('M7', 4),
        platformMerge('M7', 'M8'),
        platformMerge('M9', 'M8'),
      ]);

      expect(outcome).toMatchObject({ resolved: 3, routed: 3, merged: 2, mergesRefused: [] });
      expect(routed.flat().map((event) => event.customerId)).toEqual(['M8', 'M8', 'M8']);
      expect((await graph.getProfile('customer_id:M9'))?.customerId).toBe('M8');
      expect((await graph.getProfile('email:m7@example.com'))?.customerId).toBe('M8');
      expect(await lifetimeValue('M8')).toBe(4);
      // M9 merged nothing away at any destination: only M7's merge is announced.
      expect(await outboxMergesOf('M7')).toHaveLength(1);
      expect(await outboxMergesOf('M9')).toEqual([]);
    });
  });
});
