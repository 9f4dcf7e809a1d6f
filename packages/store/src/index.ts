export type { SqlExecutor, Store, StoreDriver } from './store';
export { PostgresStore } from './postgres-store';
export { PgliteStore } from './pglite-store';
export { openStore, type StoreLocation } from './open-store';
export { migrate, readMigrations, MigrationError, MIGRATIONS_DIR, type Migration } from './schema-migrations';
export { insertRows, type InsertRowsOptions } from './insert-rows';
export { PiiVault, type EncryptedValue } from './pii-vault';
export { openScratchStore, STORE_DRIVERS, TEST_POSTGRES_URL } from './scratch-store';
