import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { JobQueue } from './job-queue';
import {
  assertNoEviction,
  MissingJobHandlerError,
  RedisPolicyError,
  startStageWorker,
  type JobHandlers,
} from './stage-worker';

// (Not @tessera/testing: it depends on this package.)
const TEST_REDIS_URL = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('startStageWorker', () => {
  let redis: Redis;
  let prefix: string;

  beforeEach(() => {
    redis = new Redis(TEST_REDIS_URL);
    prefix = `{tessera-test-${randomBytes(6).toString('hex')}}`;
  });
  afterEach(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('refuses to start a stage with a job name that has no handler', () => {
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: true });
    const handlers = { 'inbound.changes': async () => undefined } as unknown as JobHandlers<'inbound'>;
    expect(() => startStageWorker({ stage: 'inbound', handlers, connection, prefix })).toThrow(
      new MissingJobHandlerError('Stage "inbound" has no handler for job "inbound.poll"'),
    );
    connection.disconnect();
  });

  it('hands each job’s typed data to its handler, and drains on close', async () => {
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const seen: string[] = [];
    const worker = startStageWorker({
      stage: 'dsr',
      connection,
      prefix,
      handlers: {
        'dsr.erasure': async (data) => void seen.push(`erase ${data.requestId}`),
        'dsr.access': async (data, job) => void seen.push(`access ${data.requestId} as ${job.id}`),
      },
    });
    const queue = new JobQueue('dsr', redis, prefix);
    await queue.add('dsr.access', { requestId: 'R1' }, 'dsr-access-R1');
    await queue.add('dsr.erasure', { requestId: 'R2' }, 'dsr-erasure-R2');
    await waitFor(() => seen.length === 2, 'both jobs');
    await worker.close();
    await queue.close();
    connection.disconnect();
    expect(seen).toEqual(['access R1 as dsr-access-R1', 'erase R2']);
  });
});

describe('assertNoEviction', () => {
  let server: ChildProcess | undefined;
  afterEach(() => server?.kill('SIGKILL'));

  it('accepts the noeviction policy of the Redis on loopback', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    await expect(assertNoEviction(redis)).resolves.toBeUndefined();
    await redis.quit();
  });

  it('stops start-up on an evicting Redis, naming the policy and the fix', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    server = spawn(
      'redis-server',
      ['--port', String(port), '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru'],
      {
        stdio: 'ignore',
      },
    );
    // The server takes a moment to listen: the client retries until it answers.
    const redis = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 50, maxRetriesPerRequest: null });
    await redis.ping();
    try {
      await expect(assertNoEviction(redis)).rejects.toThrow(
        new RedisPolicyError(
          'Redis maxmemory-policy is "allkeys-lru": queues need "noeviction" (set it with CONFIG SET maxmemory-policy noeviction or in redis.conf)',
        ),
      );
    } finally {
      redis.disconnect();
    }
  });
});
