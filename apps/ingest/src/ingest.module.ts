import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Registry } from 'prom-client';
import { KeyRing } from '@tessera/crypto';
import { eventCatalog } from '@tessera/events';
import {
  EventIntake,
  InMemorySourceDirectory,
  IntakeMetrics,
  RedisEventAdmission,
  SourceRateLimiter,
  WebhookSignatureVerifier,
} from '@tessera/intake';
import { METRICS_REGISTRY, REDIS, RUNTIME } from '@tessera/nest-platform';
import { DestinationRunner } from '@tessera/destination-kit';
import { deploymentDestinations } from '@tessera/destination-registry';
import { InboundQueue, InboundReceiver } from '@tessera/pipeline';
import {
  JobQueue,
  QUEUE_PAYLOAD_KEY_PURPOSE,
  RedisTokenCache,
  TOKEN_CACHE_KEY_PURPOSE,
} from '@tessera/queues';
import type { TesseraRuntime } from '@tessera/runtime';
import { CatalogController } from './catalog.controller';
import { InboundController } from './inbound.controller';
import { IntakeController } from './intake.controller';

class IntakeShutdown implements OnApplicationShutdown {
  constructor(
    @Inject(RedisEventAdmission) private readonly admission: RedisEventAdmission,
    @Inject(InboundQueue) private readonly inbound: InboundQueue,
  ) {}

  async onApplicationShutdown(): Promise<void> {
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
      provide: InboundReceiver,
      inject: [RUNTIME, REDIS, InboundQueue],
      useFactory: (runtime: TesseraRuntime, redis: Redis, queue: InboundQueue) => {
        // Runners only to verify webhooks and answer handshakes (SFMC's calls back with a shared token).
        const tokenCache = new RedisTokenCache(
          redis,
          runtime.settings.redisPrefix,
          new KeyRing(runtime.masterKeys, TOKEN_CACHE_KEY_PURPOSE),
        );
        const runners = new Map(
          deploymentDestinations(runtime.workspace, runtime.settings.destinations).map((destination) => [
            destination.id,
            new DestinationRunner(destination.package.definition, {
              settings: destination.settings,
              tokenCache,
              instanceKey: destination.id,
            }),
          ]),
        );
        return new InboundReceiver({
          runnerOf: (id) => runners.get(id),
          enqueue: (destinationId, changes, jobId) => queue.add(destinationId, changes, jobId),
        });
      },
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
      inject: [RUNTIME, RedisEventAdmission, METRICS_REGISTRY],
      useFactory: (runtime: TesseraRuntime, admission: RedisEventAdmission, registry: Registry) =>
        new EventIntake({
          sources: new InMemorySourceDirectory(
            runtime.workspace.sources.map((source) => ({
              id: source.id,
              brand: source.brand,
              secrets: source.secrets,
              typeMap: source.typeMap ?? {},
              rateLimit: source.rateLimit ?? runtime.settings.sourceRateLimit,
            })),
          ),
          catalog: eventCatalog(),
          verifier: new WebhookSignatureVerifier(),
          rateLimiter: new SourceRateLimiter(),
          admission,
          metrics: new IntakeMetrics(registry, admission.resolveQueue),
        }),
    },
    IntakeShutdown,
  ],
})
export class IngestModule {}
