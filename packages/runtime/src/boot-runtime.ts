import { mkdirSync } from 'node:fs';
import { createLogger, type Logger } from './logger';
import { resolveMasterKey } from './master-key';
import { connectOrStartRedis, type RedisEndpoint } from './private-redis';
import { loadSettings, type Settings } from './settings';
import { ensureDemoWorkspace } from './demo-workspace';
import { loadWorkspaceFile, mergeWorkspaces, type WorkspaceDefinition } from './workspace-file';

/** Everything a Tessera process needs before its apps start, checked once. */
export interface TesseraRuntime {
  settings: Settings;
  logger: Logger;
  masterKey: Buffer;
  workspace: WorkspaceDefinition;
  redis: RedisEndpoint;
  /** Where the demo workspace's credentials were written, on an embedded start. */
  demoCredentialsFile?: string;
}

export interface BootOptions {
  env?: Record<string, string | undefined>;
  logger?: Logger;
}

/**
 * Validates the configuration, prepares the data folder, the master key, the workspace (file + demo)
 * and Redis. Any bad setting throws a ConfigurationError naming it.
 */
export async function bootRuntime(options: BootOptions = {}): Promise<TesseraRuntime> {
  const env = options.env ?? process.env;
  const settings = loadSettings(env);
  const logger = options.logger ?? createLogger(settings.logLevel);
  mkdirSync(settings.dataDir, { recursive: true, mode: 0o700 });
  const master = resolveMasterKey(settings);
  if (master.generated) logger.info({ file: master.file }, `generated a master key in ${master.file}`);

  const layers: WorkspaceDefinition[] = [];
  let demoCredentialsFile: string | undefined;
  const embedded = settings.databaseUrl === undefined;
  if (embedded && (env.TESSERA_DEMO ?? 'on') !== 'off') {
    const demo = ensureDemoWorkspace(settings.dataDir);
    demoCredentialsFile = demo.file;
    if (demo.created)
      logger.info({ file: demo.file }, `created the demo workspace; its credentials are in ${demo.file}`);
    layers.push(demo.workspace);
  }
  if (settings.workspaceFile !== undefined) layers.push(loadWorkspaceFile(settings.workspaceFile));
  const workspace = mergeWorkspaces(...layers);

  const redis = await connectOrStartRedis(settings, logger);
  return { settings, logger, masterKey: master.key, workspace, redis, demoCredentialsFile };
}
