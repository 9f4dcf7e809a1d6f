import { Module } from '@nestjs/common';
import { pluginCatalog, resolveWorkspacePlugins } from '@tessera/destination-registry';
import { RUNTIME } from '@tessera/nest-platform';
import type { TesseraRuntime } from '@tessera/runtime';
import { type ConfiguredPlugin, PluginCatalog } from '@tessera/transform';

/** Each workspace destination's plugins, resolved and validated (by destination id). */
export const DESTINATION_PLUGINS = Symbol('DESTINATION_PLUGINS');
export type DestinationPlugins = Map<string, ConfiguredPlugin[]>;

/**
 * Transformation: the build's plugin catalog and every destination's plugin list, validated when the process
 * starts (an unknown plugin or a bad config stops start-up naming it). The deliver stage runs them in the
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
  ],
  exports: [PluginCatalog, DESTINATION_PLUGINS],
})
export class TransformModule {}
