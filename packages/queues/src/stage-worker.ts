import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import { JOB_QUEUES, type JobDataMap, type JobName, type QueueName } from './job-contracts';

/** What a stage does with each job name it runs; a handler only unseals and calls its service. */
export type JobHandlers<S extends QueueName> = {
  [J in JobName as (typeof JOB_QUEUES)[J] extends S ? J : never]: (
    data: JobDataMap[J],
    job: { id: string; queueName: string; attemptsMade: number },
  ) => Promise<unknown>;
};

export class MissingJobHandlerError extends Error {}
export class RedisPolicyError extends Error {}

export interface StageWorkerOptions<S extends QueueName> {
  stage: S;
  /** The BullMQ queue (the stage's own, or one destination's deliver queue). */
  queueName?: string;
  handlers: JobHandlers<S>;
  /** A connection of its own: BullMQ workers block on it (`maxRetriesPerRequest: null`). */
  connection: Redis;
  prefix: string;
  concurrency?: number;
  /** A stalled job (its worker died) is taken up again after this long; twice at most, then it fails. */
  stalledIntervalMs?: number;
}

/**
 * A BullMQ worker for one stage. Start-up fails when a job name that runs on the stage has no handler;
 * `close()` drains: jobs in progress finish, no new one starts.
 */
export function startStageWorker<S extends QueueName>(options: StageWorkerOptions<S>): Worker {
  const handlers = options.handlers as Record<string, JobHandlers<S>[keyof JobHandlers<S>] | undefined>;
  const expected = (Object.keys(JOB_QUEUES) as JobName[]).filter(
    (name) => JOB_QUEUES[name] === options.stage,
  );
  const missing = expected.filter((name) => typeof handlers[name] !== 'function');
  if (missing.length > 0) {
    throw new MissingJobHandlerError(
      `Stage "${options.stage}" has no handler for job ${missing.map((name) => `"${name}"`).join(', ')}`,
    );
  }
  return new Worker(
    options.queueName ?? options.stage,
    async (job: Job) => {
      const handler = handlers[job.name] as
        | ((data: unknown, meta: { id: string; queueName: string; attemptsMade: number }) => Promise<unknown>)
        | undefined;
      // A job name this stage does not know can never succeed: fail it at once instead of retrying.
      if (handler === undefined)
        throw new UnrecoverableError(`No handler for job "${job.name}" on ${job.queueName}`);
      return handler(job.data, {
        id: job.id ?? '',
        queueName: job.queueName,
        attemptsMade: job.attemptsMade,
      });
    },
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? 1,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      maxStalledCount: 2,
      autorun: true,
    },
  );
}

/**
 * BullMQ needs Redis to keep every key: an evicting policy silently drops jobs. Read through INFO (allowed
 * where CONFIG is not, e.g. managed Redis).
 */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const info = await redis.info('memory');
  const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
  if (policy !== undefined && policy !== 'noeviction') {
    throw new RedisPolicyError(
      `Redis maxmemory-policy is "${policy}": queues need "noeviction" (set it with CONFIG SET maxmemory-policy noeviction or in redis.conf)`,
    );
  }
}
