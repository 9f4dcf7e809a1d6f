export { bootRuntime, redactDatabaseUrl, type BootOptions, type TesseraRuntime } from './boot-runtime';
export { ConfigurationError, loadSettings, LOG_LEVELS, type LogLevel, type Settings } from './settings';
export { destinationHostAllowance } from './destination-host-allowance';
export {
  BRAND_SCHEMA,
  SOURCE_SCHEMA,
  loadWorkspaceFile,
  mergeWorkspaces,
  parseWorkspace,
  type BrandDefinition,
  type SourceDefinition,
  type WorkspaceDefinition,
} from './workspace-file';
export {
  DEMO_CREDENTIALS_FILE,
  DEMO_GROUP_BRAND,
  DEMO_GROUP_SOURCE_ID,
  DEMO_SANDBOX_CONFIG,
  DEMO_SPORTS_BRAND,
  DEMO_SPORTS_SOURCE_ID,
  ensureDemoWorkspace,
  newWebhookSecret,
  type DemoCredentials,
  type DemoSourceCredentials,
  type DemoWorkspace,
  type DemoWorkspaceOptions,
} from './demo-workspace';
export { decodeMasterKey, MASTER_KEY_FILE, resolveMasterKey, resolvePreviousMasterKeys } from './master-key';
export {
  connectOrStartRedis,
  redisAnswers,
  RedisUnavailableError,
  type RedisEndpoint,
} from './private-redis';
export { createLogger, redactContactPoints, type Logger } from './logger';
export {
  between,
  DEMO_EVENT_SOURCES,
  DEMO_MEMBER_COUNT,
  DEMO_MEMBER_SEED,
  DEMO_TIERS,
  demoMembers,
  demoSeedEvents,
  pick,
  seededRandom,
  tierFor,
  type DemoConsent,
  type DemoEvent,
  type DemoMember,
  type DemoTier,
} from './demo-members';
export { DemoEventStream, type DemoEventStreamOptions } from './demo-event-stream';
