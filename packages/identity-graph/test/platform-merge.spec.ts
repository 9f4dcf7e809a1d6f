import { STORE_DRIVERS } from '@tessera/store';
import type { PlatformMerge } from '../src';
import { openGraph, record, type GraphFixture } from './graph-fixture';

describe.each(STORE_DRIVERS)('platform merges (membership.merged) on %s', (driver) => {
  let fixture: GraphFixture;
  beforeEach(async () => (fixture = await openGraph(driver)));
  afterEach(() => fixture.close());

  const platformMerge = (from: string, to: string, eventId = `merge-${from}-${to}`): PlatformMerge => ({
    fromCustomerId: from,
    toCustomerId: to,
    eventSource: 'loyalty-platform',
    eventId,
    eventTime: new Date('2026-03-01T10:00:00Z'),
    reason: 'duplicate membership',
  });

  /** Two group members, each with an email, the merged-away one seen first. */
  async function twoMembers() {
    await fixture.graph.resolveIdentities([
      record(
        { customer_id: 'C1', email: 'ana@example.com' },
        { eventTime: new Date('2025-01-01T00:00:00Z') },
      ),
      record(
        { customer_id: 'C2', email: 'ana.b@example.com' },
        { eventTime: new Date('2025-06-01T00:00:00Z') },
      ),
    ]);
  }

  it('joins two group customer ids into the survivor, attributed to the event, and announces it', async () => {
    const { graph, store } = fixture;
    await twoMembers();

    expect(await graph.mergeByEvent(platformMerge('C1', 'C2'))).toEqual({
      status: 'merged',
      customerId: 'C2',
    });

    const profile = await graph.getProfile('customer_id:C1');
    expect(profile?.customerId).toBe('C2');
    expect(profile?.requestedCustomerId).toBe('C1');
    expect(profile?.identifiers.map((identifier) => identifier.label).sort()).toEqual([
      'customer_id',
      'customer_id',
      'email',
      'email',
    ]);
    expect(profile?.lineage).toEqual([
      expect.objectContaining({
        kind: 'merge',
        winner: 'C2',
        loser: 'C1',
        rule: 'platform merge: duplicate membership',
        eventSource: 'loyalty-platform',
        eventId: 'merge-C1-C2',
      }),
    ]);
    const [edge] = await store.query<{ kind: string; event_id: string }>(
      `SELECT e.kind, e.event_id FROM identity_edges e
         JOIN identity_lineage l ON e.id = ANY (l.edge_ids) WHERE l.loser = 'C1'`,
    );
    expect(edge).toEqual({ kind: 'event', event_id: 'merge-C1-C2' });
    expect(await store.query('SELECT type, data FROM identity_outbox')).toEqual([
      {
        type: 'membership.merged',
        data: {
          from_customer_id: 'C1',
          to_customer_id: 'C2',
          reason: 'platform merge: duplicate membership',
        },
      },
    ]);
    const views = await graph.customerViews(['C1', 'C2']);
    expect([...views.keys()]).toEqual(['C2']);
  });

  it('merges once: the same merge again changes nothing, and events carrying the old id land in the survivor', async () => {
    const { graph, store } = fixture;
    await twoMembers();
    await graph.mergeByEvent(platformMerge('C1', 'C2'));

    expect(await graph.mergeByEvent(platformMerge('C1', 'C2'))).toEqual({
      status: 'unchanged',
      customerId: 'C2',
    });
    const late = await graph.resolveIdentities([record({ customer_id: 'C1', email: 'ana@example.com' })]);
    expect(late.records[0].customerId).toBe('C2');
    expect(late.merges).toEqual([]);
    expect(await store.query('SELECT count(*)::int AS n FROM identity_lineage')).toEqual([{ n: 1 }]);
    expect(await store.query('SELECT count(*)::int AS n FROM identity_outbox')).toEqual([{ n: 1 }]);
  });

  it('folds a second merged-away id into the same survivor (retired ids count against no cap)', async () => {
    const { graph } = fixture;
    await twoMembers();
    await graph.resolveIdentities([record({ customer_id: 'C3', phone: '07700 900123' })]);
    await graph.mergeByEvent(platformMerge('C1', 'C2'));

    expect(await graph.mergeByEvent(platformMerge('C3', 'C2'))).toEqual({
      status: 'merged',
      customerId: 'C2',
    });
    expect((await graph.getProfile('phone:+447700900123'))?.customerId).toBe('C2');
  });

  it('creates customer ids never seen: an unknown merged-away id joins quietly, an unknown survivor takes over', async () => {
    const { graph, store } = fixture;
    await twoMembers();

    expect(await graph.mergeByEvent(platformMerge('C8', 'C2'))).toEqual({
      status: 'merged',
      customerId: 'C2',
    });
    expect((await graph.getProfile('customer_id:C8'))?.customerId).toBe('C2');
    // Nothing was merged away at any destination: nothing to announce.
    expect(await store.query('SELECT count(*)::int AS n FROM identity_outbox')).toEqual([{ n: 0 }]);

    expect(await graph.mergeByEvent(platformMerge('C1', 'C9'))).toEqual({
      status: 'merged',
      customerId: 'C9',
    });
    expect((await graph.getProfile('email:ana@example.com'))?.customerId).toBe('C9');
    expect(await store.query('SELECT data FROM identity_outbox')).toEqual([
      { data: expect.objectContaining({ from_customer_id: 'C1', to_customer_id: 'C9' }) },
    ]);
  });

  it('refuses a merge the rules forbid, writes nothing, and goes on with the rest of the batch', async () => {
    const { graph, store } = fixture;
    await graph.resolveIdentities([
      record({ customer_id: 'C4', member_id: 'SD4', brand: 'sports-direct' }),
      record({ customer_id: 'C5', member_id: 'SD5', brand: 'sports-direct' }),
      record({ customer_id: 'C6' }),
    ]);
    const edgesBefore = await store.query('SELECT id FROM identity_edges ORDER BY id');

    const outcomes = await graph.write((tx) =>
      graph.mergeByEvents(tx, [
        platformMerge('C4', 'C5'),
        platformMerge('C6', 'C5'),
        platformMerge('C7', 'C7'),
      ]),
    );

    expect(outcomes).toEqual([
      { status: 'refused', reason: 'anchor conflict: two different member.sports-direct values never merge' },
      { status: 'merged', customerId: 'C5' },
      { status: 'refused', reason: 'a profile cannot be merged with itself' },
    ]);
    expect((await graph.getProfile('customer_id:C4'))?.customerId).toBe('C4');
    const retired = await store.query<{ lookup_key: string }>(
      'SELECT lookup_key FROM identity_identifiers WHERE retired_into IS NOT NULL ORDER BY lookup_key',
    );
    expect(retired.map((row) => row.lookup_key)).toEqual(['C6']);
    expect((await store.query('SELECT id FROM identity_edges ORDER BY id')).length).toBe(
      edgesBefore.length + 1,
    );
  });

  it('reverses a platform merge: the merged-away customer id gets its profile and its anchor back', async () => {
    const { graph, store } = fixture;
    await twoMembers();
    await graph.mergeByEvent(platformMerge('C1', 'C2'));
    const [lineage] = await store.query<{ id: number }>("SELECT id FROM identity_lineage WHERE loser = 'C1'");

    await graph.unmerge({ lineageId: lineage.id, actor: 'ops', reason: 'the platform undid it' });

    expect((await graph.getProfile('email:ana@example.com'))?.customerId).toBe('C1');
    expect((await graph.getProfile('email:ana.b@example.com'))?.customerId).toBe('C2');
    expect(
      await store.query('SELECT count(*)::int AS n FROM identity_identifiers WHERE retired_into IS NOT NULL'),
    ).toEqual([{ n: 0 }]);
    // The same merge sent again is refused: the pair is blocked, as for any reversed merge.
    expect(await graph.mergeByEvent(platformMerge('C1', 'C2', 'merge-again'))).toEqual({
      status: 'refused',
      reason: 'blocked pair: these identities were separated (a reversed merge or a rejected review)',
    });
  });
});
