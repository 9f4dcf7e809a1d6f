import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DestinationHarness, type OperationItems, type OperationName } from '@tessera/destination-kit';
import {
  DEMO_GROUP_BRAND,
  DEMO_SANDBOX_CONFIG,
  DEMO_SPORTS_BRAND,
  demoMembers,
  destinationHostAllowance,
  ensureDemoWorkspace,
  loadSettings,
  type DemoWorkspace,
} from '@tessera/runtime';
import { previewTransform, type UnifiedProfile } from '@tessera/transform';
import { DESTINATION_PACKAGES } from './destination-registry';
import { resolveWorkspacePlugins } from './plugin-registry';
import { resolveWorkspaceDestinations } from './workspace-destinations';
import { compileWorkspaceRules } from './workspace-rules';

// The demo workspace is declared in @tessera/runtime, which may not import destination packages: this is
// where its destinations are held to what each package accepts, and run against each ESP's emulator.

// A demo member with a phone number: every ESP must take the demo's contact points as they are.
const member = demoMembers().find((candidate) => candidate.phone !== undefined);
const GOLD_MEMBER: UnifiedProfile = {
  customer_id: 'cus_demo_1',
  version: 3,
  email: member?.email ?? 'olivia.smith.1@example.com',
  ...(member?.phone === undefined ? {} : { phone: member.phone }),
  first_name: member?.firstName ?? 'Olivia',
  last_name: member?.lastName ?? 'Smith',
  address: { line1: '2 Station Road', city: member?.city ?? 'Leeds', postcode: 'LS1 4AB', country: 'GB' },
  locale: 'en-GB',
  preferred_channel: 'email',
  loyalty_tier: 'Gold',
  points_balance: 6200,
  marketing_consent: { email: 'granted' },
};

const tierChanged = {
  specversion: '1.0' as const,
  id: 'evt-demo-1',
  source: 'https://loyalty.northwind.example/demo',
  type: 'tier.changed' as const,
  time: '2026-11-24T12:00:00Z',
  data: { customer_id: 'NW000001', tier: 'Gold', previous_tier: 'Silver' },
};

describe('the demo workspace against the destination packages', () => {
  let dir: string;
  let demo: DemoWorkspace;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-demo-registry-'));
    demo = ensureDemoWorkspace(dir, { port: 8080 });
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('uses all four ESPs, two per brand, with settings each package accepts', () => {
    const destinations = resolveWorkspaceDestinations(demo.workspace.destinations, {
      brands: demo.workspace.brands.map((brand) => brand.id),
      packages: DESTINATION_PACKAGES,
      allTypes: DESTINATION_PACKAGES.map((entry) => entry.definition.type),
      // The embedded start on port 8080 allows its own sandbox, where the demo's destinations send.
      allowedHosts: destinationHostAllowance(loadSettings({ PORT: '8080' }, dir)),
    });
    expect(destinations.map((destination) => destination.type).sort()).toEqual([
      'braze',
      'klaviyo',
      'mailchimp',
      'sfmc',
    ]);
    const brandsOf = (brand: string) =>
      destinations
        .filter((destination) => destination.brand === brand)
        .map((destination) => destination.type);
    expect(brandsOf(DEMO_GROUP_BRAND.id)).toEqual(['klaviyo', 'sfmc']);
    expect(brandsOf(DEMO_SPORTS_BRAND.id)).toEqual(['braze', 'mailchimp']);
    for (const destination of destinations) {
      expect(destination.initialState).toBe('enabled');
      expect(destination.settings['baseUrl']).toBe(`http://127.0.0.1:8080/sandbox/${destination.type}`);
    }
  });

  it('has rules that compile and plugins the catalog knows', () => {
    const rules = compileWorkspaceRules(demo.workspace.destinations);
    expect([...rules.keys()]).toHaveLength(4);
    const plugins = resolveWorkspacePlugins(demo.workspace.destinations);
    expect(
      Object.fromEntries([...plugins].map(([id, list]) => [id, list.map((plugin) => plugin.name)])),
    ).toEqual({
      'northwind-klaviyo': ['profile-sync'],
      'northwind-sfmc': [],
      'summit-sports-braze': ['profile-sync'],
      'summit-sports-mailchimp': ['profile-sync'],
    });
  });

  it('syncs nothing by rule for a member who withdrew consent', async () => {
    for (const declared of demo.workspace.destinations) {
      const [result] = await previewTransform({
        rules: declared['mappings'] as never,
        samples: [
          { event: tierChanged, profile: { ...GOLD_MEMBER, marketing_consent: { email: 'withdrawn' } } },
        ],
      });
      expect(result?.operations).toEqual([]);
      expect(result?.errors).toEqual([]);
    }
  });

  describe.each(DESTINATION_PACKAGES.map((entry) => [entry.definition.type, entry] as const))(
    '%s',
    (type, entry) => {
      let harness: DestinationHarness;

      afterEach(async () => {
        await harness.close();
      });

      it('delivers what its rules and plugins make of a Gold member to the ESP’s emulator', async () => {
        const declared = demo.workspace.destinations.find((destination) => destination['type'] === type);
        if (declared === undefined) throw new Error(`the demo has no ${type} destination`);
        const plugins = resolveWorkspacePlugins([declared]).get(String(declared['id'])) ?? [];
        const brand = demo.workspace.brands.find((candidate) => candidate.id === declared['brand']);
        const [preview] = await previewTransform({
          rules: declared['mappings'] as never,
          plugins: plugins.map(({ plugin, config }) => ({ plugin, config })),
          samples: [
            {
              event: tierChanged,
              profile: GOLD_MEMBER,
              ...(brand === undefined ? {} : { brand }),
              destination: { id: String(declared['id']), type },
            },
          ],
        });
        expect(preview?.errors).toEqual([]);
        const operations = preview?.operations ?? [];
        expect(operations[0]).toMatchObject({
          operation: 'upsertProfiles',
          item: { attributes: { loyalty_tier: 'Gold', points_balance: 6200, points_to_next_tier: 8800 } },
        });
        // Klaviyo's segments are lists the account must hold already; the others take the VIP segment.
        expect(operations.some((operation) => operation.operation === 'addToSegment')).toBe(
          type !== 'klaviyo',
        );

        // The emulator as the demo's sandbox sets it up (the audiences, data extensions… the demo declares).
        const emulator = entry.createEmulator();
        const config = DEMO_SANDBOX_CONFIG[type];
        if (config !== undefined) emulator.configure?.(config);
        harness = await DestinationHarness.start({
          definition: entry.definition,
          emulator,
          settings: declared['settings'] as Record<string, unknown>,
        });
        // Upserts first: a segment membership needs the profile at the ESP.
        for (const name of ['upsertProfiles', 'addToSegment'] as const satisfies readonly OperationName[]) {
          const items = operations
            .filter((operation) => operation.operation === name)
            .map((operation) => operation.item as OperationItems[typeof name]);
          if (items.length === 0) continue;
          const results = await harness.run(name, items as never);
          expect(results).toEqual(items.map(() => expect.objectContaining({ status: 'ok' })));
          // Nothing the demo maps is refused by the ESP as the demo sets it up.
          expect(results.filter((result) => 'omittedFields' in result)).toEqual([]);
        }
        const requests = harness.requests();
        expect(requests.length).toBeGreaterThan(0);
        expect(requests.filter((request) => request.status >= 400)).toEqual([]);
        expect(JSON.stringify(harness.emulator.state())).toContain('6200');
      });
    },
  );
});
