import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_REDIS_URL, uniqueRedisPrefix, waitFor } from '@tessera/testing';
import { createScratchDatabase } from '../support/pipeline-fixture';
import { runTesseraExpectingFailure, startEntry, type TesseraProcess } from '../support/tessera-process';

// The console as its own process (production): on PostgreSQL and Redis, with no pipeline stage in it.
describe('the console alone', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-console-'));
  let database: { url: string; drop(): Promise<void> };
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createScratchDatabase('console_alone');
    env = {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: uniqueRedisPrefix(),
      TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
      TESSERA_DATA_DIR: dataDir,
      TESSERA_DEMO: 'off',
    };
  });

  afterAll(async () => {
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses to start in production without an admin key to sign in with', async () => {
    const result = await runTesseraExpectingFailure(env, 'apps/console/src/main.ts');
    expect(result.code).toBe(1);
    expect(result.output).toContain(
      'tessera: cannot start: TESSERA_ADMIN_KEY: no admin API key exists yet: set TESSERA_ADMIN_KEY for the first start in production',
    );
  });

  it('serves the API, the docs and the UI with the key from TESSERA_ADMIN_KEY', async () => {
    const adminKey = `tsk_${randomBytes(32).toString('base64url')}`;
    let consoleProcess: TesseraProcess | undefined;
    try {
      consoleProcess = await startEntry(
        'apps/console/src/main.ts',
        { ...env, TESSERA_ADMIN_KEY: adminKey },
        'control-plane API',
      );
      const session = await fetch(`${consoleProcess.baseUrl}/v1/session`, {
        headers: { authorization: `Bearer ${adminKey}` },
      });
      expect(session.status).toBe(200);
      expect(await session.json()).toMatchObject({ keyId: 'admin-from-environment', role: 'admin' });
      const brand = await fetch(`${consoleProcess.baseUrl}/v1/brands`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'sd', name: 'Summit Sports', defaultCountry: 'GB' }),
      });
      expect(brand.status).toBe(201);
      // A destination created here is followed by this process too: replay can reach it without a restart.
      const created = await fetch(`${consoleProcess.baseUrl}/v1/destinations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          id: 'sd-klaviyo',
          brand: 'sd',
          type: 'klaviyo',
          settings: { apiKey: 'pk_console_alone_0123456789', baseUrl: 'http://127.0.0.1:9/klaviyo' },
        }),
      });
      expect(created.status).toBe(201);
      const base = consoleProcess.baseUrl;
      await waitFor(
        async () =>
          (await (
            await fetch(`${base}/v1/destinations/sd-klaviyo`, {
              headers: { authorization: `Bearer ${adminKey}` },
            })
          ).json()) as { deployed: boolean },
        (destination) => destination.deployed,
        'the console to follow the new destination',
      );
      expect((await fetch(`${consoleProcess.baseUrl}/docs/openapi.json`)).status).toBe(200);
      expect(
        (await fetch(`${consoleProcess.baseUrl}/v1/sources/sd-loyalty/events`, { method: 'POST' })).status,
      ).toBe(404);
    } finally {
      expect(await consoleProcess?.stop()).toBe(0);
    }
  });
});
