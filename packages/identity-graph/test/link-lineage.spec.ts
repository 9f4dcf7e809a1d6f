import { STORE_DRIVERS } from '@tessera/store';
import { EventLinking, type EventLink } from '../src';
import { customerIdOf, openGraph, record, type GraphFixture } from './graph-fixture';

/**
 * Issue 19, items 2 and 3: an `account.linked` event links what its `data.link` names, and every join —
 * a profile absorbing another, or a new identifier joining a profile through a shared one — is in lineage
 * with its basis, and reversible by its lineage id.
 */
describe.each(STORE_DRIVERS)('links and joins in lineage on %s', (driver) => {
  let fixture: GraphFixture;
  let linking: EventLinking;
  beforeEach(async () => {
    fixture = await openGraph(driver);
    linking = new EventLinking(fixture.graph);
  });
  afterEach(() => fixture.close());

  let sequence = 0;
  const accountLinked = (
    member: EventLink['member'],
    link: EventLink['link'],
    overrides: Partial<EventLink> = {},
  ): EventLink => {
    sequence += 1;
    return {
      brand: 'group',
      member,
      link,
      method: 'login',
      eventSource: 'group-app',
      eventId: `linked-${sequence}`,
      eventTime: new Date(Date.UTC(2026, 2, 1, 0, 0, sequence)),
      ...overrides,
    };
  };

  /** A guest browsing the showroom (two anonymous ids on one device), and a group member. */
  async function guestAndMember(): Promise<{ guest: string; member: string }> {
    const guest = await fixture.graph.resolveIdentities([
      record({ anonymous_id: 'anon-g1', device_id: 'dev-9' }, { traits: { locale: 'en-GB' } }),
      record({ anonymous_id: 'anon-g2', device_id: 'dev-9' }),
    ]);
    const member = await fixture.graph.resolveIdentities([
      record({ customer_id: 'C1', email: 'ana@example.com' }, { traits: { first_name: 'Ana' } }),
    ]);
    expect(customerIdOf(guest, 0)).toBe(customerIdOf(guest, 1));
    return { guest: customerIdOf(guest), member: customerIdOf(member) };
  }

  describe('account.linked (item 2)', () => {
    it("merges the guest's profile into the member's with a link edge and a lineage row naming the event", async () => {
      const { graph, store } = fixture;
      const { guest, member } = await guestAndMember();
      expect(member).toBe('C1');

      const link = accountLinked({ customer_id: 'C1' }, { anonymous_id: 'anon-g1' });
      const outcome = await linking.linkByEvent(link);

      expect(outcome).toEqual({ status: 'linked', customerId: 'C1', lineageIds: [expect.any(Number)] });
      const profile = await graph.getProfile('anonymous_id:anon-g2', { revealPii: true });
      expect(profile?.customerId).toBe('C1');
      // The guest's history (its traits, its other identifiers) belongs to the member now.
      expect(profile?.traits).toMatchObject({ first_name: 'Ana', locale: 'en-GB' });
      expect(profile?.identifiers.map((identifier) => identifier.label).sort()).toEqual([
        'anonymous_id',
        'anonymous_id',
        'customer_id',
        'device_id',
        'email',
      ]);
      expect(profile?.lineage).toEqual([
        expect.objectContaining({
          id: outcome.status === 'linked' ? outcome.lineageIds[0] : -1,
          kind: 'merge',
          winner: 'C1',
          loser: guest,
          rule: 'account link: account.linked (login)',
          basis: 'account.linked',
          eventSource: 'group-app',
          eventId: link.eventId,
        }),
      ]);
      expect(
        await store.query(
          `SELECT e.kind, e.event_source, e.event_id FROM identity_edges e
             JOIN identity_lineage l ON e.id = ANY (l.edge_ids)`,
        ),
      ).toEqual([{ kind: 'link', event_source: 'group-app', event_id: link.eventId }]);
      expect(await store.query('SELECT type, data FROM identity_outbox')).toEqual([
        {
          type: 'membership.merged',
          data: {
            from_customer_id: guest,
            to_customer_id: 'C1',
            reason: 'account link: account.linked (login)',
          },
        },
      ]);
      // The same event again (a retried job) changes nothing.
      expect(await linking.linkByEvent(link)).toEqual({
        status: 'unchanged',
        customerId: 'C1',
        lineageIds: [],
      });
      expect(await store.query('SELECT count(*)::int AS n FROM identity_lineage')).toEqual([{ n: 1 }]);
    });

    it('is reversed by unmerging its lineage id: the guest is apart again and the link cannot come back', async () => {
      const { graph } = fixture;
      await guestAndMember();
      const link = accountLinked({ customer_id: 'C1' }, { anonymous_id: 'anon-g1' });
      const outcome = await linking.linkByEvent(link);
      if (outcome.status !== 'linked') throw new Error(`link refused: ${JSON.stringify(outcome)}`);

      const reversed = await graph.unmerge({
        lineageId: outcome.lineageIds[0],
        actor: 'admin:ops',
        reason: 'linked the wrong guest',
      });

      expect(reversed.splits).toHaveLength(1);
      const guestNow = await graph.getProfile('anonymous_id:anon-g1');
      expect(guestNow?.customerId).not.toBe('C1');
      expect((await graph.getProfile('anonymous_id:anon-g2'))?.customerId).toBe(guestNow?.customerId);
      const member = await graph.getProfile('customer_id:C1');
      expect(member?.identifiers.map((identifier) => identifier.label).sort()).toEqual([
        'customer_id',
        'email',
      ]);
      expect(member?.lineage.find((row) => row.id === outcome.lineageIds[0])?.revertedBy).toEqual(
        expect.any(Number),
      );
      // Replaying the event finds the pair blocked: refused, with the reason, nothing joined.
      expect(await linking.linkByEvent(link)).toEqual({
        status: 'refused',
        reason: expect.stringContaining('blocked pair'),
      });
      expect((await graph.getProfile('anonymous_id:anon-g1'))?.customerId).toBe(guestNow?.customerId);
    });

    it('joins an identifier never seen before to the member, as a join in lineage, reversible', async () => {
      const { graph, store } = fixture;
      await fixture.graph.resolveIdentities([record({ member_id: 'SD1', brand: 'sports-direct' })]);
      const member = await graph.resolveReference(store, 'member.sports-direct:SD1');

      const link = accountLinked({ member_id: 'SD1', brand: 'sports-direct' }, { anonymous_id: 'anon-new' });
      const outcome = await linking.linkByEvent(link);

      expect(outcome).toEqual({ status: 'linked', customerId: member, lineageIds: [expect.any(Number)] });
      const profile = await graph.getProfile('anonymous_id:anon-new');
      expect(profile?.customerId).toBe(member);
      expect(profile?.lineage).toEqual([
        expect.objectContaining({
          kind: 'join',
          winner: member,
          basis: 'account.linked',
          eventId: link.eventId,
          revertedBy: null,
        }),
      ]);
      // A join announces no ESP merge: there was no second profile.
      expect(await store.query('SELECT type FROM identity_outbox')).toEqual([]);

      const lineageId = outcome.status === 'linked' ? outcome.lineageIds[0] : -1;
      await graph.unmerge({ lineageId, actor: 'admin:ops', reason: 'not this member' });
      const apart = await graph.getProfile('anonymous_id:anon-new');
      expect(apart?.customerId).toBeDefined();
      expect(apart?.customerId).not.toBe(member);
      expect((await graph.getProfile('member.sports-direct:SD1'))?.identifiers.map((i) => i.label)).toEqual([
        'member.sports-direct',
      ]);
    });

    it('links a legacy member id of a brand to the group member', async () => {
      const { graph, store } = fixture;
      await fixture.graph.resolveIdentities([
        record({ member_id: 'FL7', brand: 'flannels', email: 'legacy@example.com' }, { brand: 'flannels' }),
        record({ customer_id: 'C1' }),
      ]);
      const legacy = await graph.resolveReference(store, 'member.flannels:FL7');

      const outcome = await linking.linkByEvent(
        accountLinked(
          { customer_id: 'C1' },
          { member_id: 'FL7', brand: 'flannels' },
          { method: 'verified_email' },
        ),
      );

      expect(outcome).toEqual({
        status: 'linked',
        customerId: expect.any(String),
        lineageIds: [expect.any(Number)],
      });
      const profile = await graph.getProfile('customer_id:C1');
      expect(profile?.identifiers.map((identifier) => identifier.label).sort()).toEqual([
        'customer_id',
        'email',
        'member.flannels',
      ]);
      expect(profile?.lineage).toEqual([
        expect.objectContaining({ kind: 'merge', rule: 'account link: account.linked (verified_email)' }),
      ]);
      expect([profile?.lineage[0].winner, profile?.lineage[0].loser].sort()).toEqual(['C1', legacy].sort());
    });

    it('refuses, with the reason recorded, a link between two members anchored by the same type', async () => {
      const { graph, store } = fixture;
      await fixture.graph.resolveIdentities([
        record({ customer_id: 'C1', email: 'ana@example.com' }),
        record({ customer_id: 'C2', email: 'bo@example.com' }),
        record({ member_id: 'SD1', brand: 'sports-direct' }),
      ]);

      const toMember = accountLinked({ customer_id: 'C1' }, { customer_id: 'C2' });
      expect(await linking.linkByEvent(toMember)).toEqual({
        status: 'refused',
        reason: 'account.linked would join two members anchored by customer_id (C1 and C2): never linked',
      });
      // A member id of a brand the profile already holds a member id of: refused, even when never seen.
      const secondMemberId = accountLinked(
        { member_id: 'SD1', brand: 'sports-direct' },
        { member_id: 'SD2', brand: 'sports-direct' },
      );
      const refused = await linking.linkByEvent(secondMemberId);
      expect(refused).toEqual({
        status: 'refused',
        reason: expect.stringMatching(
          /^account.linked would join two members anchored by member.sports-direct/,
        ),
      });

      expect((await graph.getProfile('customer_id:C2'))?.customerId).toBe('C2');
      expect((await graph.getProfile('member.sports-direct:SD2'))?.customerId).not.toBe(
        (await graph.getProfile('member.sports-direct:SD1'))?.customerId,
      );
      expect(await store.query("SELECT count(*)::int AS n FROM identity_edges WHERE kind = 'link'")).toEqual([
        { n: 0 },
      ]);
      expect(await store.query('SELECT count(*)::int AS n FROM identity_lineage')).toEqual([{ n: 0 }]);
      expect(
        await store.query('SELECT reason, event_source, event_id FROM identity_rejected_edges ORDER BY id'),
      ).toEqual([
        {
          reason: 'account.linked would join two members anchored by customer_id (C1 and C2): never linked',
          event_source: 'group-app',
          event_id: toMember.eventId,
        },
        {
          reason: refused.status === 'refused' ? refused.reason : '',
          event_source: 'group-app',
          event_id: secondMemberId.eventId,
        },
      ]);
    });

    it('refuses a link naming no usable identifier, writing nothing', async () => {
      const { store } = fixture;
      await fixture.graph.resolveIdentities([record({ customer_id: 'C1' })]);
      const before = await store.query('SELECT id, customer_id FROM identity_identifiers ORDER BY id');

      expect(
        await linking.linkByEvent(accountLinked({ customer_id: 'C1' }, { anonymous_id: 'guest' })),
      ).toEqual({
        status: 'refused',
        reason:
          'account.linked: data.link names no usable identifier (anonymous_id: placeholder value "guest")',
      });
      expect(await store.query('SELECT id, customer_id FROM identity_identifiers ORDER BY id')).toEqual(
        before,
      );
      expect(await store.query('SELECT count(*)::int AS n FROM identity_lineage')).toEqual([{ n: 0 }]);
    });
  });

  describe('joins through a shared identifier (item 3)', () => {
    it('records a new member id joining a profile through a shared email, with its basis, reversibly', async () => {
      const { graph, store } = fixture;
      const first = await graph.resolveIdentities([
        record(
          { member_id: 'SD1', brand: 'sports-direct', email: 'jane@example.com' },
          { brand: 'sports-direct' },
        ),
      ]);
      const jane = customerIdOf(first);

      const joining = record(
        { member_id: 'FL1', brand: 'flannels', email: 'jane@example.com' },
        { brand: 'flannels', eventSource: 'flannels-pos' },
      );
      const joined = await graph.resolveIdentities([joining]);

      expect(customerIdOf(joined)).toBe(jane);
      expect(joined.merges).toEqual([]);
      expect(joined.joins).toEqual([
        {
          lineageId: expect.any(Number),
          customerId: jane,
          joined: expect.stringMatching(/^cus_/),
          identifiers: ['member.flannels'],
          basis: 'shared email',
        },
      ]);
      const lineageId = joined.joins[0].lineageId;
      const profile = await graph.getProfile('member.flannels:FL1');
      expect(profile?.lineage).toEqual([
        expect.objectContaining({
          id: lineageId,
          kind: 'join',
          winner: jane,
          loser: joined.joins[0].joined,
          basis: 'shared email',
          rule: 'deterministic: shared identifier',
          eventSource: 'flannels-pos',
          eventId: joining.eventId,
          edgeIds: [expect.any(Number)],
          revertedBy: null,
        }),
      ]);

      const reversed = await graph.unmerge({ lineageId, actor: 'admin:ops', reason: 'a family email' });
      expect(reversed.splits).toEqual([expect.objectContaining({ from: jane })]);
      const flannels = await graph.getProfile('member.flannels:FL1');
      expect(flannels?.customerId).toBe(joined.joins[0].joined);
      expect(flannels?.identifiers.map((identifier) => identifier.label)).toEqual(['member.flannels']);
      const sports = await graph.getProfile('member.sports-direct:SD1');
      expect(sports?.customerId).toBe(jane);
      expect(sports?.identifiers.map((identifier) => identifier.label).sort()).toEqual([
        'email',
        'member.sports-direct',
      ]);
      expect(sports?.lineage.find((row) => row.id === lineageId)?.revertedBy).toEqual(expect.any(Number));
      // The same event replayed cannot join them again (the pair is blocked).
      expect(customerIdOf(await graph.resolveIdentities([joining]))).toBe(joined.joins[0].joined);
      expect(
        await store.query("SELECT count(*)::int AS n FROM identity_outbox WHERE type = 'membership.merged'"),
      ).toEqual([{ n: 0 }]);
    });

    it('records one join per new identity, none for known ones or for a profile that is new as a whole', async () => {
      const { graph, store } = fixture;
      // A new profile as a whole: nothing joined anything.
      await graph.resolveIdentities([record({ customer_id: 'C5', email: 'five@example.com' })]);
      expect(await store.query('SELECT count(*)::int AS n FROM identity_lineage')).toEqual([{ n: 0 }]);
      // A new phone and anonymous id on the member's event: each a join through the customer id, in one batch.
      const result = await graph.resolveIdentities([
        record({ customer_id: 'C5', phone: '+447700900123' }),
        record({ customer_id: 'C5', anonymous_id: 'anon-5' }),
        record({ customer_id: 'C5', email: 'five@example.com' }),
      ]);
      expect(result.joins.map((join) => [join.identifiers, join.basis]).sort()).toEqual([
        [['anonymous_id'], 'shared customer_id'],
        [['phone'], 'shared customer_id'],
      ]);
      // Known identifiers again: no join, no lineage.
      const again = await graph.resolveIdentities([record({ customer_id: 'C5', anonymous_id: 'anon-5' })]);
      expect(again.joins).toEqual([]);
      expect(await store.query('SELECT kind, winner, basis FROM identity_lineage ORDER BY id')).toEqual([
        { kind: 'join', winner: 'C5', basis: 'shared customer_id' },
        { kind: 'join', winner: 'C5', basis: 'shared customer_id' },
      ]);
    });

    it('gives a merge of two existing profiles its basis too', async () => {
      const { graph } = fixture;
      await graph.resolveIdentities([
        record({ customer_id: 'C1', email: 'ana@example.com' }),
        record({ member_id: 'SD9', brand: 'sports-direct', phone: '+447700900999' }),
      ]);
      const merged = await graph.resolveIdentities([
        record({ email: 'ana@example.com', phone: '+447700900999' }),
      ]);
      expect(merged.merges).toHaveLength(1);
      const profile = await graph.getProfile('customer_id:C1');
      expect(profile?.lineage).toEqual([
        expect.objectContaining({ kind: 'merge', basis: expect.stringMatching(/^shared (email|phone)$/) }),
      ]);
    });
  });
});
