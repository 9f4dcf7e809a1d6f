import { DestinationHarness } from '@tessera/destination-kit';
import { mailchimpPackage } from '../index';
import { mailchimpDestination } from '../mailchimp.destination';
import type { MailchimpSettings } from '../mailchimp-settings';
import { API_KEY, contract } from '../testing/mailchimp-test-bench';
import { MailchimpEmulator } from './mailchimp.emulator';

// The mapping preview runs a fresh emulator, which knows no audience: the package says which one the
// destination's settings imply, so the preview shows the requests rather than the emulator's 404s.

const settings: MailchimpSettings = {
  apiKey: API_KEY,
  listId: 'preview-list',
  baseUrl: 'https://us21.api.mailchimp.com',
  segmentIds: { gold: '49381', silver: '49382' },
  mergeFieldMapping: { loyalty_tier: 'TIER', points_balance: 'POINTS' },
};
const writes = { attributes: ['loyalty_tier', 'points_balance', 'first_name'], segments: ['gold', 'vip'] };

describe('the account a Mailchimp destination’s settings imply (mapping preview)', () => {
  it('is its audience with every merge tag it sends and the static segments the previewed segments map to', () => {
    expect(mailchimpPackage.emulatorConfigFor?.(settings, writes)).toEqual({
      audiences: [
        {
          id: 'preview-list',
          name: 'Audience of the previewed destination',
          mergeFields: [
            { tag: 'TESSERA_ID', type: 'text', name: 'TESSERA_ID' },
            { tag: 'PHONE', type: 'phone', name: 'PHONE' },
            { tag: 'FNAME', type: 'text', name: 'FNAME' },
            { tag: 'LNAME', type: 'text', name: 'LNAME' },
            { tag: 'BIRTHDAY', type: 'birthday', name: 'BIRTHDAY' },
            { tag: 'ADDRESS', type: 'address', name: 'ADDRESS' },
            { tag: 'TIER', type: 'text', name: 'TIER' },
            { tag: 'POINTS', type: 'text', name: 'POINTS' },
          ],
          staticSegments: [{ id: '49381', name: 'gold' }],
        },
      ],
    });
  });

  it('takes what the destination sends whole: no refusal, no omitted field', async () => {
    const emulator = new MailchimpEmulator();
    emulator.configure(mailchimpPackage.emulatorConfigFor?.(settings, writes));
    const harness = await DestinationHarness.start<MailchimpSettings>({
      definition: mailchimpDestination,
      emulator,
      settings: { ...settings },
      contract,
    });
    try {
      const upserted = await harness.run('upsertProfiles', [
        {
          customerId: 'C1',
          version: 1,
          email: 'ada@example.com',
          phone: '+447700900123',
          attributes: { first_name: 'Ada', loyalty_tier: 'Gold', points_balance: 6200 },
        },
      ]);
      const segmented = await harness.run('addToSegment', [
        { customerId: 'C1', segment: 'gold', email: 'ada@example.com' },
        { customerId: 'C1', segment: 'vip', email: 'ada@example.com' },
      ]);

      expect([...upserted, ...segmented]).toEqual([
        { status: 'ok', externalId: expect.any(String) },
        { status: 'ok', externalId: expect.any(String) },
        { status: 'ok', externalId: expect.any(String) },
      ]);
      expect(harness.requests().filter((request) => request.status >= 400)).toEqual([]);
      expect(harness.violations()).toEqual([]);
      expect(emulator.member('preview-list', 'ada@example.com')?.tags).toEqual(['gold', 'vip']);
    } finally {
      await harness.close();
    }
  });
});
