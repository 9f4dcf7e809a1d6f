import { ManualClock, type ProfileMerge } from '@tessera/destination-kit';
import {
  hashOf,
  LIST,
  member,
  type MailchimpTestBench,
  startMailchimpBench,
} from './testing/mailchimp-test-bench';

const NOW = Date.parse('2026-03-10T12:00:00Z');

const merge = (extra: Partial<ProfileMerge> = {}): ProfileMerge => ({
  customerId: 'C00001',
  mergedCustomerId: 'C00002',
  mergedWasGuest: false,
  basis: 'deterministic',
  mergedAt: new Date(NOW - 25 * 3_600_000).toISOString(),
  externalId: hashOf(1),
  mergedExternalId: hashOf(2),
  ...extra,
});

describe('Mailchimp mergeProfiles: the retired member is archived', () => {
  let bench: MailchimpTestBench;

  afterEach(async () => {
    const violations = bench.harness.violations();
    await bench.harness.close();
    expect(violations).toEqual([]);
  });

  it('archives the retired member with DELETE on its hash; the survivor stays subscribed', async () => {
    bench = await startMailchimpBench();
    await bench.harness.run('upsertProfiles', [member(1), member(2)]);
    await bench.harness.run('subscribe', [
      { customerId: 'C00001', channel: 'email', email: 'member1@example.com' },
      { customerId: 'C00002', channel: 'email', email: 'member2@example.com' },
    ]);

    expect(await bench.harness.run('mergeProfiles', [merge()])).toEqual([{ status: 'ok' }]);

    expect(bench.lines().at(-1)).toBe(`DELETE /3.0/lists/${LIST}/members/${hashOf(2)}`);
    expect(bench.stored(2)?.status).toBe('archived');
    expect(bench.stored(1)?.status).toBe('subscribed');
    // Archived, not erased: the member can be added again (as new), unlike after delete-permanent.
    expect(bench.emulator.state().deletions).toEqual([]);
  });

  it('sends nothing when the retired member is unknown here or is the survivor itself (one shared address)', async () => {
    bench = await startMailchimpBench();
    await bench.harness.run('upsertProfiles', [member(1)]);
    const before = bench.lines().length;

    const { mergedExternalId: _unknown, ...unknown } = merge();
    expect(
      await bench.harness.run('mergeProfiles', [unknown, merge({ mergedExternalId: hashOf(1) })]),
    ).toEqual([{ status: 'ok' }, { status: 'ok' }]);

    expect(bench.lines().length).toBe(before);
    expect(bench.stored(1)?.status).toBe('transactional');
  });

  it('treats a member already archived or never held (404) as archived; refuses a hash that is none', async () => {
    bench = await startMailchimpBench();
    await bench.harness.run('upsertProfiles', [member(2)]);
    expect(await bench.harness.run('mergeProfiles', [merge(), merge()])).toEqual([
      { status: 'ok' },
      { status: 'ok' },
    ]);
    expect(await bench.harness.run('mergeProfiles', [merge({ mergedExternalId: 'C00002' })])).toEqual([
      { status: 'rejected', reason: '"C00002" is not a Mailchimp subscriber hash' },
    ]);
    expect(bench.lines().filter((line) => line.startsWith('DELETE'))).toHaveLength(2);
    expect(bench.harness.requests().map((request) => request.status)).toEqual([200, 204, 404]);
  });

  it('brings an archived member back as new when it is written again', async () => {
    bench = await startMailchimpBench();
    await bench.harness.run('upsertProfiles', [member(2)]);
    await bench.harness.run('mergeProfiles', [merge()]);
    expect(await bench.harness.run('upsertProfiles', [member(2, { version: 2 })])).toEqual([
      { status: 'ok', externalId: hashOf(2) },
    ]);
    expect(bench.stored(2)?.status).toBe('transactional');
  });

  it('holds the archive until the cooling-off (the kit setting, default 24 h) ends', async () => {
    const clock = new ManualClock(NOW);
    bench = await startMailchimpBench({}, {}, { clock });
    await bench.harness.run('upsertProfiles', [member(2)]);
    const fresh = merge({ mergedAt: new Date(NOW - 3_600_000).toISOString() });

    expect(await bench.harness.run('mergeProfiles', [fresh])).toEqual([
      {
        status: 'retry',
        afterMs: 23 * 3_600_000,
        reason: 'Cooling off until 2026-03-11T11:00:00.000Z before an irreversible Mailchimp merge',
      },
    ]);
    expect(bench.stored(2)?.status).toBe('transactional');
    clock.advance(23 * 3_600_000);
    expect(await bench.harness.run('mergeProfiles', [fresh])).toEqual([{ status: 'ok' }]);
    expect(bench.stored(2)?.status).toBe('archived');
  });
});
