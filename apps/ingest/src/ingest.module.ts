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
import { QUEUE_PAYLOAD_KEY_PURPOSE } from '@tessera/queues';
import type { TesseraRuntime } from '@tessera/runtime';
import { CatalogController } from './catalog.controller';
import { IntakeController } from './intake.controller';

class IntakeShutdown implements OnApplicationShutdown {
  constructor(@Inject(RedisEventAdmission) private readonly admission: RedisEventAdmission) {}

  async onApplicationShutdown(): Promise<void> {
    await this.admission.resolveQueue.close();
  }
}

/** HTTP intake: `POST /v1/sources/{sourceId}/events` and `GET /v1/catalog`. */
@Module({
  controllers: [IntakeController, CatalogController],
  providers: [
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
