import { Module } from '@nestjs/common';
import { compileWorkspaceRules, pluginCatalog, resolveWorkspacePlugins } from '@tessera/destination-registry';
import { RUNTIME } from '@tessera/nest-platform';
import type { TesseraRuntime } from '@tessera/runtime';
import { type CompiledRules, type ConfiguredPlugin, PluginCatalog } from '@tessera/transform';

/** Each workspace destination's plugins, resolved and validated (by destination id). */
export const DESTINATION_PLUGINS = Symbol('DESTINATION_PLUGINS');
export type DestinationPlugins = Map<string, ConfiguredPlugin[]>;

/** Each workspace destination's rule set (its `mappings`), compiled (by destination id). */
export const DESTINATION_RULES = Symbol('DESTINATION_RULES');
export type DestinationRules = Map<string, CompiledRules>;

/**
 * Transformation: the build's plugin catalog, every destination's plugin list and rule set, validated when
 * the process starts (an unknown plugin, a bad config or a rule that does not compile stops start-up naming it). The deliver stage runs them in the
 * plugin pool.
 */
@Module({
  providers: [
    { provide: PluginCatalog, useFactory: () => pluginCatalog() },
    {
      provide: DESTINATION_PLUGINS,
      inject: [RUNTIME, PluginCatalog],
      useFactory: (runtime: TesseraRuntime, catalog: PluginCatalog): DestinationPlugins =>
        resolveWorkspacePlugins(runtime.workspace.destinations, catalog),
    },
    {
      provide: DESTINATION_RULES,
      inject: [RUNTIME],
      useFactory: (runtime: TesseraRuntime): DestinationRules =>
        compileWorkspaceRules(runtime.workspace.destinations),
    },
  ],
  exports: [PluginCatalog, DESTINATION_PLUGINS, DESTINATION_RULES],
})
export class TransformModule {}
