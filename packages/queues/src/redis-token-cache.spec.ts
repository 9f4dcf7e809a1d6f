import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { KeyRing } from '@tessera/crypto';
import { RedisTokenCache, TOKEN_CACHE_KEY_PURPOSE } from './redis-token-cache';

const TEST_REDIS_URL = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

// Medium tier: the real Redis on loopback.
describe('RedisTokenCache', () => {
  const master = randomBytes(32);
  const ring = () => new KeyRing([master], TOKEN_CACHE_KEY_PURPOSE);
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

  it('shares one token between workers, sealed at rest and expiring with the token', async () => {
    const workerA = new RedisTokenCache(redis, prefix, ring());
    const workerB = new RedisTokenCache(redis, prefix, ring());
    const token = { value: 'sfmc-access-token-XYZ', expiresAt: Date.now() + 20 * 60_000 };
    await workerA.set('sfmc:dest-1', token);
    expect(await workerB.get('sfmc:dest-1')).toEqual(token);
    const raw = (await redis.get(`${prefix}:token:sfmc:dest-1`)) ?? '';
    expect(raw).not.toContain('sfmc-access-token-XYZ');
    const ttl = await redis.pttl(`${prefix}:token:sfmc:dest-1`);
    expect(ttl).toBeGreaterThan(19 * 60_000);
    expect(ttl).toBeLessThanOrEqual(20 * 60_000);
    await workerB.delete('sfmc:dest-1');
    expect(await workerA.get('sfmc:dest-1')).toBeUndefined();
  });

  it('never returns an expired token, stores none that is already expired, and ignores a box moved to another key', async () => {
    let now = Date.now();
    const cache = new RedisTokenCache(redis, prefix, ring(), () => now);
    await cache.set('a', { value: 'late', expiresAt: now - 1 });
    expect(await redis.exists(`${prefix}:token:a`)).toBe(0);
    await cache.set('b', { value: 'soon', expiresAt: now + 60_000 });
    now += 61_000;
    expect(await cache.get('b')).toBeUndefined();
    now -= 61_000;
    // The key is bound into the seal: a token copied under another destination's key does not open.
    await redis.set(`${prefix}:token:c`, (await redis.get(`${prefix}:token:b`)) ?? '');
    expect(await cache.get('c')).toBeUndefined();
    expect(await cache.get('b')).toEqual({ value: 'soon', expiresAt: expect.any(Number) });
  });
});
