import { STORE_DRIVERS } from '@tessera/store';
import { IdentityChangeRefusedError } from '../src';
import { openGraph, record, type GraphFixture, customerIdOf } from './graph-fixture';

describe.each(STORE_DRIVERS)('merging and reversing merges on %s', (driver) => {
  let fixture: GraphFixture;
  beforeEach(async () => (fixture = await openGraph(driver)));
  afterEach(() => fixture.close());

  /** Two profiles (an older brand member, a newer group member) joined by one event carrying both emails. */
  async function mergedPair() {
    const { graph } = fixture;
    const older = await graph.resolveIdentities([
      record(
        { member_id: 'SD1', brand: 'sports-direct', email: 'ana@example.com' },
        { eventTime: new Date('2024-01-01T00:00:00Z') },
      ),
    ]);
    const newer = await graph.resolveIdentities([
      record(
        { customer_id: 'C77', email: 'bruno@example.com' },
        { eventTime: new Date('2025-01-01T00:00:00Z') },
      ),
    ]);
    const joining = record(
      { email: 'ana@example.com', customer_id: 'C77' },
      { eventTime: new Date('2025-02-01T00:00:00Z'), eventId: 'wrong-link' },
    );
    const merged = await graph.resolveIdentities([joining]);
    return { older: customerIdOf(older), newer: customerIdOf(newer), merged, joining };
  }

  it('writes a lineage row and a membership.merged event for each merge', async () => {
    const { older, newer, merged } = await mergedPair();
    expect(newer).toBe('C77');
    expect(merged.merges).toEqual([expect.objectContaining({ from: 'C77', to: older })]);
    const outbox = await fixture.store.query<{ type: string; data: unknown }>(
      'SELECT type, data FROM identity_outbox ORDER BY id',
    );
    expect(outbox).toEqual([
      {
        type: 'membership.merged',
        data: { from_customer_id: 'C77', to_customer_id: older, reason: 'deterministic: shared identifier' },
      },
    ]);
    const profile = await fixture.graph.getProfile('email:bruno@example.com');
    expect(profile?.customerId).toBe(older);
    expect(profile?.lineage).toEqual([
      expect.objectContaining({
        kind: 'merge',
        winner: older,
        loser: 'C77',
        eventId: 'wrong-link',
        edgeIds: [expect.any(Number)],
      }),
    ]);
  });

  it('names, in a batch, the event whose identifiers made the merge', async () => {
    const { graph } = fixture;
    const brand = await graph.resolveIdentities([
      record({ member_id: 'SD5', brand: 'sports-direct' }, { eventTime: new Date('2024-01-01T00:00:00Z') }),
    ]);
    await graph.resolveIdentities([record({ customer_id: 'C5', email: 'dora@example.com' })]);
    const batch = await graph.resolveIdentities([
      record({ customer_id: 'C900' }, { eventId: 'unrelated-1' }),
      record(
        { member_id: 'SD5', brand: 'sports-direct', email: 'dora@example.com' },
        { eventId: 'the-link' },
      ),
      record({ email: 'someone.else@example.com' }, { eventId: 'unrelated-2' }),
    ]);
    expect(batch.merges).toEqual([expect.objectContaining({ from: 'C5', to: brand.records[0].customerId })]);
    const profile = await graph.getProfile('customer_id:C5');
    expect(profile?.lineage).toEqual([
      expect.objectContaining({ kind: 'merge', loser: 'C5', eventSource: 'test', eventId: 'the-link' }),
    ]);
  });

  it('reverses a wrong merge, blocks the pair and does not re-merge when the old event is replayed', async () => {
    const { graph, store } = fixture;
    const { older, merged, joining } = await mergedPair();
    const split = await graph.unmerge({
      lineageId: merged.merges[0].lineageId,
      actor: 'ops@tessera',
      reason: 'two people',
    });
    expect(split.splits).toEqual([expect.objectContaining({ from: older })]);
    // C77 is a group customer id: it keeps its own id.
    expect((await graph.getProfile('email:bruno@example.com'))?.customerId).toBe('C77');
    expect((await graph.getProfile('email:ana@example.com'))?.customerId).toBe(older);
    expect(await store.query('SELECT reason, actor FROM identity_blocked_pairs')).toEqual([
      { reason: `unmerge of ${merged.merges[0].lineageId}: two people`, actor: 'ops@tessera' },
    ]);
    const outbox = await store.query<{ type: string }>('SELECT type FROM identity_outbox ORDER BY id');
    expect(outbox.map((row) => row.type)).toEqual(['membership.merged', 'membership.split']);

    const replay = await graph.resolveIdentities([joining]);
    expect(replay.merges).toEqual([]);
    expect(replay.records[0].customerId).toBe('C77');
    expect(replay.records[0].dropped.map((dropped) => dropped.reason)).toEqual([
      'not linked to C77: blocked pair: these identities were separated (a reversed merge or a rejected review)',
    ]);
    await expect(
      graph.unmerge({ lineageId: merged.merges[0].lineageId, actor: 'ops', reason: 'again' }),
    ).rejects.toThrow(`merge ${merged.merges[0].lineageId} was already reversed`);
  });

  it('gives a split-off profile without a group id a new id', async () => {
    const { graph } = fixture;
    const a = await graph.resolveIdentities([
      record({ member_id: 'SD1', brand: 'sports-direct' }, { eventTime: new Date('2024-01-01T00:00:00Z') }),
    ]);
    const b = await graph.resolveIdentities([
      record(
        { member_id: 'FL9', brand: 'flannels', phone: '07700 900456' },
        { eventTime: new Date('2025-01-01T00:00:00Z') },
      ),
    ]);
    const merged = await graph.merge({
      customerIds: [customerIdOf(a), customerIdOf(b)],
      actor: 'ops',
      reason: 'same person',
    });
    expect(merged.merges).toEqual([
      expect.objectContaining({
        from: b.records[0].customerId,
        to: a.records[0].customerId,
        rule: 'manual: same person',
      }),
    ]);
    const split = await graph.unmerge({
      lineageId: merged.merges[0].lineageId,
      actor: 'ops',
      reason: 'not the same',
    });
    const splitId = split.splits[0].to;
    expect(splitId).toMatch(/^cus_[0-9a-f]{26}$/);
    expect(splitId).not.toBe(b.records[0].customerId);
    expect((await graph.getProfile('phone:+447700900456'))?.customerId).toBe(splitId);
    expect((await graph.getProfile('member.sports-direct:SD1'))?.customerId).toBe(a.records[0].customerId);
  });

  it('refuses a hand merge that breaks an anchor rule, and writes nothing', async () => {
    const { graph, store } = fixture;
    const a = await graph.resolveIdentities([record({ member_id: 'SD1', brand: 'sports-direct' })]);
    const b = await graph.resolveIdentities([record({ member_id: 'SD2', brand: 'sports-direct' })]);
    await expect(
      graph.merge({
        customerIds: [customerIdOf(a), customerIdOf(b)],
        actor: 'ops',
        reason: 'guess',
      }),
    ).rejects.toThrow(
      new IdentityChangeRefusedError(
        'anchor conflict: two different member.sports-direct values never merge',
      ),
    );
    expect(await store.query('SELECT id FROM identity_edges')).toEqual([]);
    expect(await store.query('SELECT id FROM identity_lineage')).toEqual([]);
  });
});
