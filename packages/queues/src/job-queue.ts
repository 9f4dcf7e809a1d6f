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

const CLOSE_TIMEOUT_MS = 2000;

/**
 * A BullMQ queue that only takes the job names that run on it, with their typed data. The BullMQ queue is
 * opened on first use: one opened on a connection that never comes up cannot be closed cleanly.
 */
export class JobQueue<N extends QueueName> {
  private opened?: Queue;

  /** The BullMQ queue's name: the stage's, or one destination's deliver queue (`deliverQueueName`). */
  readonly queueName: string;

  constructor(
    readonly name: N,
    private readonly connection: Redis,
    private readonly prefix: string,
    queueName?: string,
  ) {
    this.queueName = queueName ?? name;
  }

  get queue(): Queue {
    this.opened ??= new Queue(this.queueName, {
      connection: this.connection,
      prefix: this.prefix,
      defaultJobOptions: DEFAULT_JOB_OPTIONS,
    });
    return this.opened;
  }

  /** Adds one job; `jobId` must be derived from the content so a retried add is not a second job. */
  async add<J extends JobName>(
    jobName: J & ((typeof JOB_QUEUES)[J] extends N ? J : never),
    data: JobDataMap[J],
    jobId: string,
    options: { delayMs?: number; removeOnComplete?: boolean } = {},
  ): Promise<void> {
    await this.queue.add(jobName, data, {
      jobId,
      // A job whose id recurs (a window's flush) must not be kept once done: its id would block the next one.
      ...(options.removeOnComplete === true ? { removeOnComplete: true } : {}),
      ...(options.delayMs === undefined || options.delayMs <= 0
        ? {}
        : { delay: Math.round(options.delayMs) }),
    });
  }

  async waitingCount(): Promise<number> {
    return this.queue.getWaitingCount();
  }

  /** Closes the BullMQ queue (not the shared connection), giving up after 2 s if Redis is gone. */
  async close(): Promise<void> {
    if (this.opened === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.opened.close(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
    ]).finally(() => clearTimeout(timer));
  }
}
