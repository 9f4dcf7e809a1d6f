import { Queue, type JobsOptions } from 'bullmq';
import type Redis from 'ioredis';
import { JOB_QUEUES, type JobDataMap, type JobName, type QueueName } from './job-contracts';

/**
 * Job options chosen once for every stage: finished jobs are trimmed (BullMQ keeps them forever
 * otherwise), and failures retry with exponential backoff from 10 s.
 */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 12,
  backoff: { type: 'exponential', delay: 10_000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** A BullMQ queue that only takes the job names that run on it, with their typed data. */
export class JobQueue<N extends QueueName> {
  readonly queue: Queue;

  constructor(
    readonly name: N,
    connection: Redis,
    prefix: string,
  ) {
    this.queue = new Queue(name, { connection, prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
  }

  /** Adds one job; `jobId` must be derived from the content so a retried add is not a second job. */
  async add<J extends JobName>(
    jobName: J & ((typeof JOB_QUEUES)[J] extends N ? J : never),
    data: JobDataMap[J],
    jobId: string,
  ): Promise<void> {
    await this.queue.add(jobName, data, { jobId });
  }

  async waitingCount(): Promise<number> {
    return this.queue.getWaitingCount();
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
