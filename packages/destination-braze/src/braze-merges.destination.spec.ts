import {
  decideMergeRelease,
  ManualClock,
  type DestinationHarness,
  type ProfileMerge,
  type ProfileUpsert,
} from '@tessera/destination-kit';
import type { BrazeSettings } from './braze.destination';
import { member, requestLines, startBraze } from './braze-test-support';
import type { BrazeEmulator } from './emulator/braze.emulator';
import { PROBABILISTIC_MERGE_REASON } from './requests/user-merge.request';

describe('Braze guests and merges', () => {
  let emulator: BrazeEmulator;
  let harness: DestinationHarness<BrazeSettings>;

  async function start(settings: Partial<BrazeSettings> = {}, clock?: ManualClock): Promise<void> {
    ({ emulator, harness } = await startBraze(settings, clock));
  }

  const lines = () => requestLines(harness);

  afterEach(async () => {
    const violations = harness.violations();
    await harness.close();
    expect(violations).toEqual([]);
  });

  const NOW = Date.parse('2026-03-10T12:00:00Z');
  const merge = (extra: Partial<ProfileMerge> = {}): ProfileMerge => ({
    customerId: 'C00001',
    mergedCustomerId: 'G00009',
    mergedWasGuest: true,
    basis: 'deterministic',
    mergedAt: new Date(NOW - 25 * 3_600_000).toISOString(),
    ...extra,
  });

  it('keys a guest by the tessera_customer_id alias, creating the alias-only user', async () => {
    await start();
    const guest: ProfileUpsert = {
      customerId: 'G00009',
      version: 1,
      guest: true,
      email: 'guest@example.com',
      attributes: { viewed_model: 'Sofa 3D' },
    };

    expect(await harness.run('upsertProfiles', [guest])).toEqual([{ status: 'ok' }]);

    expect(harness.requests()[0]?.body).toEqual({
      attributes: [
        {
          viewed_model: 'Sofa 3D',
          user_alias: { alias_name: 'G00009', alias_label: 'tessera_customer_id' },
          _update_existing_only: false,
          email: 'guest@example.com',
        },
      ],
    });
    expect(emulator.aliasUser('G00009', 'tessera_customer_id')).toMatchObject({
      email: 'guest@example.com',
      attributes: { viewed_model: 'Sofa 3D' },
    });
    expect(emulator.user('G00009')).toBeUndefined();
  });

  it('identifies a guest that became a member with merge_behavior merge, keeping its attributes', async () => {
    await start({}, new ManualClock(NOW));
    await harness.run('upsertProfiles', [
      { customerId: 'G00009', version: 1, guest: true, attributes: { viewed_model: 'Sofa 3D' } },
      member(1),
    ]);

    expect(await harness.run('mergeProfiles', [merge()])).toEqual([{ status: 'ok' }]);

    expect(harness.requests().at(-1)?.body).toEqual({
      aliases_to_identify: [
        { external_id: 'C00001', user_alias: { alias_name: 'G00009', alias_label: 'tessera_customer_id' } },
      ],
      merge_behavior: 'merge',
    });
    expect(emulator.aliasUser('G00009', 'tessera_customer_id')).toBeUndefined();
    expect(emulator.user('C00001')?.attributes).toMatchObject({
      viewed_model: 'Sofa 3D',
      first_name: 'Ada1',
    });
  });

  it('merges two members through /users/merge, the merged id into the kept one', async () => {
    await start({}, new ManualClock(NOW));
    await harness.run('upsertProfiles', [member(1), member(2, { attributes: { favourite_store: 'Leeds' } })]);

    const results = await harness.run('mergeProfiles', [
      merge({ mergedCustomerId: 'C00002', mergedWasGuest: false, basis: 'human' }),
    ]);

    expect(results).toEqual([{ status: 'ok' }]);
    expect(lines().at(-1)).toBe('POST /users/merge');
    expect(emulator.state().merges).toEqual([{ kind: 'merge', merged: 'C00002', kept: 'C00001' }]);
    expect(emulator.user('C00002')).toBeUndefined();
    expect(emulator.user('C00001')?.attributes).toMatchObject({ favourite_store: 'Leeds' });
  });

  it('never sends a probabilistic merge, and holds a fresh one until the cooling-off ends', async () => {
    await start({ mergeCoolingOffMinutes: 60 }, new ManualClock(NOW));

    const results = await harness.run('mergeProfiles', [
      merge({ basis: 'probabilistic' }),
      merge({ mergedCustomerId: 'G00010', mergedAt: new Date(NOW - 20 * 60_000).toISOString() }),
      merge({ mergedCustomerId: 'G00011', mergedAt: 'yesterday' }),
    ]);

    expect(results).toEqual([
      { status: 'rejected', reason: PROBABILISTIC_MERGE_REASON },
      {
        status: 'retry',
        afterMs: 40 * 60_000,
        reason: 'Cooling off until 2026-03-10T12:40:00.000Z before an irreversible Braze merge',
      },
      { status: 'rejected', reason: 'mergedAt is not an ISO-8601 time: "yesterday"' },
    ]);
    expect(harness.requests()).toEqual([]);
    expect(emulator.state().merges).toEqual([]);
  });

  it('decides the release of a merge from its basis and age', () => {
    const due = merge({ mergedAt: new Date(NOW - 60_000).toISOString() });
    expect(decideMergeRelease(due, 60_000, NOW)).toEqual({ action: 'send' });
    expect(decideMergeRelease(due, 120_000, NOW)).toEqual({
      action: 'wait',
      afterMs: 60_000,
      until: new Date(NOW + 60_000).toISOString(),
    });
    expect(decideMergeRelease({ ...due, basis: 'human' }, 0, NOW)).toEqual({ action: 'send' });
  });

  it('refuses a cooling-off period outside 0..43,200 minutes', async () => {
    await expect(start({ mergeCoolingOffMinutes: -1 })).rejects.toThrow(
      'Destination "braze" settings are invalid: /mergeCoolingOffMinutes must be >= 0',
    );
    await start();
  });
});
