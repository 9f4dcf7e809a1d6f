import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { createLogger } from './logger';
import { connectOrStartRedis, redisAnswers, RedisUnavailableError } from './private-redis';
import { loadSettings } from './settings';

// Medium tier: starts a real redis-server (installed on every Tessera machine, and by .ci/run).
describe('connectOrStartRedis', () => {
  const logger = createLogger('silent');
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'tessera-redis-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('uses REDIS_URL when it answers', async () => {
    const settings = loadSettings({ REDIS_URL: 'redis://127.0.0.1:6379', TESSERA_DATA_DIR: dataDir });
    expect(await connectOrStartRedis(settings, logger)).toEqual({ url: 'redis://127.0.0.1:6379' });
  });

  it('refuses to start when an explicit REDIS_URL does not answer', async () => {
    const settings = loadSettings({ REDIS_URL: 'redis://127.0.0.1:1', TESSERA_DATA_DIR: dataDir });
    await expect(connectOrStartRedis(settings, logger)).rejects.toThrow(
      new RedisUnavailableError(
        'REDIS_URL: nothing answers at redis://127.0.0.1:1; start Redis there or fix REDIS_URL',
      ),
    );
  });

  it('starts a private, durable, noeviction redis-server under the data folder when the default does not answer', async () => {
    // The default URL, pointed at a closed port, as if no Redis ran on this machine.
    const settings = { ...loadSettings({ TESSERA_DATA_DIR: dataDir }), redisUrl: 'redis://127.0.0.1:1' };
    const endpoint = await connectOrStartRedis(settings, logger);
    try {
      expect(endpoint.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
      expect(await redisAnswers(endpoint.url)).toBe(true);
      const client = new Redis(endpoint.url);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await client.config('GET', 'dir')).toEqual(['dir', join(dataDir, 'redis')]);
      await client.quit();
      expect(existsSync(join(dataDir, 'redis'))).toBe(true);
    } finally {
      await endpoint.stop?.();
    }
    expect(await redisAnswers(endpoint.url, 300)).toBe(false);
  });
});
