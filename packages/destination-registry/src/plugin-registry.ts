import { ConfigurationError } from '@tessera/runtime';
import {
  type ConfiguredPlugin,
  PluginCatalog,
  PluginConfigError,
  type PluginModule,
} from '@tessera/transform';
import { BUILTIN_PLUGIN_MODULES } from '@tessera/transform-plugins';

/** Every transformation plugin of this build. Adding one: its package, and one line here. */
export const PLUGIN_MODULES: readonly PluginModule[] = [...BUILTIN_PLUGIN_MODULES];

/** The plugin catalog of this build. */
export function pluginCatalog(modules: readonly PluginModule[] = PLUGIN_MODULES): PluginCatalog {
  return new PluginCatalog([...modules]);
}

/**
 * Resolves every workspace destination's `plugins` list (names known, configs valid, defaults applied), by
 * destination id. Anything wrong stops start-up with a message naming the workspace file, the destination
 * and the plugin.
 */
export function resolveWorkspacePlugins(
  destinations: readonly Record<string, unknown>[],
  catalog: PluginCatalog = pluginCatalog(),
): Map<string, ConfiguredPlugin[]> {
  const resolved = new Map<string, ConfiguredPlugin[]>();
  destinations.forEach((destination, index) => {
    const id = typeof destination['id'] === 'string' ? destination['id'] : `destinations[${index}]`;
    const plugins = destination['plugins'] ?? [];
    const valid =
      Array.isArray(plugins) &&
      plugins.every(
        (ref: unknown) =>
          typeof ref === 'object' &&
          ref !== null &&
          typeof (ref as { name?: unknown }).name === 'string' &&
          ((ref as { config?: unknown }).config === undefined ||
            (typeof (ref as { config?: unknown }).config === 'object' &&
              (ref as { config?: unknown }).config !== null)),
      );
    if (!valid) {
      throw new ConfigurationError(
        'TESSERA_WORKSPACE_FILE',
        `Destination "${id}": plugins must be a list of {"name": …, "config": {…}}`,
      );
    }
    try {
      resolved.set(id, catalog.resolve(id, plugins as { name: string; config?: Record<string, unknown> }[]));
    } catch (error) {
      if (error instanceof PluginConfigError)
        throw new ConfigurationError('TESSERA_WORKSPACE_FILE', error.message);
      throw error;
    }
  });
  return resolved;
}
