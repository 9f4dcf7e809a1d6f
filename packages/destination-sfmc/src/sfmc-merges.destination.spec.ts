import { type DestinationHarness, ManualClock, type ProfileMerge } from '@tessera/destination-kit';
import type { SfmcSettings } from './sfmc-settings';
import { buildContactDeleteBody } from './requests/contact-deletion.request';
import { allViolations, emulatorOf, member, startSfmcHarness } from './testing/sfmc-test-harness';

const NOW = Date.parse('2026-03-10T12:00:00Z');

const merge = (extra: Partial<ProfileMerge> = {}): ProfileMerge => ({
  customerId: 'C00001',
  mergedCustomerId: 'C00002',
  mergedWasGuest: false,
  basis: 'deterministic',
  mergedAt: new Date(NOW - 25 * 3_600_000).toISOString(),
  ...extra,
});

describe('SFMC mergeProfiles: the retired contact key is removed', () => {
  let harness: DestinationHarness<SfmcSettings>;

  afterEach(async () => {
    const violations = allViolations(harness);
    await harness.close();
    expect(violations).toEqual([]);
  });

  it('deletes the retired contact key (ContactAndAttributes); the survivor keeps its contact and row', async () => {
    harness = await startSfmcHarness({ clock: new ManualClock(NOW) });
    await harness.run('upsertProfiles', [member(1), member(2)]);
    await harness.run('subscribe', [
      { customerId: 'C00001', channel: 'email', email: 'member1@example.com' },
      { customerId: 'C00002', channel: 'email', email: 'member2@example.com' },
    ]);

    expect(await harness.run('mergeProfiles', [merge()])).toEqual([{ status: 'ok' }]);

    const request = harness.requests().at(-1);
    expect(`${request?.method} ${request?.path}`).toBe('POST /contacts/v1/contacts/actions/delete?type=keys');
    expect(request?.body).toEqual({ values: ['C00002'], DeleteOperationType: 'ContactAndAttributes' });
    const state = emulatorOf(harness).state();
    expect(state.contactDeletions).toEqual([{ operationID: 1, keys: ['C00002'] }]);
    expect(state.subscribers.map((subscriber) => subscriber.SubscriberKey)).toEqual(['C00001']);
    expect(state.dataExtensions['TesseraProfiles']?.map((row) => row['TesseraId'])).toEqual(['C00001']);
  });

  it('holds the removal until the cooling-off ends, then sends one request for the due merges', async () => {
    const clock = new ManualClock(NOW);
    harness = await startSfmcHarness({ clock, settings: { mergeCoolingOffMinutes: 60 } });
    await harness.run('upsertProfiles', [member(2), member(3)]);
    const fresh = merge({ mergedAt: new Date(NOW - 30 * 60_000).toISOString() });

    expect(await harness.run('mergeProfiles', [fresh, merge({ mergedCustomerId: 'C00003' })])).toEqual([
      {
        status: 'retry',
        afterMs: 30 * 60_000,
        reason:
          'Cooling off until 2026-03-10T12:30:00.000Z before an irreversible Salesforce Marketing Cloud merge',
      },
      { status: 'ok' },
    ]);
    expect(emulatorOf(harness).state().contactDeletions).toEqual([{ operationID: 1, keys: ['C00003'] }]);

    clock.advance(30 * 60_000);
    expect(await harness.run('mergeProfiles', [fresh])).toEqual([{ status: 'ok' }]);
    expect(emulatorOf(harness).state().dataExtensions['TesseraProfiles']).toEqual([]);
  });

  it('builds the body from the retired keys, each once', () => {
    expect(buildContactDeleteBody([{ customerId: 'C00002' }, { customerId: 'C00002' }])).toEqual({
      values: ['C00002'],
      DeleteOperationType: 'ContactAndAttributes',
    });
  });
});
