import { eventCatalog } from '@tessera/events';
import { STORE_DRIVERS } from '@tessera/store';
import { IdentityOutbox } from '../src';
import { openGraph, record, type GraphFixture } from './graph-fixture';

describe.each(STORE_DRIVERS)('the identity outbox on %s', (driver) => {
  let fixture: GraphFixture;
  beforeEach(async () => (fixture = await openGraph(driver)));
  afterEach(() => fixture.close());

  it('holds catalog-valid membership events, oldest first, until they are marked published', async () => {
    const { graph, store } = fixture;
    const brand = await graph.resolveIdentities([
      record({ member_id: 'SD1', brand: 'sports-direct' }, { eventTime: new Date('2024-01-01T00:00:00Z') }),
    ]);
    await graph.resolveIdentities([record({ customer_id: 'C1', email: 'eve@example.com' })]);
    const merged = await graph.resolveIdentities([
      record({ member_id: 'SD1', brand: 'sports-direct', email: 'eve@example.com' }),
    ]);
    await graph.unmerge({ lineageId: merged.merges[0].lineageId, actor: 'ops', reason: 'two people' });

    const outbox = new IdentityOutbox(store);
    const pending = await outbox.pending();
    expect(
      pending.map((event) => [event.type, event.data.from_customer_id, event.data.to_customer_id]),
    ).toEqual([
      ['membership.merged', 'C1', brand.records[0].customerId],
      ['membership.split', brand.records[0].customerId, 'C1'],
    ]);
    expect(new Set(pending.map((event) => event.eventId)).size).toBe(2);
    for (const event of pending) expect(eventCatalog().validateData(event.type, event.data)).toEqual([]);

    expect(await outbox.markPublished([pending[0].id])).toBe(1);
    expect(await outbox.markPublished([pending[0].id])).toBe(0);
    expect((await outbox.pending()).map((event) => event.id)).toEqual([pending[1].id]);
    expect(await outbox.pending(0)).toHaveLength(1);
  });
});
