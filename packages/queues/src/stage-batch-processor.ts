import { UnrecoverableError, type Job, type Worker } from 'bullmq';

/** What a handler knows of a job it runs. */
export interface StageJobInfo {
  id: string;
  queueName: string;
  attemptsMade: number;
}

/** One job of a batch: its data and who it is. */
export interface StageJob<D = unknown> {
  data: D;
  job: StageJobInfo;
}

/** Handles the jobs of one name taken together; answers one result per job, in their order. */
export type BatchHandler = (jobs: StageJob[]) => Promise<unknown[]>;

/** The events one batch holds at most, unless a single job carries more. */
export const DEFAULT_MAX_BATCH_EVENTS = 1_000;

/** How many events a job carries: its data's `count` (the event-carrying jobs have one), else 1. */
export function eventsOf(job: Pick<Job, 'data'>): number {
  const count = (job.data as { count?: unknown } | null | undefined)?.count;
  return typeof count === 'number' && Number.isFinite(count) && count >= 1 ? count : 1;
}

export interface BatchProcessorOptions {
  /** The worker the processor runs in (known once it is constructed, before its first job). */
  worker: () => Worker;
  handlers: Readonly<Record<string, BatchHandler | undefined>>;
  maxEvents: number;
  /** The worker's lock duration: the extra jobs' locks are renewed at half of it. */
  lockDurationMs: number;
}

interface TakenJob {
  job: Job;
  token: string;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: Error };

export const infoOf = (job: Job): StageJobInfo => ({
  id: job.id ?? '',
  queueName: job.queueName,
  attemptsMade: job.attemptsMade,
});

/**
 * A BullMQ processor that runs the job BullMQ hands it together with the jobs waiting behind it. It never
 * waits for company: it takes, without blocking, what is already waiting (up to `maxEvents` events in all),
 * runs each job name's handler once over its jobs, then completes or fails every taken job with its own
 * result. BullMQ settles the first job when the processor returns; the others are settled here with their
 * lock tokens ("manually processing jobs", https://docs.bullmq.io/patterns/manually-fetching-jobs), and
 * their locks are renewed while the batch runs, as BullMQ renews the first one's.
 */
export function batchProcessor(
  options: BatchProcessorOptions,
): (first: Job, token?: string) => Promise<unknown> {
  return async (first, token = '') => {
    const worker = options.worker();
    const taken: TakenJob[] = [{ job: first, token }];
    const locks = new BatchLocks(worker, options.lockDurationMs);
    let outcomes: Map<TakenJob, Outcome>;
    try {
      await takeWaiting(worker, taken, options.maxEvents, locks);
      outcomes = await runHandlers(taken, options.handlers);
      await Promise.all(
        taken.slice(1).map((extra) => settle(worker, extra, outcomes.get(extra) as Outcome, locks)),
      );
    } finally {
      locks.stop();
    }
    const own = outcomes.get(taken[0] as TakenJob) as Outcome;
    if (own.ok) return own.value;
    throw own.error;
  };
}

/** Adds the jobs already waiting, in queue order, until the batch holds `maxEvents` events. */
async function takeWaiting(
  worker: Worker,
  taken: TakenJob[],
  maxEvents: number,
  locks: BatchLocks,
): Promise<void> {
  let events = eventsOf((taken[0] as TakenJob).job);
  while (events < maxEvents) {
    const token = `${(taken[0] as TakenJob).token}:${taken.length}`;
    let next: Job | undefined;
    try {
      // Non-blocking: an empty queue answers at once. A closing or paused worker takes nothing more.
      next = (await worker.getNextJob(token, { block: false })) as Job | undefined;
    } catch (error) {
      worker.emit('error', error as Error);
      return;
    }
    if (next === undefined) return;
    if (events + eventsOf(next) > maxEvents) {
      // Too big for what is left: it goes back to the head of the queue, for the next batch. If that fails,
      // its lock lapses and the stalled check puts it back all the same.
      await next.moveToWait(token).catch((error: Error) => worker.emit('error', error));
      return;
    }
    taken.push({ job: next, token });
    locks.hold(next, token);
    events += eventsOf(next);
  }
}

