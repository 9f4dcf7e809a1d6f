import { STORE_DRIVERS } from '@tessera/store';
import { traitsFromEvent } from '../src';
import { dumpAsText, openGraph, record, type GraphFixture } from './graph-fixture';

const at = (iso: string) => new Date(iso);

describe.each(STORE_DRIVERS)('profile traits on %s', (driver) => {
  let fixture: GraphFixture;
  beforeEach(async () => (fixture = await openGraph(driver)));
  afterEach(() => fixture.close());

  it('stores the traits a record carries on its profile', async () => {
    const { graph } = fixture;
    const result = await graph.resolveIdentities([
      record(
        { customer_id: 'C1' },
        { eventTime: at('2025-02-01T00:00:00Z'), traits: { loyalty_tier: 'gold', points_balance: 500 } },
      ),
    ]);
    expect(result.records[0].customerId).toBe('C1');

    const profile = await graph.getProfile('customer_id:C1');
    expect(profile?.traits).toEqual({ loyalty_tier: 'gold', points_balance: 500 });
    expect(profile?.traitTimes).toEqual({
      loyalty_tier: '2025-02-01T00:00:00.000Z',
      points_balance: '2025-02-01T00:00:00.000Z',
    });
  });

  it('does not let a late, older event overwrite points_balance or loyalty_tier', async () => {
    const { graph } = fixture;
    await graph.resolveIdentities([
      record(
        { customer_id: 'C1' },
        { eventTime: at('2025-02-01T00:00:00Z'), traits: { loyalty_tier: 'gold', points_balance: 500 } },
      ),
    ]);
    // Resolved later, but it happened earlier; it also carries a field nothing newer has set.
    await graph.resolveIdentities([
      record(
        { customer_id: 'C1', email: 'ana@example.com' },
        {
          eventTime: at('2025-01-01T00:00:00Z'),
          traits: { loyalty_tier: 'silver', points_balance: 120, locale: 'en-GB' },
        },
      ),
    ]);

    const profile = await graph.getProfile('email:ana@example.com');
    expect(profile?.customerId).toBe('C1');
    expect(profile?.traits).toEqual({ loyalty_tier: 'gold', points_balance: 500, locale: 'en-GB' });
    expect(profile?.traitTimes).toEqual({
      loyalty_tier: '2025-02-01T00:00:00.000Z',
      points_balance: '2025-02-01T00:00:00.000Z',
      locale: '2025-01-01T00:00:00.000Z',
    });
  });

  it('combines the traits of two profiles that merge, field by field', async () => {
    const { graph } = fixture;
    const older = await graph.resolveIdentities([
      record(
        { member_id: 'SD1', brand: 'sports-direct', email: 'ana@example.com' },
        {
          eventTime: at('2025-01-01T00:00:00Z'),
          traits: {
            first_name: 'Ana',
            points_balance: 100,
            loyalty_tier: 'silver',
            last_purchase_date: '2025-01-01',
            total_lifetime_value: 50.1,
            source_ids: { 'sports-direct': 'SD-A' },
          },
        },
      ),
    ]);
    const newer = await graph.resolveIdentities([
      record(
        { customer_id: 'C77', email: 'bruno@example.com' },
        {
          eventTime: at('2025-02-01T00:00:00Z'),
          traits: {
            first_name: 'Anna',
            points_balance: 300,
            last_purchase_date: '2024-12-24',
            total_lifetime_value: 20.2,
            source_ids: { flannels: 'FL-B' },
          },
        },
      ),
    ]);
    const olderId = older.records[0].customerId;
    expect(olderId).toEqual(expect.stringMatching(/^cus_/));
    expect(newer.records[0].customerId).toBe('C77');

    const joined = await graph.resolveIdentities([
      record({ email: 'ana@example.com', customer_id: 'C77' }, { eventTime: at('2025-03-01T00:00:00Z') }),
    ]);
    expect(joined.merges).toEqual([expect.objectContaining({ from: 'C77', to: olderId })]);

    const profile = await graph.getProfile('email:bruno@example.com', { revealPii: true });
    expect(profile?.customerId).toBe(olderId);
    expect(profile?.traits).toEqual({
      first_name: 'Anna',
      points_balance: 300,
      loyalty_tier: 'silver',
      last_purchase_date: '2025-01-01',
      total_lifetime_value: 70.3,
      source_ids: { 'sports-direct': 'SD-A', flannels: 'FL-B' },
    });
    // The merged-away id leads to the same profile.
    const byOldId = await graph.getProfile('customer_id:C77', { revealPii: true });
    expect(byOldId?.customerId).toBe(olderId);
    expect(byOldId?.requestedCustomerId).toBe('C77');
    expect(byOldId?.traits).toEqual(profile?.traits);
  });

  it('masks PII traits unless revealPii is asked for, and seals them at rest', async () => {
    const { graph, store } = fixture;
    await graph.resolveIdentities([
      record(
        { customer_id: 'C5' },
        {
          eventTime: at('2025-02-01T00:00:00Z'),
          traits: {
            first_name: 'Zeferina',
            last_name: 'Quixotaria',
            address: { line1: '7 Larkspur Mews', postcode: 'EH1 1YZ' },
            loyalty_tier: 'gold',
          },
        },
      ),
    ]);

    const masked = await graph.getProfile('customer_id:C5');
    expect(masked?.traits).toEqual({
      first_name: '***',
      last_name: '***',
      address: '***',
      loyalty_tier: 'gold',
    });

    const revealed = await graph.getProfile('customer_id:C5', { revealPii: true });
    expect(revealed?.traits).toEqual({
      first_name: 'Zeferina',
      last_name: 'Quixotaria',
      address: { line1: '7 Larkspur Mews', postcode: 'EH1 1YZ' },
      loyalty_tier: 'gold',
    });

    const [row] = await store.query<{ traits: unknown; pii_traits: string | null }>(
      "SELECT traits, pii_traits FROM identity_profiles WHERE customer_id = 'C5'",
    );
    expect(row.traits).toEqual({ loyalty_tier: 'gold' });
    expect(row.pii_traits).not.toBeNull();
    const dump = await dumpAsText(store);
    for (const clear of ['Zeferina', 'Quixotaria', 'Larkspur']) expect(dump).not.toContain(clear);
  });

  it('applies every record of a batch for one profile, whatever their order in the batch', async () => {
    const { graph } = fixture;
    const events = [
      {
        time: '2025-03-03T00:00:00Z',
        type: 'transaction.created',
        data: { amount: 25.5, occurred_at: '2025-03-03T00:00:00Z' },
      },
      { time: '2025-03-01T00:00:00Z', type: 'tier.changed', data: { tier: 'silver' } },
      { time: '2025-03-05T00:00:00Z', type: 'points.updated', data: { delta: 40, new_balance: 440 } },
      {
        time: '2025-03-02T00:00:00Z',
        type: 'transaction.created',
        data: { amount: 0.1, occurred_at: '2025-03-02T00:00:00Z' },
      },
      { time: '2025-03-04T00:00:00Z', type: 'tier.changed', data: { tier: 'gold' } },
      { time: '2025-03-02T12:00:00Z', type: 'points.updated', data: { delta: 400, new_balance: 400 } },
      {
        time: '2025-03-06T00:00:00Z',
        type: 'transaction.created',
        data: { amount: -5.6, occurred_at: '2025-03-06T00:00:00Z' },
      },
      {
        time: '2025-03-01T06:00:00Z',
        type: 'profile.updated',
        data: { locale: 'en-GB', source_ids: { group: 'G1' } },
      },
    ];
    const records = events.map((event) =>
      record(
        { customer_id: 'C9', email: 'carla@example.com' },
        { eventTime: at(event.time), traits: traitsFromEvent(event.type, event.data) },
      ),
    );
    // Another profile in the same batch keeps its own traits.
    records.splice(3, 0, record({ customer_id: 'C10' }, { traits: { loyalty_tier: 'bronze' } }));

    const result = await graph.resolveIdentities(records);
    expect(new Set(result.records.map((resolved) => resolved.customerId))).toEqual(new Set(['C9', 'C10']));

    const profile = await graph.getProfile('email:carla@example.com');
    expect(profile?.customerId).toBe('C9');
    expect(profile?.traits).toEqual({
      loyalty_tier: 'gold',
      points_balance: 440,
      total_lifetime_value: 20,
      last_purchase_date: '2025-03-03',
      locale: 'en-GB',
      source_ids: { group: 'G1' },
    });
    expect(profile?.traitTimes).toEqual({
      loyalty_tier: '2025-03-04T00:00:00.000Z',
      points_balance: '2025-03-05T00:00:00.000Z',
      total_lifetime_value: '2025-03-06T00:00:00.000Z',
      last_purchase_date: '2025-03-03T00:00:00.000Z',
      locale: '2025-03-01T06:00:00.000Z',
      'source_ids.group': '2025-03-01T06:00:00.000Z',
    });
    expect((await graph.getProfile('customer_id:C10'))?.traits).toEqual({ loyalty_tier: 'bronze' });
  });
});
