/** Injection tokens the platform module provides to every app module. */
export const RUNTIME = Symbol('TesseraRuntime');
export const REDIS = Symbol('Redis');
export const METRICS_REGISTRY = Symbol('MetricsRegistry');
/** The store of record (`Store` from @tessera/store), opened and migrated at boot. */
export const STORE = Symbol('STORE');
