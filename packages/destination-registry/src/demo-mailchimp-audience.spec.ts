import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DestinationHarness } from '@tessera/destination-kit';
import {
  type MailchimpSettings,
  MailchimpEmulator,
  mailchimpDestination,
  mergeTagsSentBy,
} from '@tessera/destination-mailchimp';
import { DEMO_SANDBOX_CONFIG, ensureDemoWorkspace } from '@tessera/runtime';

// The sandbox's Mailchimp knows only the audiences and merge fields it is configured with, and Mailchimp refuses
// a merge tag an audience lacks: the demo's configuration must declare every tag its destination can send.

interface DemoAudience {
  id: string;
  mergeFields: { tag: string; type: string }[];
}

describe('the demo’s Mailchimp audience', () => {
  let dir: string;
  let settings: Record<string, unknown>;
  let mergeFieldMapping: Record<string, string>;
  let audience: DemoAudience | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-demo-mailchimp-'));
    const demo = ensureDemoWorkspace(dir, { port: 8080 });
    const declared = demo.workspace.destinations.find((destination) => destination['type'] === 'mailchimp');
    settings = (declared?.['settings'] ?? {}) as Record<string, unknown>;
    mergeFieldMapping = (settings['mergeFieldMapping'] ?? {}) as Record<string, string>;
    const config = DEMO_SANDBOX_CONFIG['mailchimp'] as { audiences: DemoAudience[] } | undefined;
    audience = config?.audiences.find((candidate) => candidate.id === settings['listId']);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is the demo destination’s audience, and declares every merge tag the destination’s mapping sends', () => {
    expect(mergeFieldMapping).toEqual({ loyalty_tier: 'TIER', points_balance: 'POINTS' });
    expect(audience?.id).toBe('summit-members');
    const declared = audience?.mergeFields.map((field) => field.tag) ?? [];
    expect(mergeTagsSentBy({ mergeFieldMapping }).filter((tag) => !declared.includes(tag))).toEqual([]);
    expect(audience?.mergeFields.find((field) => field.tag === 'POINTS')?.type).toBe('number');
  });

  it('takes a member carrying every mapped field whole: nothing omitted, nothing refused', async () => {
    const emulator = new MailchimpEmulator();
    emulator.configure(DEMO_SANDBOX_CONFIG['mailchimp']);
    const harness = await DestinationHarness.start<MailchimpSettings>({
      definition: mailchimpDestination,
      emulator,
      settings,
    });
    try {
      const results = await harness.run('upsertProfiles', [
        {
          customerId: 'NW000001',
          version: 1,
          email: 'olivia.smith.1@example.com',
          phone: '+447700900123',
          attributes: {
            first_name: 'Olivia',
            last_name: 'Smith',
            birthday: '1990-04-02',
            address: {
              line1: '2 Station Road',
              city: 'Leeds',
              region: 'West Yorkshire',
              postcode: 'LS1 4AB',
            },
            loyalty_tier: 'Gold',
            points_balance: 6200,
          },
        },
      ]);

      expect(results).toEqual([{ status: 'ok', externalId: expect.any(String) }]);
      expect(emulator.member('summit-members', 'olivia.smith.1@example.com')?.merge_fields).toEqual({
        TESSERA_ID: 'NW000001',
        PHONE: '+447700900123',
        FNAME: 'Olivia',
        LNAME: 'Smith',
        BIRTHDAY: '04/02',
        ADDRESS: { addr1: '2 Station Road', city: 'Leeds', state: 'West Yorkshire', zip: 'LS1 4AB' },
        TIER: 'Gold',
        POINTS: 6200,
      });
    } finally {
      await harness.close();
    }
  });
});
