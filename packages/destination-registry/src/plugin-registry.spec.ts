import { ConfigurationError } from '@tessera/runtime';
import { PLUGIN_MODULES, resolveWorkspacePlugins } from './plugin-registry';

describe('plugin registry', () => {
  it('registers the built-in plugins', () => {
    expect(PLUGIN_MODULES.map((entry) => entry.plugin.name)).toEqual([
      'profile-sync',
      'tier-change',
      'points-winback',
      'merge-cleanup',
      'consent-propagation',
    ]);
  });

  it('resolves each destination plugin list with config defaults', () => {
    const resolved = resolveWorkspacePlugins([
      {
        id: 'sd-klaviyo',
        plugins: [{ name: 'profile-sync' }, { name: 'tier-change', config: { vipSegment: 'vip-club' } }],
      },
      { id: 'sd-braze' },
    ]);
    expect(resolved.get('sd-klaviyo')?.map((plugin) => [plugin.name, plugin.config['vipSegment']])).toEqual([
      ['profile-sync', undefined],
      ['tier-change', 'vip-club'],
    ]);
    expect(resolved.get('sd-braze')).toEqual([]);
  });

  it('stops start-up naming the workspace file, the destination and the plugin', () => {
    const unknown = () => resolveWorkspacePlugins([{ id: 'sd-klaviyo', plugins: [{ name: 'tier-chnage' }] }]);
    expect(unknown).toThrow(ConfigurationError);
    expect(unknown).toThrow(
      'TESSERA_WORKSPACE_FILE: Destination "sd-klaviyo": unknown plugin "tier-chnage"; known: consent-propagation, merge-cleanup, points-winback, profile-sync, tier-change',
    );
    const badConfig = () =>
      resolveWorkspacePlugins([
        { id: 'sd-klaviyo', plugins: [{ name: 'points-winback', config: { stagnantDays: 0 } }] },
      ]);
    expect(badConfig).toThrow(/^TESSERA_WORKSPACE_FILE: .*sd-klaviyo.*points-winback.*stagnantDays/);
    expect(() => resolveWorkspacePlugins([{ id: 'sd-klaviyo', plugins: 'profile-sync' }])).toThrow(
      'TESSERA_WORKSPACE_FILE: Destination "sd-klaviyo": plugins must be a list of {"name": …, "config": {…}}',
    );
  });
});
