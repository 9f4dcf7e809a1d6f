import { join } from 'node:path';
import { Inject, Module, type OnApplicationShutdown, type OnModuleInit, type Provider } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Registry } from 'prom-client';
import {
  AuditLog,
  ConsentGate,
  ConsentLedger,
  type RetentionPolicy,
  SuppressionList,
} from '@tessera/consent';
import {
  deploymentDestinations,
  type ResolvedDestination,
  resolveEachDestination,
  workspaceCatalogOf,
} from '@tessera/destination-registry';
import { IdentityGraph } from '@tessera/identity-graph';
import { METRICS_REGISTRY, REDIS, RUNTIME, STORE } from '@tessera/nest-platform';
import {
  type PipelineDestination,
  PipelineMetrics,
  PipelineWorker,
  type PipelineWorkspace,
} from '@tessera/pipeline';
import { destinationHostAllowance, type TesseraRuntime } from '@tessera/runtime';
import { PiiVault, type Store } from '@tessera/store';
import { PluginCatalog } from '@tessera/transform';
import { ConsentModule, RETENTION_POLICY } from './consent.module';
import { OnDemandPluginPool } from './on-demand-plugin-pool';
import {
  DESTINATION_PLUGINS,
  DESTINATION_RULES,
  type DestinationPlugins,
  type DestinationRules,
  TransformModule,
} from './transform.module';

/** The workspace's destinations this deployment runs, validated, with their rules and plugins. */
export const PIPELINE_DESTINATIONS = Symbol('PIPELINE_DESTINATIONS');
/** The plugin pool: started at start-up when a destination uses a plugin, else when a reload brings one. */
export const PLUGIN_POOL = Symbol('PLUGIN_POOL');

class PipelineLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(PipelineWorker) private readonly worker: PipelineWorker,
    @Inject(PLUGIN_POOL) private readonly pool: OnDemandPluginPool,
  ) {}

  onModuleInit(): Promise<void> {
    return this.worker.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.worker.close();
    await this.pool.close();
  }
}

/** A destination as the pipeline runs it, from the registry's resolution. */
export function pipelineDestinationOf(destination: ResolvedDestination): PipelineDestination {
  return {
    id: destination.id,
    brand: destination.brand,
    type: destination.type,
    definition: destination.package.definition,
    settings: destination.settings,
    initialState: destination.initialState,
    ...(destination.rules === undefined ? {} : { rules: destination.rules }),
    plugins: destination.plugins,
  };
}

/**
 * The stored workspace as the worker reloads it: resolved one destination at a time as start-up resolves
 * them (settings, rules, plugins), the types this deployment does not run left out.
 */
function storedPipelineWorkspace(runtime: TesseraRuntime, plugins: PluginCatalog) {
  const catalog = workspaceCatalogOf(runtime);
  return {
    fingerprint: () => catalog.fingerprint(),
    load: async (): Promise<PipelineWorkspace> => {
      const workspace = await catalog.load();
      const { resolved, unresolved } = resolveEachDestination(
        workspace,
        runtime.settings.destinations,
        plugins,
        destinationHostAllowance(runtime.settings),
      );
      return {
        brands: workspace.brands,
        destinations: resolved.map(pipelineDestinationOf),
        unresolved,
      };
    },
  };
}

