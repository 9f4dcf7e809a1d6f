import { Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Registry } from 'prom-client';
import { KeyRing } from '@tessera/crypto';
import { eventCatalog } from '@tessera/events';
import {
  EventIntake,
  IntakeMetrics,
  RedisEventAdmission,
  ReloadingSourceDirectory,
  SourceRateLimiter,
  WebhookSignatureVerifier,
} from '@tessera/intake';
import { METRICS_REGISTRY, REDIS, RUNTIME } from '@tessera/nest-platform';
import { workspaceCatalogOf } from '@tessera/destination-registry';
import { InboundQueue, InboundReceiver } from '@tessera/pipeline';
import {
  JobQueue,
  QUEUE_PAYLOAD_KEY_PURPOSE,
  RedisConnectionGate,
  RedisRateGate,
  RedisTokenCache,
  TOKEN_CACHE_KEY_PURPOSE,
} from '@tessera/queues';
import { destinationHostAllowance, type TesseraRuntime } from '@tessera/runtime';
import { CatalogController } from './catalog.controller';
import { InboundController } from './inbound.controller';
import { IntakeController } from './intake.controller';
import { StoredIngestWorkspace } from './stored-ingest-workspace';

class IntakeLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(RedisEventAdmission) private readonly admission: RedisEventAdmission,
    @Inject(InboundQueue) private readonly inbound: InboundQueue,
    @Inject(ReloadingSourceDirectory) private readonly sources: ReloadingSourceDirectory,
  ) {}

  onModuleInit(): void {
    this.sources.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sources.close();
    await this.admission.resolveQueue.close();
    await this.inbound.close();
  }
}

/** HTTP intake: `POST /v1/sources/{sourceId}/events`, `GET /v1/catalog`, and ESP webhooks at `/v1/inbound/{destinationId}`. */
@Module({
  controllers: [IntakeController, CatalogController, InboundController],
  providers: [
    {
      provide: InboundQueue,
      inject: [RUNTIME, REDIS],
      useFactory: (runtime: TesseraRuntime, redis: Redis) =>
        new InboundQueue(
          new JobQueue('inbound', redis, runtime.settings.redisPrefix),
          new KeyRing(runtime.masterKeys, QUEUE_PAYLOAD_KEY_PURPOSE),
        ),
    },
    {
      provide: StoredIngestWorkspace,
      inject: [RUNTIME, REDIS],
      useFactory: (runtime: TesseraRuntime, redis: Redis) =>
        new StoredIngestWorkspace({
          catalog: workspaceCatalogOf(runtime),
          initial: runtime.workspace,
          selection: runtime.settings.destinations,
          allowedHosts: destinationHostAllowance(runtime.settings),
          defaultRateLimit: runtime.settings.sourceRateLimit,
          // Runners only to verify webhooks and answer handshakes (SFMC's calls back with a shared token).
          tokenCache: new RedisTokenCache(
            redis,
            runtime.settings.redisPrefix,
            new KeyRing(runtime.masterKeys, TOKEN_CACHE_KEY_PURPOSE),
          ),
          rateGate: new RedisRateGate(redis, runtime.settings.redisPrefix),
          connectionGate: new RedisConnectionGate(redis, runtime.settings.redisPrefix),
          logger: runtime.logger,
        }),
    },
    {
      // Sources follow the store: a console change applies within a second, without a restart.
      provide: ReloadingSourceDirectory,
      inject: [RUNTIME, StoredIngestWorkspace],
      useFactory: (runtime: TesseraRuntime, workspace: StoredIngestWorkspace) =>
        new ReloadingSourceDirectory({
          initial: workspace.sourcesOf(runtime.workspace),
          fingerprint: () => workspace.fingerprint(),
          load: () => workspace.loadSources(),
          onReloadFailed: (error) =>
            runtime.logger.warn(
              { error: error.message },
              'could not reload the sources; the intake keeps the ones it has',
            ),
          onReloaded: (change) =>
            runtime.logger.info({ ...change }, `sources reloaded: ${change.sources} sources`),
        }),
    },
    {
      provide: InboundReceiver,
      inject: [InboundQueue, StoredIngestWorkspace],
      useFactory: (queue: InboundQueue, workspace: StoredIngestWorkspace) =>
        new InboundReceiver({
          runnerOf: (id) => workspace.runnerOf(id),
          enqueue: (destinationId, changes, jobId) => queue.add(destinationId, changes, jobId),
        }),
    },
    {
      provide: RedisEventAdmission,
      inject: [RUNTIME, REDIS],
      useFactory: (runtime: TesseraRuntime, redis: Redis) =>
        new RedisEventAdmission({
          redis,
          prefix: runtime.settings.redisPrefix,
          keyRing: new KeyRing([runtime.masterKey], QUEUE_PAYLOAD_KEY_PURPOSE),
          dedupeWindowSeconds: runtime.settings.dedupeWindowSeconds,
          maxQueueDepth: runtime.settings.ingestMaxQueueDepth,
        }),
    },
    {
      provide: EventIntake,
      inject: [RedisEventAdmission, METRICS_REGISTRY, ReloadingSourceDirectory],
      useFactory: (admission: RedisEventAdmission, registry: Registry, sources: ReloadingSourceDirectory) =>
        new EventIntake({
          sources,
          catalog: eventCatalog(),
          verifier: new WebhookSignatureVerifier(),
          rateLimiter: new SourceRateLimiter(),
          admission,
          metrics: new IntakeMetrics(registry, admission.resolveQueue),
        }),
    },
    IntakeLifecycle,
  ],
})
export class IngestModule {}
