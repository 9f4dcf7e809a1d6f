export { bootRuntime, redactDatabaseUrl, type BootOptions, type TesseraRuntime } from './boot-runtime';
export { ConfigurationError, loadSettings, LOG_LEVELS, type LogLevel, type Settings } from './settings';
export {
  loadWorkspaceFile,
  mergeWorkspaces,
  parseWorkspace,
  type BrandDefinition,
  type SourceDefinition,
  type WorkspaceDefinition,
} from './workspace-file';
export {
  DEMO_CREDENTIALS_FILE,
  ensureDemoWorkspace,
  newWebhookSecret,
  type DemoCredentials,
} from './demo-workspace';
export { decodeMasterKey, MASTER_KEY_FILE, resolveMasterKey, resolvePreviousMasterKeys } from './master-key';
export {
  connectOrStartRedis,
  redisAnswers,
  RedisUnavailableError,
  type RedisEndpoint,
} from './private-redis';
export { createLogger, redactContactPoints, type Logger } from './logger';
