import type { ProfileUpsert } from '@tessera/destination-kit';
import { buildUpsertProfilesBody, upsertProfilesResults } from './upsert-profiles.request';

const items: ProfileUpsert[] = [
  { customerId: 'C1', version: 3, email: 'ada@example.com', attributes: { tier: 'gold' } },
  { customerId: 'C2', version: 1, phone: '+447700900123', attributes: {} },
];

describe('upsertProfiles request', () => {
  it('maps items to Sfmc profiles, leaving out contact points that are not set', () => {
    expect(buildUpsertProfilesBody(items)).toEqual({
      profiles: [
        { external_id: 'C1', email: 'ada@example.com', properties: { tier: 'gold' } },
        { external_id: 'C2', phone: '+447700900123', properties: {} },
      ],
    });
  });

  it('maps the per-profile results back to the items, in order', () => {
    expect(
      upsertProfilesResults(items, {
        results: [
          { external_id: 'C1', id: 'prof_1' },
          { external_id: 'C2', error: 'phone is not reachable' },
        ],
      }),
    ).toEqual([
      { status: 'ok', externalId: 'prof_1' },
      { status: 'rejected', reason: 'phone is not reachable' },
    ]);
  });

  it('rejects the items Sfmc returned no result for', () => {
    expect(upsertProfilesResults(items, undefined)).toEqual([
      { status: 'rejected', reason: 'Sfmc returned no result for customer C1' },
      { status: 'rejected', reason: 'Sfmc returned no result for customer C2' },
    ]);
  });
});
