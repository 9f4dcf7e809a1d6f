import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import {
  bootRuntime,
  createLogger,
  newWebhookSecret,
  type TesseraRuntime,
  type WorkspaceDefinition,
} from '@tessera/runtime';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from './redis-namespace';

export interface TestRuntime {
  runtime: TesseraRuntime;
  /** A Redis client of the test's own, for assertions. */
  redis: Redis;
  dataDir: string;
  /** Deletes the test's Redis keys and data folder. */
  cleanup(): Promise<void>;
}

/** A two-source workspace most intake tests use: `loyalty` (typeMap) and `pos`, both of brand `sd`. */
export function testWorkspace(overrides: Partial<WorkspaceDefinition> = {}): WorkspaceDefinition {
  return {
    brands: [{ id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' }],
    sources: [
      {
        id: 'loyalty',
        brand: 'sd',
        secrets: [newWebhookSecret()],
        typeMap: { points_earned: 'points.updated' },
      },
      { id: 'pos', brand: 'sd', secrets: [newWebhookSecret()] },
    ],
    destinations: [],
    ...overrides,
  };
}

/** Boots a real runtime (real Redis, real settings validation) in a namespace and data folder of its own. */
export async function createTestRuntime(
  workspace: WorkspaceDefinition = testWorkspace(),
  env: Record<string, string> = {},
): Promise<TestRuntime> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-test-'));
  const workspaceFile = join(dataDir, 'workspace.json');
  writeFileSync(workspaceFile, JSON.stringify(workspace));
  const prefix = uniqueRedisPrefix();
  const runtime = await bootRuntime({
    env: {
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_DATA_DIR: dataDir,
      TESSERA_WORKSPACE_FILE: workspaceFile,
      TESSERA_DEMO: 'off',
      LOG_LEVEL: 'silent',
      // The tests' sandboxes and capture servers stand in for the ESPs on loopback (a spec may allow less).
      TESSERA_ALLOWED_DESTINATION_HOSTS: '127.0.0.1',
      ...env,
    },
    logger: createLogger('silent'),
  });
  const redis = new Redis(TEST_REDIS_URL);
  return {
    runtime,
    redis,
    dataDir,
    async cleanup() {
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
      // The app's shutdown usually closed it already; closing twice is harmless here.
      await runtime.store.close().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
