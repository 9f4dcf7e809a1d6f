import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MigrationError, openStore, StoreInUseError, type Store } from '@tessera/store';
import { createLogger, type Logger } from './logger';
import { resolveMasterKey, resolvePreviousMasterKeys } from './master-key';
import { connectOrStartRedis, type RedisEndpoint } from './private-redis';
import { ConfigurationError, loadSettings, type Settings } from './settings';
import { ensureDemoWorkspace } from './demo-workspace';
import { loadWorkspaceFile, mergeWorkspaces, type WorkspaceDefinition } from './workspace-file';

/** Everything a Tessera process needs before its apps start, checked once. */
export interface TesseraRuntime {
  settings: Settings;
  logger: Logger;
  masterKey: Buffer;
  /** The current master key first, then the previous ones: what a key ring opens with. */
  masterKeys: Buffer[];
  workspace: WorkspaceDefinition;
  redis: RedisEndpoint;
  /** The store of record, migrated: PostgreSQL on DATABASE_URL, or PGlite in the data folder. */
  store: Store;
  /** Where the store lives, for people: `PGlite in …` or `PostgreSQL at …` (no password). */
  storeLocation: string;
  /** Where the demo workspace's credentials were written, on an embedded start. */
  demoCredentialsFile?: string;
}

export interface BootOptions {
  env?: Record<string, string | undefined>;
  logger?: Logger;
}

/**
 * Validates the configuration, prepares the data folder, the master key, the workspace (file + demo), the
 * store of record (migrated) and Redis. Any bad setting throws a ConfigurationError naming it.
 */
export async function bootRuntime(options: BootOptions = {}): Promise<TesseraRuntime> {
  const env = options.env ?? process.env;
  const settings = loadSettings(env);
  const logger = options.logger ?? createLogger(settings.logLevel);
  mkdirSync(settings.dataDir, { recursive: true, mode: 0o700 });
  const master = resolveMasterKey(settings);
  const masterKeys = [master.key, ...resolvePreviousMasterKeys(settings)];
  if (master.generated) logger.info({ file: master.file }, `generated a master key in ${master.file}`);

  const layers: WorkspaceDefinition[] = [];
  let demoCredentialsFile: string | undefined;
  const embedded = settings.databaseUrl === undefined;
  if (embedded && settings.demo) {
    const demo = ensureDemoWorkspace(settings.dataDir, {
      port: settings.port,
      host: settings.host,
      destinationTypes: settings.destinations,
    });
    demoCredentialsFile = demo.file;
    if (demo.created)
      logger.info({ file: demo.file }, `created the demo workspace; its credentials are in ${demo.file}`);
    if (demo.destinationsNote !== undefined) logger.warn(demo.destinationsNote);
    layers.push(demo.workspace);
  }
  if (settings.workspaceFile !== undefined) layers.push(loadWorkspaceFile(settings.workspaceFile));
  const workspace = mergeWorkspaces(...layers);

  const { store, where: storeLocation } = await openConfiguredStore(settings, logger);
  let redis: RedisEndpoint;
  try {
    redis = await connectOrStartRedis(settings, logger);
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return {
    settings,
    logger,
    masterKey: master.key,
    masterKeys,
    workspace,
    redis,
    store,
    storeLocation,
    demoCredentialsFile,
  };
}

/** A connection string fit for a log line or an error message: no password. */
export function redactDatabaseUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

async function openConfiguredStore(
  settings: Settings,
  logger: Logger,
): Promise<{ store: Store; where: string }> {
  const where =
    settings.databaseUrl === undefined
      ? `PGlite in ${join(settings.dataDir, 'pglite')}`
      : `PostgreSQL at ${redactDatabaseUrl(settings.databaseUrl)}`;
  const setting = settings.databaseUrl === undefined ? 'TESSERA_DATA_DIR' : 'DATABASE_URL';
  try {
    const store = await openStore({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir });
    logger.info({ store: where }, `store of record: ${where}`);
    return { store, where };
  } catch (error) {
    if (error instanceof MigrationError) throw new ConfigurationError(setting, error.message);
    if (error instanceof StoreInUseError)
      throw new ConfigurationError(setting, error.message, { cause: error });
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigurationError(
      setting,
      `cannot open the store (${where}): ${code ?? (error as Error).message}`,
    );
  }
}
