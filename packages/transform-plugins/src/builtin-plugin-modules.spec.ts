import { PluginCatalog } from '@tessera/transform';
import { BUILTIN_PLUGIN_MODULES } from './index';

describe('BUILTIN_PLUGIN_MODULES', () => {
  it('names, for every built-in plugin, the module and export a worker thread loads it from', () => {
    for (const entry of BUILTIN_PLUGIN_MODULES) {
      const loaded = (require(entry.module) as Record<string, unknown>)[entry.exportName];
      expect([entry.plugin.name, loaded]).toEqual([entry.plugin.name, entry.plugin]);
    }
  });

  it('forms a catalog that resolves a destination plugin list with defaults and refuses unknown names', () => {
    const catalog = new PluginCatalog(BUILTIN_PLUGIN_MODULES);
    expect(catalog.names()).toEqual([
      'consent-propagation',
      'merge-cleanup',
      'points-winback',
      'profile-sync',
      'tier-change',
    ]);
    const [tier] = catalog.resolve('sd-klaviyo', [
      { name: 'tier-change', config: { vipTiers: ['Platinum'] } },
    ]);
    expect(tier?.config).toEqual({ vipTiers: ['Platinum'], vipSegment: 'vip' });
    expect(() => catalog.resolve('sd-klaviyo', [{ name: 'tier-chnage' }])).toThrow(
      'Destination "sd-klaviyo": unknown plugin "tier-chnage"; known: consent-propagation, merge-cleanup, points-winback, profile-sync, tier-change',
    );
  });
});
