import { PluginCatalog, PluginModule } from './plugin-catalog';
import { definePlugin, TransformPlugin } from './plugin-definition';
import { PluginConfigError, PluginDefinitionError } from './plugin-errors';

const plugin = (name: string, configSchema: object = { type: 'object' }): TransformPlugin =>
  definePlugin({ name, version: '1.0.0', description: name, configSchema, transform: () => [] });

const tierChange = plugin('tier-change', {
  type: 'object',
  properties: { minPoints: { type: 'integer', minimum: 0, default: 100 }, segment: { type: 'string' } },
  required: ['segment'],
});
const modules: PluginModule[] = [
  { plugin: tierChange, module: '@tessera/transform-plugins', exportName: 'tierChangePlugin' },
  { plugin: plugin('profile-sync'), module: '@tessera/transform-plugins', exportName: 'profileSyncPlugin' },
];

function configError(run: () => unknown): PluginConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PluginConfigError);
    return error as PluginConfigError;
  }
  throw new Error('did not throw');
}

describe('PluginCatalog', () => {
  const catalog = new PluginCatalog(modules);

  it('resolves references in order with validated configs', () => {
    const resolved = catalog.resolve('sd-klaviyo', [
      { name: 'profile-sync' },
      { name: 'tier-change', config: { segment: 'gold' } },
    ]);
    expect(resolved).toEqual([
      { ...modules[1], name: 'profile-sync', config: {} },
      { ...modules[0], name: 'tier-change', config: { segment: 'gold', minPoints: 100 } },
    ]);
  });

  it('names the destination, the unknown plugin and the known ones', () => {
    const error = configError(() =>
      catalog.resolve('sd-klaviyo', [{ name: 'profile-sync' }, { name: 'tier-chnage' }]),
    );
    expect(error.message).toBe(
      'Destination "sd-klaviyo": unknown plugin "tier-chnage"; known: profile-sync, tier-change',
    );
    expect(error.destination).toBe('sd-klaviyo');
    expect(error.plugin).toBe('tier-chnage');
  });

  it('names the destination, the plugin, the pointer and the problem of a bad config', () => {
    const error = configError(() =>
      catalog.resolve('sd-klaviyo', [{ name: 'tier-change', config: { segment: 'gold', minPoints: -5 } }]),
    );
    expect(error.message).toBe(
      'Destination "sd-klaviyo": plugin "tier-change": invalid config: /minPoints must be >= 0',
    );
    expect(error.issues).toEqual([{ pointer: '/minPoints', message: 'must be >= 0' }]);
    expect(configError(() => catalog.resolve('mx-braze', [{ name: 'tier-change' }])).message).toBe(
      'Destination "mx-braze": plugin "tier-change": invalid config: /segment must have required property \'segment\'',
    );
  });

  it('says so when no plugin is known', () => {
    expect(configError(() => new PluginCatalog([]).resolve('sd-klaviyo', [{ name: 'x' }])).message).toBe(
      'Destination "sd-klaviyo": unknown plugin "x"; known: (none)',
    );
  });

  it('rejects duplicate names and undefined modules at construction', () => {
    expect(() => new PluginCatalog([modules[0], { ...modules[0], exportName: 'other' }])).toThrow(
      new PluginDefinitionError('tier-change', 'name', 'is declared by more than one plugin module'),
    );
    expect(() => new PluginCatalog([{ ...modules[0], module: '' }])).toThrow(
      'Plugin "tier-change": module must be a non-empty module specifier',
    );
    expect(() => new PluginCatalog([{ ...modules[0], plugin: { ...tierChange, version: 'x' } }])).toThrow(
      'Plugin "tier-change": version must be semver (got "x")',
    );
  });
});
