import type { CatalogEvent } from '@tessera/events';
import type { ResolvedEvent } from '@tessera/queues';
import { profileMergeOf } from './profile-merge';

const merged = (data: Record<string, unknown>, extra: Partial<ResolvedEvent> = {}): ResolvedEvent => ({
  key: { sourceId: 'loyalty', eventSource: 'loyalty-platform', eventId: 'm-1' },
  brand: 'sd',
  receivedAt: '2026-03-01T10:00:01Z',
  customerId: 'C2',
  event: {
    specversion: '1.0',
    id: 'm-1',
    source: 'loyalty-platform',
    type: 'membership.merged',
    time: '2026-03-01T10:00:00Z',
    data,
  } as unknown as CatalogEvent,
  ...extra,
});

const lineage = {
  basis: 'deterministic',
  mergedWasGuest: false,
  mergedAt: '2026-02-28T09:00:00.000Z',
} as const;

describe('profileMergeOf', () => {
  it("asks nothing of the loyalty platform's own merge: the graph merges at resolution and announces it", () => {
    expect(profileMergeOf(merged({ from_customer_id: 'C1', to_customer_id: 'C2' }))).toBeUndefined();
  });

  it('takes what the identity graph knows of its own merges', () => {
    const human = { basis: 'human', mergedWasGuest: true, mergedAt: '2026-02-28T09:00:00.000Z' } as const;
    expect(
      profileMergeOf(merged({ from_customer_id: 'cus_guest', to_customer_id: 'C2' }, { merge: human })),
    ).toEqual({
      customerId: 'C2',
      mergedCustomerId: 'cus_guest',
      mergedWasGuest: true,
      basis: 'human',
      mergedAt: '2026-02-28T09:00:00.000Z',
    });
  });

  it('merges into the profile the event resolved to now, not an older survivor', () => {
    expect(
      profileMergeOf(
        merged({ from_customer_id: 'C1', to_customer_id: 'C0' }, { customerId: 'C9', merge: lineage }),
      ),
    ).toMatchObject({ customerId: 'C9', mergedCustomerId: 'C1' });
  });

  it('asks nothing of another event type, of a profile merged into itself, or of data without a merged id', () => {
    const notMerge = merged({ customer_id: 'C2' }, { merge: lineage });
    notMerge.event = { ...notMerge.event, type: 'profile.updated' } as CatalogEvent;
    expect(profileMergeOf(notMerge)).toBeUndefined();
    const withLineage = (data: Record<string, unknown>) => profileMergeOf(merged(data, { merge: lineage }));
    expect(withLineage({ from_customer_id: 'C2', to_customer_id: 'C2' })).toBeUndefined();
    expect(withLineage({ to_customer_id: 'C2' })).toBeUndefined();
    expect(withLineage({ from_customer_id: 42, to_customer_id: 'C2' })).toBeUndefined();
  });
});
