import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { TesseraRuntime } from '@tessera/runtime';
import { OperationsController } from './operations.controller';
import { METRICS_REGISTRY, REDIS, RUNTIME, STORE } from './platform-tokens';

class PlatformShutdown implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(RUNTIME) private readonly runtime: TesseraRuntime,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
    await this.runtime.redis.stop?.();
    await this.runtime.store.close().catch(() => undefined);
  }
}

/**
 * What every Tessera process shares: the runtime, one Redis connection, the store of record, the metrics
 * registry, health.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(runtime: TesseraRuntime): DynamicModule {
    const providers = [
      { provide: RUNTIME, useValue: runtime },
      { provide: STORE, useValue: runtime.store },
      {
        provide: REDIS,
        // Producers fail fast when Redis is away (the intake answers 503) instead of queueing commands.
        // Connected before the app serves, so the first request does not find it still connecting.
        useFactory: async () => {
          const redis = new Redis(runtime.redis.url, {
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
            connectionName: 'tessera',
            lazyConnect: true,
          });
          redis.on('error', (error) => runtime.logger.warn({ err: error.message }, 'redis connection error'));
          await redis
            .connect()
            .catch((error: Error) => runtime.logger.error({ err: error.message }, 'redis is not reachable'));
          return redis;
        },
      },
      {
        provide: METRICS_REGISTRY,
        useFactory: () => {
          const registry = new Registry();
          collectDefaultMetrics({ register: registry, prefix: 'tessera_process_' });
          return registry;
        },
      },
      PlatformShutdown,
    ];
    return {
      module: PlatformModule,
      controllers: [OperationsController],
      providers,
      exports: [RUNTIME, REDIS, METRICS_REGISTRY, STORE],
    };
  }
}
