import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHttpApp } from '@tessera/nest-platform';
import { createTestRuntime, testWorkspace, type TestRuntime } from '@tessera/testing';
import {
  DESTINATION_PLUGINS,
  DESTINATION_RULES,
  type DestinationPlugins,
  type DestinationRules,
  TransformModule,
} from '../src/transform.module';

// The module in a real app (real runtime and Redis); a refused plugin list is covered end to end in
// test/e2e/startup.e2e.spec.ts (the process stops naming it).
describe('TransformModule', () => {
  let t: TestRuntime;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    t = await createTestRuntime(
      testWorkspace({
        destinations: [
          {
            id: 'sd-klaviyo',
            brand: 'sd',
            type: 'klaviyo',
            plugins: [{ name: 'profile-sync' }, { name: 'tier-change', config: { vipSegment: 'vip-club' } }],
            mappings: { segments: [{ segment: 'VIP', when: 'profile.?loyalty_tier.orValue("") == "Gold"' }] },
          },
        ],
      }),
    );
    app = await createHttpApp(t.runtime, [TransformModule]);
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    await t.cleanup();
  });

  it('resolves every workspace destination plugin list at start-up, defaults applied', () => {
    const plugins = app.get<DestinationPlugins>(DESTINATION_PLUGINS);
    expect(plugins.get('sd-klaviyo')?.map((plugin) => [plugin.name, plugin.config['vipSegment']])).toEqual([
      ['profile-sync', undefined],
      ['tier-change', 'vip-club'],
    ]);
  });

  it('compiles every workspace destination rule set at start-up', () => {
    const rules = app.get<DestinationRules>(DESTINATION_RULES);
    expect([...rules.keys()]).toEqual(['sd-klaviyo']);
  });
});
