import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';

export const TEST_REDIS_URL = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of its own for one test file, so suites share the real Redis without seeing each other. */
export function uniqueRedisPrefix(): string {
  return `{tessera-test-${randomBytes(6).toString('hex')}}`;
}

/** Removes every key under a prefix (what a test wrote). */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}
