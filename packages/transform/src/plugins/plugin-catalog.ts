import { definePlugin, TransformPlugin, validatePluginConfig } from './plugin-definition';
import { PluginConfigError, PluginDefinitionError } from './plugin-errors';

/** A workspace's reference to a plugin, in a destination's plugin list. */
export interface PluginReference {
  name: string;
  config?: Record<string, unknown>;
}

/** A plugin of the build, and where a worker thread loads it from: `require(module)[exportName]`. */
export interface PluginModule {
  /** Any plugin, whatever its config type (`TransformPlugin<MyConfig>` is assignable). */
  plugin: TransformPlugin<object>;
  /** Module specifier a worker thread can require: a package name or an absolute path (`.ts` works). */
  module: string;
  exportName: string;
}

/** A plugin resolved for one destination: its module, and its validated config (defaults applied). */
export interface ConfiguredPlugin extends PluginModule {
  name: string;
  config: Record<string, unknown>;
}

/** The plugins of the build, by name: resolves each destination's plugin list at start-up. */
export class PluginCatalog {
  private readonly byName = new Map<string, PluginModule>();

  constructor(modules: PluginModule[]) {
    for (const entry of modules) {
      definePlugin(entry.plugin);
      const name = entry.plugin.name;
      if (typeof entry.module !== 'string' || entry.module === '') {
        throw new PluginDefinitionError(name, 'module', 'must be a non-empty module specifier');
      }
      if (typeof entry.exportName !== 'string' || entry.exportName === '') {
        throw new PluginDefinitionError(name, 'exportName', 'must be a non-empty export name');
      }
      if (this.byName.has(name)) {
        throw new PluginDefinitionError(name, 'name', 'is declared by more than one plugin module');
      }
      this.byName.set(name, entry);
    }
  }

  /** Names of the known plugins, sorted. */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  get(name: string): PluginModule | undefined {
    return this.byName.get(name);
  }

  /**
   * The destination's plugins in list order, configs validated. Throws a PluginConfigError naming the
   * destination on the first unknown plugin or invalid config: the app stops with that message.
   */
  resolve(destinationId: string, refs: PluginReference[]): ConfiguredPlugin[] {
    return refs.map((ref) => {
      const entry = this.byName.get(ref.name);
      if (!entry) {
        const known = this.names();
        throw new PluginConfigError(
          `Destination "${destinationId}": unknown plugin "${ref.name}"; known: ${known.length > 0 ? known.join(', ') : '(none)'}`,
          ref.name,
          [],
          destinationId,
        );
      }
      let config: Record<string, unknown>;
      try {
        config = validatePluginConfig(entry.plugin, ref.config) as Record<string, unknown>;
      } catch (error) {
        if (error instanceof PluginConfigError) throw error.forDestination(destinationId);
        throw error;
      }
      return { ...entry, name: entry.plugin.name, config };
    });
  }
}
