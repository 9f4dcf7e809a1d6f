import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import { Queue, type Job, type JobsOptions, type Worker } from 'bullmq';
import Redis from 'ioredis';
import { MissingJobHandlerError, startStageWorker, type BatchJobHandlers } from './stage-worker';

// (Not @tessera/testing: it depends on this package.)
const TEST_REDIS_URL = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const REPO_ROOT = resolvePath(__dirname, '../../..');

/** Waits on real time, polling with setImmediate: usable while jest fakes the timers. */
async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  ms = 15_000,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A resolve job as the intake adds it; its events are named `${jobId}#${n}` (the handler never opens them). */
const resolveJob = (id: string, count = 1, opts: JobsOptions = {}) => ({
  name: 'resolve.events',
  data: { count, events: { sealed: id } },
  opts: { jobId: id, ...opts },
});

/** The events of the jobs a batch handler received, by the naming above. */
const eventsOf = (jobs: { data: { count: number }; job: { id: string } }[]) =>
  jobs.flatMap(({ data, job }) => Array.from({ length: data.count }, (_, n) => `${job.id}#${n}`));

describe('startStageWorker with batch handlers', () => {
  let redis: Redis;
  let prefix: string;
  let queue: Queue;
  const connections: Redis[] = [];
  const workers: Worker[] = [];

  const connection = () => {
    const opened = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    connections.push(opened);
    return opened;
  };
  const start = (
    batchHandlers: BatchJobHandlers<'resolve'>,
    options: {
      maxBatchEvents?: number;
      concurrency?: number;
      stalledIntervalMs?: number;
      lockDurationMs?: number;
    } = {},
  ) => {
    const worker = startStageWorker({
      stage: 'resolve',
      connection: connection(),
      prefix,
      batchHandlers,
      ...options,
    });
    workers.push(worker);
    return worker;
  };
  const stateOf = async (id: string) => (await queue.getJob(id))?.getState();

  beforeEach(() => {
    redis = new Redis(TEST_REDIS_URL);
    prefix = `{tessera-test-${randomBytes(6).toString('hex')}}`;
    queue = new Queue('resolve', { connection: redis, prefix });
  });
  afterEach(async () => {
    jest.useRealTimers();
    await Promise.all(workers.splice(0).map((worker) => worker.close(true)));
    await queue.close();
    for (const opened of connections.splice(0)) opened.disconnect();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('refuses to start without a batch handler for each of the stage’s job names', () => {
    const lazy = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: true });
    expect(() =>
      startStageWorker({
        stage: 'resolve',
        connection: lazy,
        prefix,
        batchHandlers: {} as BatchJobHandlers<'resolve'>,
      }),
    ).toThrow(new MissingJobHandlerError('Stage "resolve" has no handler for job "resolve.events"'));
    lazy.disconnect();
  });

  it('takes 300 waiting single-event jobs in a few batches, each event once, each job with its own result', async () => {
    const ids = Array.from({ length: 300 }, (_, n) => `events-${String(n).padStart(3, '0')}`);
    await queue.addBulk(ids.map((id) => resolveJob(id)));
    const calls: string[][] = [];
    start(
      {
        'resolve.events': async (jobs) => {
          calls.push(eventsOf(jobs));
          return jobs.map(({ job }) => ({ mine: job.id, batch: jobs.length }));
        },
      },
      { concurrency: 2 },
    );
    await waitFor(async () => (await queue.getCompletedCount()) === 300, 'every job completed');

    expect(calls.length).toBeLessThanOrEqual(10);
    const processed = calls.flat();
    expect(processed).toHaveLength(300);
    expect(new Set(processed)).toEqual(new Set(ids.map((id) => `${id}#0`)));
    const someJob = (await queue.getJob('events-123')) as Job;
    expect(someJob.returnvalue).toEqual({ mine: 'events-123', batch: expect.any(Number) });
    expect((someJob.returnvalue as { batch: number }).batch).toBeGreaterThan(1);
    expect(someJob.attemptsMade).toBe(1);
  });

  it('keeps each batch within maxBatchEvents, in queue order, putting back the job that does not fit', async () => {
    // 30 jobs of 7 events: at most 14 jobs (98 events) a batch when the limit is 100.
    const ids = Array.from({ length: 30 }, (_, n) => `seven-${String(n).padStart(2, '0')}`);
    await queue.addBulk(ids.map((id) => resolveJob(id, 7)));
    const batches: string[][] = [];
    start(
      {
        'resolve.events': async (jobs) => {
          batches.push(jobs.map(({ job }) => job.id));
          return jobs.map(() => 'ok');
        },
      },
      { maxBatchEvents: 100 },
    );
    await waitFor(async () => (await queue.getCompletedCount()) === 30, 'every job completed');

    expect(batches.map((batch) => batch.length)).toEqual([14, 14, 2]);
    expect(batches.flat()).toEqual(ids);
  });

  it('runs a lone job at once, without waiting for company: no timer has to fire', async () => {
    const seen: string[][] = [];
    const worker = start({
      'resolve.events': async (jobs) => {
        seen.push(jobs.map(({ job }) => job.id));
        return jobs.map(() => 'ok');
      },
    });
    await worker.waitUntilReady();
    // From here no timer fires: a worker that waited for more jobs to arrive would never call the handler.
    jest.useFakeTimers({
      doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'Date', 'performance', 'hrtime'],
    });
    await queue.add('resolve.events', { count: 1, events: { sealed: 'lone' } }, { jobId: 'lone' });
    await waitFor(() => seen.length === 1, 'the lone job');
    jest.useRealTimers();

    expect(seen).toEqual([['lone']]);
    await waitFor(async () => (await stateOf('lone')) === 'completed', 'the lone job completed');
  });

  it('fails every job of a failed batch, and BullMQ retries each of them', async () => {
    const ids = Array.from({ length: 20 }, (_, n) => `retry-${String(n).padStart(2, '0')}`);
    await queue.addBulk(ids.map((id) => resolveJob(id, 1, { attempts: 3 })));
    const batches: string[][] = [];
    const failed: string[] = [];
    const worker = start({
      'resolve.events': async (jobs) => {
        batches.push(jobs.map(({ job }) => job.id));
        if (batches.length === 1) throw new Error('the identity graph is down');
        return jobs.map(({ job }) => ({ attempt: job.attemptsMade + 1 }));
      },
    });
    worker.on('failed', (job) => failed.push(job?.id ?? ''));
    await waitFor(async () => (await queue.getCompletedCount()) === 20, 'every job completed');

    expect(batches[0]).toEqual(ids);
    expect(failed.sort()).toEqual(ids);
    expect(batches.slice(1).flat().sort()).toEqual(ids);
    for (const id of ids) {
      const job = (await queue.getJob(id)) as Job;
      expect(job.returnvalue).toEqual({ attempt: 2 });
      expect(job.failedReason).toBe('the identity graph is down');
    }
  });

  it('fails the batch when the handler does not answer one result per job', async () => {
    await queue.addBulk(['short-1', 'short-2', 'short-3'].map((id) => resolveJob(id)));
    const worker = start({ 'resolve.events': async () => ['only one'] });
    const reasons = new Map<string, string>();
    worker.on('failed', (job, error) => reasons.set(job?.id ?? '', error.message));
    await waitFor(() => reasons.size === 3, 'three failures');

    expect([...reasons.values()]).toEqual(
      Array(3).fill('The batch handler of "resolve.events" answered 1 results for 3 jobs'),
    );
  });

  it('fails, without retrying, a job whose name the stage does not know, and runs the rest', async () => {
    await queue.addBulk([
      resolveJob('known-1'),
      { name: 'resolve.unknown', data: { count: 1 }, opts: { jobId: 'stray', attempts: 5 } },
      resolveJob('known-2'),
    ]);
    const seen: string[] = [];
    start({
      'resolve.events': async (jobs) => {
        seen.push(...jobs.map(({ job }) => job.id));
        return jobs.map(() => 'ok');
      },
    });
    await waitFor(async () => (await stateOf('stray')) === 'failed', 'the stray job failed');
    await waitFor(async () => (await queue.getCompletedCount()) === 2, 'the known jobs');

    expect(seen.sort()).toEqual(['known-1', 'known-2']);
    const stray = (await queue.getJob('stray')) as Job;
    expect(stray.failedReason).toBe('No handler for job "resolve.unknown" on resolve');
    expect(stray.attemptsMade).toBe(1);
  });

  it('drains on close: the batch in progress finishes, jobs that arrive meanwhile stay waiting', async () => {
    await queue.addBulk(['first-1', 'first-2', 'first-3'].map((id) => resolveJob(id)));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const batches: string[][] = [];
    const worker = start({
      'resolve.events': async (jobs) => {
        batches.push(jobs.map(({ job }) => job.id));
        await released;
        return jobs.map(() => 'done');
      },
    });
    await waitFor(() => batches.length === 1, 'the first batch');
    await queue.addBulk(['later-1', 'later-2'].map((id) => resolveJob(id)));
    let closed = false;
    const closing = worker.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(closed).toBe(false);
    release();
    await closing;

    expect(batches).toEqual([['first-1', 'first-2', 'first-3']]);
    expect(await queue.getCompletedCount()).toBe(3);
    expect(await queue.getWaitingCount()).toBe(2);
  });

  it('keeps the locks of every taken job while a batch outlasts the lock duration', async () => {
    const ids = ['long-1', 'long-2', 'long-3', 'long-4', 'long-5'];
    await queue.addBulk(ids.map((id) => resolveJob(id)));
    const seen: string[] = [];
    const options = { stalledIntervalMs: 200, lockDurationMs: 600 };
    const worker = start(
      {
        'resolve.events': async (jobs) => {
          seen.push(...jobs.map(({ job }) => job.id));
          await new Promise((resolve) => setTimeout(resolve, 2_000));
          return jobs.map(() => 'ok');
        },
      },
      options,
    );
    await waitFor(() => seen.length === 5, 'one batch of all five');
    // A second worker, started once all are taken: its stalled check would take back any job whose lock lapsed.
    const watcher = start({ 'resolve.events': async (jobs) => jobs.map(() => 'stolen') }, options);
    const stalled: string[] = [];
    for (const each of [worker, watcher]) each.on('stalled', (id) => stalled.push(id));
    await waitFor(async () => (await queue.getCompletedCount()) === 5, 'every job completed');

    expect(stalled).toEqual([]);
    expect(seen).toEqual(ids);
    for (const id of ids) expect(((await queue.getJob(id)) as Job).returnvalue).toBe('ok');
  });

  it('runs again, after the stalled interval, the jobs a killed worker had taken', async () => {
    const ids = ['taken-1', 'taken-2', 'taken-3', 'taken-4'];
    await queue.addBulk(ids.map((id) => resolveJob(id)));
    const child = spawn(
      process.execPath,
      [
        '-r',
        '@swc-node/register',
        'packages/queues/src/fixtures/abandoning-batch-worker.fixture.ts',
        TEST_REDIS_URL,
        prefix,
        '1000',
        '300',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await waitFor(() => output.includes('\n'), 'the child’s batch', 30_000);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    expect(JSON.parse(output.trim())).toEqual(ids);
    expect(await queue.getActiveCount()).toBe(4);

    const stalled: string[] = [];
    const rerun: string[] = [];
    const worker = start(
      {
        'resolve.events': async (jobs) => {
          rerun.push(...jobs.map(({ job }) => job.id));
          return jobs.map(() => 'again');
        },
      },
      { stalledIntervalMs: 300, lockDurationMs: 1000 },
    );
    worker.on('stalled', (id) => stalled.push(id));
    await waitFor(async () => (await queue.getCompletedCount()) === 4, 'the taken jobs run again');

    expect(rerun.sort()).toEqual(ids);
    expect(stalled.sort()).toEqual(ids);
  }, 60_000);
});
