export {
  JOB_QUEUES,
  QUEUE_PAYLOAD_KEY_PURPOSE,
  type IngestedEvent,
  type JobDataMap,
  type JobName,
  type QueueName,
} from './job-contracts';
export { DEFAULT_JOB_OPTIONS, JobQueue } from './job-queue';
export { RedisTokenCache, TOKEN_CACHE_KEY_PURPOSE } from './redis-token-cache';
