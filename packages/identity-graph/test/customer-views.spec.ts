import { STORE_DRIVERS } from '@tessera/store';
import { customerIdOf, emptyGraph, openGraph, record, type GraphFixture } from './graph-fixture';

describe.each(STORE_DRIVERS)('customer views for the pipeline on %s', (driver) => {
  let fixture: GraphFixture;

  beforeAll(async () => {
    fixture = await openGraph(driver);
  }, 30_000);
  afterAll(() => fixture.close());
  beforeEach(() => emptyGraph(fixture.store));

  it('reads many profiles at once: version, traits, latest contact points with their blind indexes, guest or member', async () => {
    const tierSetAt = new Date('2025-10-01T08:00:00.000Z');
    const member = await fixture.graph.resolveIdentities([
      record(
        { customer_id: 'C1', email: 'old@example.com' },
        { traits: { loyalty_tier: 'gold', first_name: 'Ada' }, eventTime: tierSetAt },
      ),
    ]);
    const memberId = customerIdOf(member);
    await fixture.graph.resolveIdentities([
      record({ customer_id: 'C1', email: 'New@Example.com', phone: '+447700900123' }),
    ]);
    const guest = await fixture.graph.resolveIdentities([
      record({ anonymous_id: 'device-9', email: 'guest@example.com' }),
    ]);
    const guestId = customerIdOf(guest);

    const views = await fixture.graph.customerViews([memberId, guestId, 'cus_unknown', memberId]);

    expect([...views.keys()]).toEqual([memberId, guestId]);
    const view = views.get(memberId);
    expect(view).toMatchObject({
      customerId: 'C1',
      traits: { loyalty_tier: 'gold', first_name: 'Ada' },
      email: {
        value: 'new@example.com',
        key: fixture.graph.keys.lookupKey({ type: 'email', value: 'new@example.com' }),
      },
      phone: { value: '+447700900123' },
      guest: false,
    });
    // Each value's event time: what the win-back check measures points stagnation by.
    expect(view?.traitTimes['loyalty_tier']).toBe(tierSetAt.toISOString());
    // Versions count trait changes; a new contact point alone does not bump it (the deliver stage skips only older ones).
    expect(view?.version).toBe(1);
    expect(views.get(guestId)).toMatchObject({ guest: true, email: { value: 'guest@example.com' } });
  });

  it('leaves out a profile merged into another (its survivor is the one to sync)', async () => {
    const first = customerIdOf(await fixture.graph.resolveIdentities([record({ email: 'a@example.com' })]));
    const second = customerIdOf(
      await fixture.graph.resolveIdentities([record({ customer_id: 'C7', email: 'a@example.com' })]),
    );
    const views = await fixture.graph.customerViews([first, second]);
    expect(first).not.toBe(second);
    expect([...views.keys()]).toEqual([second]);
  });
});
