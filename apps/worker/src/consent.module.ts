import { Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import {
  ConsentGate,
  ConsentLedger,
  loadAnalyticsKeys,
  parseRetentionSetting,
  PseudonymousKeys,
  type RetentionPolicy,
  StoreConsentStateReader,
  SuppressionList,
} from '@tessera/consent';
import { REDIS, RUNTIME, STORE } from '@tessera/nest-platform';
import type { TesseraRuntime } from '@tessera/runtime';
import type { Store } from '@tessera/store';

/** The retention policy (TESSERA_RETENTION), validated at start-up. */
export const RETENTION_POLICY = Symbol('RETENTION_POLICY');
/** The pseudonymous analytics keys (TESSERA_ANALYTICS_KEYS), or undefined when unset. */
export const ANALYTICS_KEYS = Symbol('ANALYTICS_KEYS');

class ConsentGateLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(@Inject(ConsentGate) private readonly gate: ConsentGate) {}

  onModuleInit(): Promise<void> {
    return this.gate.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.gate.close();
  }
}

/**
 * Consent: the ledger and the suppression list (whose writes invalidate every process's gate through Redis),
 * the gate itself, and the privacy settings, checked when the process starts.
 */
@Module({
  providers: [
    {
      provide: ConsentGate,
      inject: [RUNTIME, REDIS, STORE],
      useFactory: (runtime: TesseraRuntime, redis: Redis, store: Store) =>
        new ConsentGate({
          reader: new StoreConsentStateReader(store),
          redis,
          prefix: runtime.settings.redisPrefix,
        }),
    },
    {
      provide: ConsentLedger,
      inject: [STORE, ConsentGate],
      useFactory: (store: Store, gate: ConsentGate) =>
        new ConsentLedger(store, { onChange: (keys, brand) => gate.invalidate(keys, brand) }),
    },
    {
      provide: SuppressionList,
      inject: [STORE, ConsentGate],
      useFactory: (store: Store, gate: ConsentGate) =>
        new SuppressionList(store, { onChange: (keys, brand) => gate.invalidate(keys, brand) }),
    },
    {
      provide: RETENTION_POLICY,
      useFactory: (): RetentionPolicy => parseRetentionSetting(process.env['TESSERA_RETENTION']),
    },
    {
      provide: ANALYTICS_KEYS,
      useFactory: (): PseudonymousKeys | undefined => loadAnalyticsKeys(process.env),
    },
    ConsentGateLifecycle,
  ],
  exports: [ConsentGate, ConsentLedger, SuppressionList, RETENTION_POLICY, ANALYTICS_KEYS],
})
export class ConsentModule {}
