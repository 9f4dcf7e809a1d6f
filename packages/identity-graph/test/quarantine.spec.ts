import { STORE_DRIVERS } from '@tessera/store';
import { openGraph, record, type GraphFixture, customerIdOf } from './graph-fixture';

describe.each(STORE_DRIVERS)('quarantine of a shared value on %s', (driver) => {
  let fixture: GraphFixture;
  beforeEach(async () => (fixture = await openGraph(driver)));
  afterEach(() => fixture.close());

  it('quarantines an email seen with more member ids than its type allows, and keeps it quarantined', async () => {
    const { graph, store } = fixture;
    const members = [];
    for (const id of ['SD1', 'SD2', 'SD3', 'SD4']) {
      const result = await graph.resolveIdentities([
        record({ member_id: id, brand: 'sports-direct', email: 'till@shop.example.com' }),
      ]);
      members.push(customerIdOf(result));
    }
    expect(new Set(members).size).toBe(4);
    const [email] = await store.query<{ quarantined_reason: string | null; customer_id: string }>(
      "SELECT quarantined_reason, customer_id FROM identity_identifiers WHERE type = 'email'",
    );
    expect(email.quarantined_reason).toBe('quarantined email: one value touches 4 profiles (at most 3)');
    // It no longer belongs to the first member who brought it.
    expect(members).not.toContain(email.customer_id);
    const first = await graph.getProfile('member.sports-direct:SD1', { revealPii: true });
    expect(first?.identifiers.map((identifier) => identifier.label)).toEqual(['member.sports-direct']);

    // Sticky: a later event with the email and a fresh member links nothing, and the reason says why.
    const later = await graph.resolveIdentities([
      record({ member_id: 'SD9', brand: 'sports-direct', email: 'till@shop.example.com' }),
    ]);
    expect(later.merges).toEqual([]);
    expect(later.records[0].dropped.map((dropped) => dropped.reason)).toEqual([
      `not linked to ${later.records[0].customerId}: quarantined email: one value touches 4 profiles (at most 3)`,
    ]);
    const profile = await graph.getProfile('email:till@shop.example.com');
    expect(profile?.identifiers).toEqual([
      expect.objectContaining({
        label: 'email',
        quarantined: 'quarantined email: one value touches 4 profiles (at most 3)',
      }),
    ]);
  });
});