/** One call per job name, over its jobs in queue order; a failure (or a wrong answer) fails that call's jobs. */
async function runHandlers(
  taken: TakenJob[],
  handlers: Readonly<Record<string, BatchHandler | undefined>>,
): Promise<Map<TakenJob, Outcome>> {
  const byName = new Map<string, TakenJob[]>();
  for (const entry of taken) {
    const group = byName.get(entry.job.name) ?? [];
    group.push(entry);
    byName.set(entry.job.name, group);
  }
  const outcomes = new Map<TakenJob, Outcome>();
  for (const [name, group] of byName) {
    const handler = handlers[name];
    try {
      // A job name this stage does not know can never succeed: fail it at once instead of retrying.
      if (handler === undefined)
        throw new UnrecoverableError(`No handler for job "${name}" on ${group[0]?.job.queueName ?? ''}`);
      const results = await handler(
        group.map(({ job }) => ({ data: job.data as unknown, job: infoOf(job) })),
      );
      if (!Array.isArray(results) || results.length !== group.length)
        throw new Error(
          `The batch handler of "${name}" answered ${Array.isArray(results) ? results.length : 'no'} results for ${group.length} jobs`,
        );
      group.forEach((entry, index) => outcomes.set(entry, { ok: true, value: results[index] }));
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const entry of group) outcomes.set(entry, { ok: false, error: failure });
    }
  }
  return outcomes;
}

/**
 * Completes or fails (BullMQ then retries it with its backoff, or fails it for good) one job taken into the
 * batch, and tells the worker's listeners as BullMQ does for the jobs it settles.
 */
async function settle(worker: Worker, taken: TakenJob, outcome: Outcome, locks: BatchLocks): Promise<void> {
  locks.release(taken.job);
  try {
    if (outcome.ok) {
      await taken.job.moveToCompleted(outcome.value, taken.token, false);
      worker.emit('completed', taken.job, outcome.value, 'active');
    } else {
      await taken.job.moveToFailed(outcome.error, taken.token, false);
      worker.emit('failed', taken.job, outcome.error, 'active');
    }
  } catch (error) {
    // Its lock was lost (the batch outran it): the stalled check gave it to another run, which redoes only
    // what the stage's own records say is left.
    worker.emit('error', error as Error);
  }
}

/** Keeps the locks of the jobs taken into a batch, renewing them at half the lock duration. */
class BatchLocks {
  private readonly tokens = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly worker: Worker,
    private readonly durationMs: number,
  ) {
    this.timer = setInterval(() => void this.renew(), Math.max(1, Math.floor(durationMs / 2)));
    this.timer.unref();
  }

  hold(job: Job, token: string): void {
    if (job.id !== undefined) this.tokens.set(job.id, token);
  }

  release(job: Job): void {
    if (job.id !== undefined) this.tokens.delete(job.id);
  }

  stop(): void {
    clearInterval(this.timer);
    this.tokens.clear();
  }

  private async renew(): Promise<void> {
    if (this.tokens.size === 0) return;
    const ids = [...this.tokens.keys()];
    try {
      const lost = await this.worker.extendJobLocks(
        ids,
        ids.map((id) => this.tokens.get(id) ?? ''),
        this.durationMs,
      );
      for (const id of lost) {
        this.tokens.delete(id);
        this.worker.emit('error', new Error(`could not renew the lock of job ${id}, taken into a batch`));
      }
    } catch (error) {
      // A worker closed without waiting for its jobs: they are abandoned, as a dead worker's are.
      if (this.worker.closing !== undefined) return this.stop();
      this.worker.emit('error', error as Error);
    }
  }
}
