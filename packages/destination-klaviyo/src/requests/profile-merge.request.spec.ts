import { describeWithSpecs, ManualClock, OpenApiContract, type ProfileMerge } from '@tessera/destination-kit';
import { KLAVIYO_REVISION } from '../api-revision';
import {
  emulatorOf,
  type KlaviyoHarness,
  member,
  requestLines,
  startHarness,
} from '../klaviyo-destination-test-support';
import { buildProfileMergeBody, SURVIVOR_MISSING_RETRY_MS } from './profile-merge.request';

const NOW = Date.parse('2026-08-01T12:00:00Z');

const merge = (extra: Partial<ProfileMerge> = {}): ProfileMerge => ({
  customerId: 'C00001',
  mergedCustomerId: 'C00002',
  mergedWasGuest: false,
  basis: 'deterministic',
  mergedAt: new Date(NOW - 25 * 3_600_000).toISOString(),
  ...extra,
});

// The body is checked against Klaviyo's own Merge Profiles operation (merge_profiles.json, revision 2026-07-15).
describeWithSpecs('klaviyo', 'Klaviyo Merge Profiles request against the spec', (dir) => {
  const contract = OpenApiContract.fromFolder(dir);
  const headers = { authorization: 'Klaviyo-API-Key pk_test', revision: KLAVIYO_REVISION };

  it('builds a body the spec accepts: destination id, one source in relationships', () => {
    const body = buildProfileMergeBody('01KEEP', '01GONE');
    expect(body).toEqual({
      data: {
        type: 'profile-merge',
        id: '01KEEP',
        relationships: { profiles: { data: [{ type: 'profile', id: '01GONE' }] } },
      },
    });
    expect(contract.validate({ method: 'POST', path: '/api/profile-merge', headers, body })).toEqual([]);
  });

  it('would catch a wrong resource type or a missing destination id', () => {
    const wrong = contract.validate({
      method: 'POST',
      path: '/api/profile-merge',
      headers,
      body: { data: { type: 'profile', relationships: { profiles: { data: [] } } } },
    });
    expect(wrong.map((violation) => violation.pointer)).toEqual(
      expect.arrayContaining(['/data/type', '/data']),
    );
  });
});

describe('Klaviyo mergeProfiles against the emulator', () => {
  let harness: KlaviyoHarness;

  afterEach(async () => {
    const violations = harness.violations();
    await harness.close();
    expect(violations).toEqual([]);
  });

  it("merges the retired profile into the survivor's: one lookup, one merge; one profile left", async () => {
    harness = await startHarness({}, { clock: new ManualClock(NOW) });
    await harness.run('upsertProfiles', [
      member(1, { attributes: { points_balance: 250 } }),
      member(2, { attributes: { points_balance: 100, first_name: 'Old' } }),
    ]);
    const kept = emulatorOf(harness).findProfile({ externalId: 'C00001' });
    harness.clearRequests();

    const results = await harness.run('mergeProfiles', [merge()]);

    expect(results).toEqual([{ status: 'ok', externalId: kept?.id }]);
    expect(requestLines(harness)).toEqual(['GET /api/profiles', 'POST /api/profile-merge']);
    expect(emulatorOf(harness).findProfile({ externalId: 'C00002' })).toBeUndefined();
    expect(
      emulatorOf(harness)
        .state()
        .profiles.map((profile) => profile.id),
    ).toEqual([kept?.id]);
    expect(emulatorOf(harness).findProfile({ email: 'member2@example.com' })).toBeUndefined();
    expect(emulatorOf(harness).findProfile({ externalId: 'C00001' })?.attributes).toMatchObject({
      email: 'member1@example.com',
      properties: { points_balance: 250 },
    });
  });

  it('uses the Klaviyo ids a previous write returned without a lookup', async () => {
    harness = await startHarness({}, { clock: new ManualClock(NOW) });
    const written = await harness.run('upsertProfiles', [member(1), member(2)]);
    harness.clearRequests();
    const ids = written.map((result) => (result.status === 'ok' ? result.externalId : undefined));

    expect(
      await harness.run('mergeProfiles', [merge({ externalId: ids[0], mergedExternalId: ids[1] })]),
    ).toEqual([{ status: 'ok', externalId: ids[0] }]);
    expect(requestLines(harness)).toEqual(['POST /api/profile-merge']);
  });

  it('sends nothing for a retired profile Klaviyo never held; retries when the survivor is not there yet', async () => {
    harness = await startHarness({}, { clock: new ManualClock(NOW) });
    await harness.run('upsertProfiles', [member(2)]);
    harness.clearRequests();

    expect(await harness.run('mergeProfiles', [merge({ mergedCustomerId: 'C00009' }), merge()])).toEqual([
      { status: 'ok' },
      {
        status: 'retry',
        afterMs: SURVIVOR_MISSING_RETRY_MS,
        reason: 'Klaviyo holds no profile for C00001 yet to merge C00002 into',
      },
    ]);
    expect(requestLines(harness)).toEqual(['GET /api/profiles']);
    expect(emulatorOf(harness).findProfile({ externalId: 'C00002' })).toBeDefined();
  });

  it('never merges before the cooling-off: retried when it ends, then sent', async () => {
    const clock = new ManualClock(NOW);
    harness = await startHarness({ mergeCoolingOffMinutes: 120 }, { clock });
    await harness.run('upsertProfiles', [member(1), member(2)]);
    harness.clearRequests();
    const fresh = merge({ mergedAt: new Date(NOW - 60 * 60_000).toISOString() });

    expect(await harness.run('mergeProfiles', [fresh])).toEqual([
      {
        status: 'retry',
        afterMs: 60 * 60_000,
        reason: 'Cooling off until 2026-08-01T13:00:00.000Z before an irreversible Klaviyo merge',
      },
    ]);
    expect(harness.requests()).toEqual([]);
    clock.advance(60 * 60_000);
    expect((await harness.run('mergeProfiles', [fresh]))[0]?.status).toBe('ok');
    expect(emulatorOf(harness).state().merges).toHaveLength(1);
  });
});
