import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { AllowedDestinationHosts, DestinationRunner } from '@tessera/destination-kit';
import { KLAVIYO_REVISION, klaviyoDestination } from '@tessera/destination-klaviyo';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { REPO_ROOT, startTessera, type TesseraProcess } from '../support/tessera-process';

const klaviyoHeaders = {
  authorization: 'Klaviyo-API-Key pk_e2e',
  revision: KLAVIYO_REVISION,
  'content-type': 'application/vnd.api+json',
};

describe('the ESP sandbox in the all-in-one process', () => {
  let tessera: TesseraProcess;
  let dataDir: string;
  const prefix = uniqueRedisPrefix();

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tessera-sandbox-'));
    tessera = await startTessera({
      TESSERA_DATA_DIR: dataDir,
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_DEMO: 'off',
    });
  });

  afterAll(async () => {
    expect(await tessera.stop()).toBe(0);
    const redis = new Redis(TEST_REDIS_URL);
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints the sandbox URL and lists its emulators', async () => {
    expect(tessera.output()).toContain(`Klaviyo sandbox        ${tessera.baseUrl}/sandbox/klaviyo`);
    const index = await fetch(`${tessera.baseUrl}/sandbox`);
    expect(await index.json()).toEqual({
      esps: ['klaviyo', 'braze', 'mailchimp', 'sfmc'],
      limitsLifted: false,
    });
  });

  it('serves the Klaviyo destination as Klaviyo would, and shows what it holds', async () => {
    const runner = new DestinationRunner(klaviyoDestination, {
      settings: { apiKey: 'pk_e2e', baseUrl: `${tessera.baseUrl}/sandbox/klaviyo` },
      allowedHosts: AllowedDestinationHosts.none.with(`${tessera.baseUrl}/sandbox`),
    });
    const profiles = Array.from({ length: 30 }, (_, i) => ({
      customerId: `E2E${i}`,
      version: 1,
      email: `e2e${i}@example.com`,
      attributes: { points_balance: i },
    }));
    const results = await runner.run('upsertProfiles', profiles);
    expect(results.every((result) => result.status === 'ok')).toBe(true);
    const state = (await (await fetch(`${tessera.baseUrl}/sandbox/klaviyo/_sandbox/state`)).json()) as {
      profiles: { attributes: { external_id: string } }[];
    };
    expect(state.profiles.map((profile) => profile.attributes.external_id).sort()).toEqual(
      profiles.map((profile) => profile.customerId).sort(),
    );
  });

  it('takes bulk bodies over the 1 MiB ingest limit, and refuses a malformed one in Klaviyo’s error shape', async () => {
    const data = Array.from({ length: 6_000 }, (_, i) => ({
      type: 'profile',
      attributes: { email: `bulk${i}@example.com`, properties: { note: 'x'.repeat(200) } },
    }));
    const body = JSON.stringify({
      data: { type: 'profile-bulk-import-job', attributes: { profiles: { data } } },
    });
    expect(Buffer.byteLength(body)).toBeGreaterThan(1024 * 1024);
    const accepted = await fetch(`${tessera.baseUrl}/sandbox/klaviyo/api/profile-bulk-import-jobs`, {
      method: 'POST',
      headers: klaviyoHeaders,
      body,
    });
    expect(accepted.status).toBe(202);
    const malformed = await fetch(`${tessera.baseUrl}/sandbox/klaviyo/api/profile-import`, {
      method: 'POST',
      headers: klaviyoHeaders,
      body: JSON.stringify({ data: { type: 'profile', attributes: { email: 'nope' } } }),
    });
    expect(malformed.status).toBe(400);
    const error = (await malformed.json()) as { errors: { status: number; code: string; source: unknown }[] };
    expect(error.errors[0]).toMatchObject({
      status: 400,
      code: 'invalid',
      source: { pointer: '/data/attributes/email' },
    });
  });

  it('injects faults over its control API', async () => {
    const armed = await fetch(`${tessera.baseUrl}/sandbox/klaviyo/_sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'rate-limit', retryAfterSeconds: 3 }),
    });
    expect(armed.status).toBe(201);
    const limited = await fetch(`${tessera.baseUrl}/sandbox/klaviyo/api/profiles`, {
      headers: klaviyoHeaders,
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    const after = await fetch(`${tessera.baseUrl}/sandbox/klaviyo/api/profiles`, { headers: klaviyoHeaders });
    expect(after.status).toBe(200);
  });
});

describe('the ESP sandbox alone', () => {
  it('runs without Redis or a store and serves the emulators on its own port', async () => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/sandbox/src/main.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, PORT: '0', REDIS_URL: 'redis://127.0.0.1:1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const root = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`sandbox did not start:\n${output}`)), 20_000);
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          const match = /klaviyo\s+(http:\/\/\S+)\/klaviyo/.exec(output);
          if (match?.[1] !== undefined) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        };
        child.stdout?.on('data', onData);
        child.stderr?.on('data', onData);
      });
      const unauthenticated = await fetch(`${root}/klaviyo/api/profiles`, {
        headers: { revision: KLAVIYO_REVISION },
      });
      expect(unauthenticated.status).toBe(401);
      const body = (await unauthenticated.json()) as { errors: { code: string }[] };
      expect(body.errors[0]?.code).toBe('not_authenticated');
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
