export {
  deliverQueueName,
  JOB_QUEUES,
  QUEUE_PAYLOAD_KEY_PURPOSE,
  type DeliveryItem,
  type EventKey,
  type IngestedEvent,
  type MergeLineage,
  type ResolvedEvent,
  type JobDataMap,
  type JobName,
  type QueueName,
} from './job-contracts';
export { DEFAULT_JOB_OPTIONS, JobQueue } from './job-queue';
export { RedisTokenCache, TOKEN_CACHE_KEY_PURPOSE } from './redis-token-cache';
export {
  DEFAULT_CONNECTION_LEASE_MS,
  RedisConnectionGate,
  type RedisConnectionGateOptions,
} from './redis-connection-gate';
export { RedisRateGate, type RedisRateGateOptions } from './redis-rate-gate';
export {
  assertNoEviction,
  MissingJobHandlerError,
  RedisPolicyError,
  startStageWorker,
  type BatchJobHandlers,
  type BatchStageWorkerOptions,
  type JobHandlers,
  type StageWorkerOptions,
} from './stage-worker';
export { DEFAULT_MAX_BATCH_EVENTS, type StageJob, type StageJobInfo } from './stage-batch-processor';
