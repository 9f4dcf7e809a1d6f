import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DestinationHarness } from '@tessera/destination-kit';
import {
  parseSfmcEmulatorConfig,
  profileRow,
  segmentRow,
  type SfmcEmulatorConfig,
  SfmcEmulator,
  sfmcDestination,
  type SfmcSettings,
} from '@tessera/destination-sfmc';
import { DEMO_SANDBOX_CONFIG, ensureDemoWorkspace } from '@tessera/runtime';

// The sandbox's SFMC knows only the clients and data extensions it is configured with, and SFMC refuses a row
// carrying a column its data extension lacks: the demo's configuration must declare every column the demo
// destination writes, and the client the destination signs in with.

interface DemoRules {
  mappings: Record<string, string>;
  segments: { segment: string }[];
}

describe('the demo’s SFMC data extension', () => {
  let dir: string;
  let settings: Record<string, unknown>;
  let rules: DemoRules;
  let config: SfmcEmulatorConfig;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-demo-sfmc-'));
    const demo = ensureDemoWorkspace(dir, { port: 8080 });
    const declared = demo.workspace.destinations.find((destination) => destination['type'] === 'sfmc');
    settings = (declared?.['settings'] ?? {}) as Record<string, unknown>;
    rules = declared?.['mappings'] as DemoRules;
    config = parseSfmcEmulatorConfig(DEMO_SANDBOX_CONFIG['sfmc']);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('declares the client the demo destination signs in with', () => {
    expect(config.clients).toEqual([
      { clientId: settings['clientId'], clientSecret: settings['clientSecret'] },
    ]);
  });

  it('declares every column the demo’s mapping and segments write', () => {
    const extension = config.dataExtensions.find(
      (candidate) => candidate.key === settings['dataExtensionKey'],
    );
    expect(extension?.primaryKeys).toEqual(['TesseraId']);
    const declared = new Set(extension?.columns.map((column) => column.name.toLowerCase()));
    const mapping = {
      fieldMapping: (settings['fieldMapping'] ?? {}) as Record<string, string>,
      segmentColumns: (settings['segmentColumns'] ?? {}) as Record<string, string>,
    };
    // A member carrying every attribute the rules map, both contact points, and every segment.
    const profile = profileRow(
      {
        customerId: 'NW000001',
        version: 1,
        email: 'olivia.smith.1@example.com',
        phone: '+447700900123',
        attributes: Object.fromEntries(Object.keys(rules.mappings).map((name) => [name, 'x'])),
      },
      mapping,
    );
    const segments = rules.segments.map(({ segment }) =>
      segmentRow({ customerId: 'NW000001', segment }, mapping, true),
    );
    const written = [profile, ...segments].flatMap((entry) =>
      'draft' in entry ? Object.keys(entry.draft.row) : [`problem: ${entry.problem}`],
    );

    expect(written).toEqual(
      expect.arrayContaining([
        'TesseraId',
        'EmailAddress',
        'Phone',
        'LoyaltyTier',
        'PointsToNextTier',
        'VIP',
      ]),
    );
    expect(written.filter((column) => !declared.has(column.toLowerCase()))).toEqual([]);
  });

  it('takes a fully mapped member and its VIP membership whole: nothing omitted, nothing refused', async () => {
    const emulator = new SfmcEmulator({ config: DEMO_SANDBOX_CONFIG['sfmc'] });
    const harness = await DestinationHarness.start<SfmcSettings>({
      definition: sfmcDestination,
      emulator,
      settings,
    });
    try {
      const upserted = await harness.run('upsertProfiles', [
        {
          customerId: 'NW000001',
          version: 1,
          email: 'olivia.smith.1@example.com',
          phone: '+447700900123',
          attributes: {
            first_name: 'Olivia',
            last_name: 'Smith',
            loyalty_tier: 'Gold',
            points_balance: 6200,
            points_to_next_tier: 8800,
          },
        },
      ]);
      const joined = await harness.run('addToSegment', [{ customerId: 'NW000001', segment: 'VIP' }]);

      expect([...upserted, ...joined]).toEqual([{ status: 'ok' }, { status: 'ok' }]);
      expect(harness.requests().filter((request) => request.status >= 400)).toEqual([]);
      expect(emulator.state().dataExtensions['TesseraProfiles']).toEqual([
        {
          TesseraId: 'NW000001',
          EmailAddress: 'olivia.smith.1@example.com',
          Phone: '+447700900123',
          FirstName: 'Olivia',
          LastName: 'Smith',
          LoyaltyTier: 'Gold',
          PointsBalance: 6200,
          PointsToNextTier: 8800,
          VIP: true,
        },
      ]);
    } finally {
      await harness.close();
    }
  });
});
