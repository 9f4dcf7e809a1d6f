import { UnrecoverableError, Worker, type Job, type Processor } from 'bullmq';
import type Redis from 'ioredis';
import { JOB_QUEUES, type JobDataMap, type JobName, type QueueName } from './job-contracts';
import {
  batchProcessor,
  DEFAULT_MAX_BATCH_EVENTS,
  infoOf,
  type BatchHandler,
  type StageJob,
  type StageJobInfo,
} from './stage-batch-processor';

/** The job names that run on a stage's queue. */
type StageJobName<S extends QueueName> = {
  [J in JobName]: (typeof JOB_QUEUES)[J] extends S ? J : never;
}[JobName];

/** What a stage does with each job name it runs; a handler only unseals and calls its service. */
export type JobHandlers<S extends QueueName> = {
  [J in StageJobName<S>]: (data: JobDataMap[J], job: StageJobInfo) => Promise<unknown>;
};

/**
 * What a batching stage does with the jobs it took together: one call per job name, with every taken job of
 * that name in queue order; it answers one result per job, in the same order (each job keeps its own).
 */
export type BatchJobHandlers<S extends QueueName> = {
  [J in StageJobName<S>]: (jobs: StageJob<JobDataMap[J]>[]) => Promise<unknown[]>;
};

export class MissingJobHandlerError extends Error {}
export class RedisPolicyError extends Error {}

interface StageWorkerBaseOptions<S extends QueueName> {
  stage: S;
  /** The BullMQ queue (the stage's own, or one destination's deliver queue). */
  queueName?: string;
  /** A connection of its own: BullMQ workers block on it (`maxRetriesPerRequest: null`). */
  connection: Redis;
  prefix: string;
  /** Jobs (or batches, for a batching stage) run at once. */
  concurrency?: number;
  /** A stalled job (its worker died) is taken up again after this long; twice at most, then it fails. */
  stalledIntervalMs?: number;
  /**
   * How long a running job's lock lasts (default 30 s), renewed at half of it: a dead worker's jobs count as
   * stalled once their locks lapsed.
   */
  lockDurationMs?: number;
}

export interface StageWorkerOptions<S extends QueueName> extends StageWorkerBaseOptions<S> {
  handlers: JobHandlers<S>;
}

/** A stage that takes waiting jobs in bulk and runs them as one batch. */
export interface BatchStageWorkerOptions<S extends QueueName> extends StageWorkerBaseOptions<S> {
  batchHandlers: BatchJobHandlers<S>;
  /**
   * The most events one batch holds, each job counting its data's `count` (or 1); default 1,000. A job larger
   * than that on its own still runs, alone.
   */
  maxBatchEvents?: number;
}

/**
 * A BullMQ worker for one stage. Start-up fails when a job name that runs on the stage has no handler;
 * `close()` drains: jobs in progress finish, no new one starts.
 *
 * With `batchHandlers`, each job BullMQ hands the worker takes the jobs already waiting behind it (up to
 * `maxBatchEvents` events) and the handler runs once over all of them; a lone job runs at once, alone. A
 * failed batch fails (BullMQ retries) every job in it; a dead worker's taken jobs are stalled jobs, taken up
 * again like any other. See stage-batch-processor.ts.
 */
export function startStageWorker<S extends QueueName>(options: StageWorkerOptions<S>): Worker;
export function startStageWorker<S extends QueueName>(options: BatchStageWorkerOptions<S>): Worker;
export function startStageWorker<S extends QueueName>(
  options: StageWorkerOptions<S> | BatchStageWorkerOptions<S>,
): Worker {
  const batching = 'batchHandlers' in options;
  const handlers = (batching ? options.batchHandlers : options.handlers) as Record<
    string,
    ((...args: never[]) => Promise<unknown>) | undefined
  >;
  const expected = (Object.keys(JOB_QUEUES) as JobName[]).filter(
    (name) => JOB_QUEUES[name] === options.stage,
  );
  const missing = expected.filter((name) => typeof handlers[name] !== 'function');
  if (missing.length > 0) {
    throw new MissingJobHandlerError(
      `Stage "${options.stage}" has no handler for job ${missing.map((name) => `"${name}"`).join(', ')}`,
    );
  }
  const lockDurationMs = options.lockDurationMs ?? 30_000;
  const processor: Processor = batching
    ? batchProcessor({
        // Called from the worker's first job on, once the constructor below has returned.
        worker: () => worker,
        handlers: handlers as Record<string, BatchHandler | undefined>,
        maxEvents: options.maxBatchEvents ?? DEFAULT_MAX_BATCH_EVENTS,
        lockDurationMs,
      })
    : async (job: Job) => {
        const handler = handlers[job.name] as
          ((data: unknown, meta: StageJobInfo) => Promise<unknown>) | undefined;
        // A job name this stage does not know can never succeed: fail it at once instead of retrying.
        if (handler === undefined)
          throw new UnrecoverableError(`No handler for job "${job.name}" on ${job.queueName}`);
        return handler(job.data, infoOf(job));
      };
  const worker: Worker = new Worker(options.queueName ?? options.stage, processor, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency ?? 1,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    lockDuration: lockDurationMs,
    maxStalledCount: 2,
    autorun: true,
  });
  return worker;
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
