import { STORE_DRIVERS } from '@tessera/store';
import { dumpAsText, openGraph, record, type GraphFixture, customerIdOf } from './graph-fixture';

describe.each(STORE_DRIVERS)('the reference migration on %s', (driver) => {
  let fixture: GraphFixture;
  beforeEach(async () => (fixture = await openGraph(driver)));
  afterEach(() => fixture.close());

  it('merges a brand member and a group member who share an email, under the oldest anchor', async () => {
    const { graph } = fixture;
    const brand = await graph.resolveIdentities([
      record(
        { member_id: 'SD123', brand: 'sports-direct', email: 'Ana.Silva@Example.com' },
        { eventTime: new Date('2024-03-01T10:00:00Z') },
      ),
    ]);
    // The group programme knew her under its own id before anyone linked the two.
    const enrolled = await graph.resolveIdentities([
      record({ customer_id: 'C123456' }, { eventTime: new Date('2025-06-01T10:00:00Z') }),
    ]);
    expect(enrolled.records[0].customerId).toBe('C123456');
    const group = await graph.resolveIdentities([
      record(
        { customer_id: 'C123456', email: 'ana.silva@example.com ' },
        { eventTime: new Date('2025-06-02T10:00:00Z'), eventId: 'group-evt-1' },
      ),
    ]);
    const brandId = customerIdOf(brand);
    expect(brandId).toMatch(/^cus_[0-9a-f]{26}$/);
    // The brand member was seen first, so its id is the merged profile's.
    expect(group.records[0].customerId).toBe(brandId);
    expect(group.merges).toEqual([
      expect.objectContaining({ from: 'C123456', to: brandId, rule: 'deterministic: shared identifier' }),
    ]);
    const profile = await graph.getProfile('customer_id:C123456', { revealPii: true });
    expect(profile?.customerId).toBe(brandId);
    expect(profile?.identifiers.map((identifier) => [identifier.label, identifier.value])).toEqual([
      ['customer_id', 'C123456'],
      ['member.sports-direct', 'SD123'],
      ['email', 'ana.silva@example.com'],
    ]);
    expect(profile?.lineage).toEqual([
      expect.objectContaining({ kind: 'merge', winner: brandId, loser: 'C123456', eventId: 'group-evt-1' }),
    ]);
  });

  it('keeps two people apart who share a household email but hold different member ids', async () => {
    const { graph } = fixture;
    const first = await graph.resolveIdentities([
      record({ member_id: 'SD1', brand: 'sports-direct', email: 'family@example.com' }),
    ]);
    const second = await graph.resolveIdentities([
      record({ member_id: 'SD2', brand: 'sports-direct', email: 'family@example.com' }),
    ]);
    expect(second.records[0].customerId).not.toBe(first.records[0].customerId);
    expect(second.merges).toEqual([]);
    expect(second.records[0].dropped).toEqual([
      {
        type: 'email',
        field: 'email',
        reason: `not linked to ${second.records[0].customerId}: shared by two members anchored by member.sports-direct: links nothing`,
      },
    ]);
    const rejected = await fixture.store.query<{ reason: string; event_id: string }>(
      'SELECT reason, event_id FROM identity_rejected_edges',
    );
    expect(rejected).toEqual([
      {
        reason: 'anchor conflict: two different member.sports-direct values never merge',
        event_id: expect.any(String),
      },
    ]);
  });

  it('stores no plaintext email or phone anywhere in the database', async () => {
    const { graph, store } = fixture;
    await graph.resolveIdentities([
      record(
        { customer_id: 'C9', email: 'secret.person@example.org', phone: '07700 900123' },
        { traits: { first_name: 'Secretia', last_name: 'Personne' } },
      ),
    ]);
    const dump = await dumpAsText(store);
    expect(dump).toContain('C9');
    for (const secret of [
      'secret.person',
      'example.org',
      '7700900123',
      '07700 900123',
      'Secretia',
      'Personne',
    ]) {
      expect(dump).not.toContain(secret);
    }
    const profile = await graph.getProfile('phone:+447700900123', { revealPii: true });
    expect(profile?.traits).toMatchObject({ first_name: 'Secretia', last_name: 'Personne' });
    const masked = await graph.getProfile('email:secret.person@example.org');
    expect(masked?.identifiers.find((identifier) => identifier.type === 'email')?.value).toBe(
      's***@example.org',
    );
    expect(masked?.traits.first_name).toBe('***');
  });
});
