import { STORE_DRIVERS } from '@tessera/store';
import { openGraph, record, type GraphFixture } from './graph-fixture';

// Issue 19 item 10: two members of one brand with one (family) email stay apart, and the second member's
// record of the email is kept, marked as linking nothing, and listed — never dropped silently.
describe.each(STORE_DRIVERS)('a contact point shared by two members on %s', (driver) => {
  let fixture: GraphFixture;

  beforeEach(async () => {
    fixture = await openGraph(driver);
  });

  afterEach(async () => {
    await fixture.close();
  });

  const member = (id: string, email: string, at: string, eventId: string) =>
    record(
      { member_id: id, brand: 'sports-direct', email },
      { brand: 'sports-direct', eventTime: new Date(at), eventId },
    );

  it('records the case once per identifier and profile, with the reason, first/last seen and count', async () => {
    const { graph, store } = fixture;
    const first = await graph.resolveIdentities([
      member('SD1', 'family@example.com', '2026-03-01T10:00:00Z', 'e1'),
    ]);
    const second = await graph.resolveIdentities([
      member('SD2', 'Family@Example.com', '2026-03-02T10:00:00Z', 'e2'),
    ]);
    const [holder, sharer] = [first.records[0].customerId, second.records[0].customerId];
    expect(sharer).not.toBe(holder);
    expect(second.records[0].dropped).toEqual([
      {
        type: 'email',
        field: 'email',
        reason: `not linked to ${sharer}: shared by two members anchored by member.sports-direct: links nothing`,
      },
    ]);
    // A replay of the same event, then a later one: still one row; the replay is not counted.
    const replay = await graph.resolveIdentities([
      member('SD2', 'family@example.com', '2026-03-02T10:00:00Z', 'e2'),
    ]);
    expect(replay.records[0].dropped[0]?.reason).toBe(
      `not linked to ${sharer}: shared by two members anchored by member.sports-direct: links nothing`,
    );
    await graph.resolveIdentities([member('SD2', 'family@example.com', '2026-03-05T08:00:00Z', 'e3')]);
    const [email] = await store.query<{ id: number; lookup_key: string }>(
      "SELECT id, lookup_key FROM identity_identifiers WHERE type = 'email'",
    );
    expect(
      await store.query(
        `SELECT identifier_id, customer_id, held_by, anchor, reason, first_seen_at, last_seen_at, seen_count
           FROM identity_shared_identifiers`,
      ),
    ).toEqual([
      {
        identifier_id: email?.id,
        customer_id: sharer,
        held_by: holder,
        anchor: 'member.sports-direct',
        reason: 'shared by two members anchored by member.sports-direct: links nothing',
        first_seen_at: new Date('2026-03-02T10:00:00Z'),
        last_seen_at: new Date('2026-03-05T08:00:00Z'),
        seen_count: 2,
      },
    ]);
    // No plaintext in the record: the identifier by its id only.
    const dump = JSON.stringify(await store.query('SELECT * FROM identity_shared_identifiers'));
    expect(dump).not.toContain('family');
  });

  it('shows it on the second member’s profile, masked without revealPii, and not on the first’s', async () => {
    const { graph } = fixture;
    const first = await graph.resolveIdentities([
      member('SD1', 'family@example.com', '2026-03-01T10:00:00Z', 'p1'),
    ]);
    const second = await graph.resolveIdentities([
      member('SD2', 'family@example.com', '2026-03-02T10:00:00Z', 'p2'),
    ]);
    const [holder, sharer] = [first.records[0].customerId, second.records[0].customerId];
    const masked = await graph.getProfile('member.sports-direct:SD2');
    expect(masked?.identifiers.map((identifier) => identifier.label)).toEqual(['member.sports-direct']);
    expect(masked?.sharedContactPoints).toEqual([
      {
        id: expect.any(Number),
        identifierId: expect.any(Number),
        type: 'email',
        label: 'email',
        value: 'f***@example.com',
        subjectKey: expect.any(String),
        customerId: sharer,
        heldBy: holder,
        anchor: 'member.sports-direct',
        reason: 'shared by two members anchored by member.sports-direct: links nothing',
        firstSeenAt: new Date('2026-03-02T10:00:00Z'),
        lastSeenAt: new Date('2026-03-02T10:00:00Z'),
        count: 1,
      },
    ]);
    const clear = await graph.getProfile('member.sports-direct:SD2', { revealPii: true });
    expect(clear?.sharedContactPoints.map((point) => point.value)).toEqual(['family@example.com']);
    const holderProfile = await graph.getProfile('member.sports-direct:SD1', { revealPii: true });
    expect(holderProfile?.identifiers.map((identifier) => identifier.value)).toEqual([
      'SD1',
      'family@example.com',
    ]);
    expect(holderProfile?.sharedContactPoints).toEqual([]);
    // The email's own subject key is the one the holder's profile shows.
    expect(masked?.sharedContactPoints[0]?.subjectKey).toBe(
      holderProfile?.identifiers.find((identifier) => identifier.type === 'email')?.subjectKey,
    );
  });

  it('records nothing when an email joins one member, or is kept apart for another reason', async () => {
    const { graph, store } = fixture;
    await graph.resolveIdentities([member('SD1', 'one@example.com', '2026-03-01T10:00:00Z', 'n1')]);
    await graph.resolveIdentities([member('SD1', 'one@example.com', '2026-03-02T10:00:00Z', 'n2')]);
    // A guest's email later used by a member joins the member: nothing shared.
    await graph.resolveIdentities([record({ email: 'guest@example.com' })]);
    await graph.resolveIdentities([member('SD3', 'guest@example.com', '2026-03-03T10:00:00Z', 'n3')]);
    // Members of two brands with one email join (one person): nothing shared.
    await graph.resolveIdentities([member('SD4', 'two@example.com', '2026-03-04T10:00:00Z', 'n4')]);
    const flannels = await graph.resolveIdentities([
      record({ member_id: 'FL4', brand: 'flannels', email: 'two@example.com' }, { brand: 'flannels' }),
    ]);
    expect(flannels.records[0].dropped).toEqual([]);
    expect(await store.query('SELECT * FROM identity_shared_identifiers')).toEqual([]);
  });

  it('lists the cases a page at a time, oldest first, with the cursor of the next page', async () => {
    const { graph } = fixture;
    for (const [index, family] of ['a', 'b', 'c'].entries()) {
      await graph.resolveIdentities([
        member(`SD${index}1`, `${family}@example.com`, `2026-04-0${index + 1}T10:00:00Z`, `l${index}1`),
      ]);
      await graph.resolveIdentities([
        member(`SD${index}2`, `${family}@example.com`, `2026-04-0${index + 1}T11:00:00Z`, `l${index}2`),
      ]);
    }
    const page1 = await graph.listSharedIdentifiers({ limit: 2 });
    expect(page1.sharedIdentifiers.map((entry) => entry.value)).toEqual([
      'a***@example.com',
      'b***@example.com',
    ]);
    expect(page1.nextAfter).toBe(page1.sharedIdentifiers[1]?.id);
    const page2 = await graph.listSharedIdentifiers(
      { limit: 2, after: page1.nextAfter ?? 0 },
      { revealPii: true },
    );
    expect(page2).toEqual({
      sharedIdentifiers: [
        expect.objectContaining({ value: 'c@example.com', anchor: 'member.sports-direct' }),
      ],
      nextAfter: null,
    });
  });
});