/** How the pipeline is built: shared by the module that runs it and the one that only reads and replays. */
const PIPELINE_PROVIDERS: Provider[] = [
  {
    provide: PIPELINE_DESTINATIONS,
    inject: [RUNTIME, DESTINATION_RULES, DESTINATION_PLUGINS],
    useFactory: (
      runtime: TesseraRuntime,
      rules: DestinationRules,
      plugins: DestinationPlugins,
    ): PipelineDestination[] =>
      deploymentDestinations(
        runtime.workspace,
        runtime.settings.destinations,
        destinationHostAllowance(runtime.settings),
      ).map((destination) => {
        const compiled = rules.get(destination.id);
        return pipelineDestinationOf({
          ...destination,
          ...(compiled === undefined ? {} : { rules: compiled }),
          plugins: plugins.get(destination.id) ?? [],
        });
      }),
  },
  {
    provide: PLUGIN_POOL,
    inject: [PIPELINE_DESTINATIONS],
    useFactory: async (destinations: PipelineDestination[]): Promise<OnDemandPluginPool> => {
      const pool = new OnDemandPluginPool();
      if (destinations.some((destination) => destination.plugins.length > 0)) await pool.ready();
      return pool;
    },
  },
  {
    provide: PipelineWorker,
    inject: [
      RUNTIME,
      REDIS,
      STORE,
      METRICS_REGISTRY,
      ConsentGate,
      ConsentLedger,
      SuppressionList,
      PIPELINE_DESTINATIONS,
      PLUGIN_POOL,
      RETENTION_POLICY,
      PluginCatalog,
    ],
    useFactory: (
      runtime: TesseraRuntime,
      redis: Redis,
      store: Store,
      registry: Registry,
      gate: ConsentGate,
      ledger: ConsentLedger,
      suppressions: SuppressionList,
      destinations: PipelineDestination[],
      pool: OnDemandPluginPool,
      retention: RetentionPolicy,
      plugins: PluginCatalog,
    ): PipelineWorker => {
      const vault = new PiiVault(runtime.masterKeys);
      const brands = runtime.workspace.brands;
      // The metrics read the worker on each scrape; it is built right after them.
      const built: { worker?: PipelineWorker } = {};
      const metrics = new PipelineMetrics(registry, {
        deadLetters: () => built.worker?.deadLetters.countByDestination() ?? Promise.resolve(new Map()),
        queueDepths: async () => (await built.worker?.queueDepths()) ?? [],
      });
      const worker = new PipelineWorker({
        redis,
        redisUrl: runtime.redis.url,
        prefix: runtime.settings.redisPrefix,
        masterKeys: runtime.masterKeys,
        store,
        vault,
        graph: new IdentityGraph({
          store,
          vault,
          brands: brands.map((brand) => ({ id: brand.id, defaultCountry: brand.defaultCountry })),
        }),
        ledger,
        suppressions,
        gate,
        audit: new AuditLog(store),
        brands,
        destinations,
        allowedDestinationHosts: destinationHostAllowance(runtime.settings),
        pool,
        // Console changes (sources aside: the intake's) apply without a restart, within the state refresh.
        workspace: storedPipelineWorkspace(runtime, plugins),
        metrics,
        inboundPollMs: runtime.settings.inboundPollSeconds * 1000,
        concurrency: { deliver: runtime.settings.deliverConcurrency },
        exportDir: join(runtime.settings.dataDir, 'exports'),
        retention,
        logger: {
          info: (detail, message) => runtime.logger.info(detail, message),
          warn: (detail, message) => runtime.logger.warn(detail, message),
          error: (detail, message) => runtime.logger.error(detail, message),
        },
      });
      built.worker = worker;
      return worker;
    },
  },
];

/**
 * The pipeline's worker side: the resolve, route and deliver stages on their queues, wired from the runtime,
 * the consent and transformation modules and the destination registry. Start-up fails on a destination this
 * deployment does not run, a bad setting, a job without a handler, or an evicting Redis.
 */
@Module({
  imports: [ConsentModule, TransformModule],
  providers: [...PIPELINE_PROVIDERS, PipelineLifecycle],
  exports: [PipelineWorker],
})
export class PipelineModule {}

class PipelineAccessLifecycle implements OnModuleInit, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(PipelineWorker) private readonly worker: PipelineWorker,
    @Inject(PLUGIN_POOL) private readonly pool: OnDemandPluginPool,
  ) {}

  /** Follows the stored workspace and the states as the workers do, so replay reaches new destinations too. */
  async onModuleInit(): Promise<void> {
    await this.worker.directory.start();
    this.timer = setInterval(() => void this.worker.refreshStates(), 1_000);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.worker.close();
    await this.pool.close();
  }
}

/**
 * The pipeline built but not run, for the console alone: its stores, states, dead letters, DSR and replay
 * (which queues jobs for the workers), without any stage worker; it follows the stored workspace every second.
 */
@Module({
  imports: [ConsentModule, TransformModule],
  providers: [...PIPELINE_PROVIDERS, PipelineAccessLifecycle],
  exports: [PipelineWorker],
})
export class PipelineAccessModule {}
