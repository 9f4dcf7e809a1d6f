import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { Logger } from './logger';
import type { Settings } from './settings';

export interface RedisEndpoint {
  url: string;
  /** Set when Tessera started its own redis-server; stops it. */
  stop?: () => Promise<void>;
}

export class RedisUnavailableError extends Error {}

export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startPrivateRedis(dataDir: string): Promise<RedisEndpoint> {
  const dir = join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  // The settings production wants: nothing evicted, every write in the append-only file within a second.
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
      '--protected-mode',
      'yes',
      '--logfile',
      join(dir, 'redis.log'),
    ],
    { stdio: 'ignore' },
  );
  let exited = false;
  child.once('exit', () => (exited = true));
  for (let attempt = 0; attempt < 50 && !exited; attempt++) {
    if (await redisAnswers(url, 200)) {
      const stop = () =>
        new Promise<void>((resolve) => {
          if (exited) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      process.once('exit', () => child.kill('SIGTERM'));
      return { url, stop };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new RedisUnavailableError(`a private redis-server did not start; see ${join(dir, 'redis.log')}`);
}

/**
 * Finds the Redis to use. REDIS_URL, when set, must answer. Unset, the default must answer, or a private
 * redis-server is started under the data folder when one is installed.
 */
export async function connectOrStartRedis(settings: Settings, logger: Logger): Promise<RedisEndpoint> {
  if (await redisAnswers(settings.redisUrl)) return { url: settings.redisUrl };
  if (settings.redisUrlExplicit) {
    throw new RedisUnavailableError(
      `REDIS_URL: nothing answers at ${settings.redisUrl}; start Redis there or fix REDIS_URL`,
    );
  }
  if (!redisServerInstalled()) {
    throw new RedisUnavailableError(
      `REDIS_URL: no Redis answers at ${settings.redisUrl} and redis-server is not installed. ` +
        'Install it (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) or set REDIS_URL.',
    );
  }
  const endpoint = await startPrivateRedis(settings.dataDir);
  logger.warn(
    { redisUrl: endpoint.url, dir: join(settings.dataDir, 'redis') },
    `no Redis answered at ${settings.redisUrl}: started a private redis-server at ${endpoint.url} (data in ${join(settings.dataDir, 'redis')})`,
  );
  return endpoint;
}
