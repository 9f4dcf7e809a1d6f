import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { PostgresStore, TEST_POSTGRES_URL } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { REPO_ROOT, runTesseraExpectingFailure, startTessera } from '../support/tessera-process';

describe('start-up', () => {
  it.each([
    [
      'PORT',
      { PORT: 'abc' },
      'tessera: cannot start: PORT: expected a whole number from 0 to 65535, got "abc"',
    ],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }, 'tessera: cannot start: LOG_LEVEL: expected one of'],
    [
      'REDIS_URL (nothing answers)',
      { REDIS_URL: 'redis://127.0.0.1:1' },
      'tessera: cannot start: REDIS_URL: nothing answers at redis://127.0.0.1:1',
    ],
    [
      'TESSERA_WORKSPACE_FILE',
      { TESSERA_WORKSPACE_FILE: '/nonexistent/workspace.json' },
      'tessera: cannot start: TESSERA_WORKSPACE_FILE: cannot read /nonexistent/workspace.json (ENOENT)',
    ],
    [
      'DATABASE_URL (nothing answers)',
      { DATABASE_URL: 'postgres://tessera:s3cret-pw@127.0.0.1:1/tessera' },
      'tessera: cannot start: DATABASE_URL: cannot open the store (PostgreSQL at postgres://tessera:***@127.0.0.1:1/tessera): ECONNREFUSED',
    ],
    [
      'TESSERA_DESTINATIONS',
      { TESSERA_DESTINATIONS: 'klaviyo,pigeon' },
      'tessera: cannot start: TESSERA_DESTINATIONS: unknown destination "pigeon"; this build has: klaviyo, braze, mailchimp, sfmc',
    ],
    [
      'TESSERA_RETENTION',
      { TESSERA_RETENTION: '{"consent_ledger": {"keepDays": 30}}' },
      'tessera: cannot start: TESSERA_RETENTION: consent_ledger is kept for good',
    ],
    [
      'TESSERA_ANALYTICS_KEYS',
      { TESSERA_ANALYTICS_KEYS: 'v1:c2hvcnQ=' },
      'tessera: cannot start: TESSERA_ANALYTICS_KEYS: the secret of v1 is 5 bytes; at least 32 are needed',
    ],
    [
      'TESSERA_MASTER_KEY in production',
      { NODE_ENV: 'production' },
      'tessera: cannot start: TESSERA_MASTER_KEY: is required when NODE_ENV=production',
    ],
  ])('a bad %s stops it with a message naming the setting', async (_name, env, message) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-start-'));
    try {
      const result = await runTesseraExpectingFailure({
        TESSERA_DATA_DIR: dataDir,
        REDIS_URL: TEST_REDIS_URL,
        ...env,
      });
      expect(result.code).toBe(1);
      expect(result.output).toContain(message);
      expect(result.output).not.toContain('s3cret-pw');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a destination naming an unknown plugin in the workspace file stops it, naming the plugin', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-start-'));
    try {
      const workspaceFile = join(dataDir, 'workspace.json');
      writeFileSync(
        workspaceFile,
        JSON.stringify({
          brands: [{ id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' }],
          sources: [],
          destinations: [
            { id: 'sd-klaviyo', brand: 'sd', type: 'klaviyo', plugins: [{ name: 'tier-chnage' }] },
          ],
        }),
      );
      const result = await runTesseraExpectingFailure({
        TESSERA_DATA_DIR: dataDir,
        REDIS_URL: TEST_REDIS_URL,
        TESSERA_WORKSPACE_FILE: workspaceFile,
        TESSERA_DEMO: 'off',
      });
      expect(result.code).toBe(1);
      expect(result.output).toContain(
        'tessera: cannot start: TESSERA_WORKSPACE_FILE: Destination "sd-klaviyo": unknown plugin "tier-chnage"; known: consent-propagation, merge-cleanup, points-winback, profile-sync, tier-change',
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('an embedded first start creates the demo workspace, and the README’s script posts a signed event to it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-demo-'));
    const prefix = uniqueRedisPrefix();
    const redis = new Redis(TEST_REDIS_URL);
    const env = { TESSERA_DATA_DIR: dataDir, REDIS_URL: TEST_REDIS_URL, TESSERA_REDIS_PREFIX: prefix };
    try {
      const first = await startTessera(env);
      const file = join(dataDir, 'demo-credentials.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const credentials = JSON.parse(readFileSync(file, 'utf8')) as {
        sources: Array<{ id: string; secret: string }>;
      };
      expect(credentials.sources[0]).toMatchObject({
        id: 'demo-loyalty',
        secret: expect.stringMatching(/^whsec_/),
      });
      expect(first.output()).toContain(
        `demo source            ${first.baseUrl}/v1/sources/demo-loyalty/events`,
      );
      const sent = await promisify(execFile)(
        process.execPath,
        ['scripts/send-demo-event.js', first.baseUrl],
        {
          cwd: REPO_ROOT,
          env: { ...process.env, TESSERA_DATA_DIR: dataDir },
        },
      );
      expect(sent.stdout).toMatch(/^202 \{"results":\[\{"id":"[0-9a-f-]{36}","status":"accepted"\}\]\}/);
      expect(await first.stop()).toBe(0);

      // A second start keeps the same demo credentials and master key.
      const masterKey = readFileSync(join(dataDir, 'master.key'), 'utf8');
      const second = await startTessera(env);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(credentials);
      expect(readFileSync(join(dataDir, 'master.key'), 'utf8')).toBe(masterKey);
      expect(await second.stop()).toBe(0);
    } finally {
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('on DATABASE_URL it migrates that PostgreSQL database and reports it ready', async () => {
    const name = `tessera_start_${process.pid}_${Date.now()}`;
    const admin = new PostgresStore(TEST_POSTGRES_URL, { maxConnections: 1 });
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(TEST_POSTGRES_URL);
    url.pathname = `/${name}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-start-'));
    const prefix = uniqueRedisPrefix();
    const tessera = await startTessera({
      DATABASE_URL: url.toString(),
      TESSERA_DATA_DIR: dataDir,
      TESSERA_REDIS_PREFIX: prefix,
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_DEMO: 'off',
    });
    const store = new PostgresStore(url.toString(), { maxConnections: 1 });
    try {
      const ready = await fetch(`${tessera.baseUrl}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { redis: 'up', store: 'up' } });
      const migrations = await store.query<{ name: string }>(
        'SELECT name FROM schema_migrations ORDER BY version',
      );
      expect(migrations.map((row) => row.name)).toEqual([
        'identity_graph',
        'transform_rules',
        'consent',
        'pipeline',
        'scheduled_work',
        'retired_identifiers',
        'control_plane',
        'destination_sync_state',
        'erasure_tombstone',
        'tombstone_keys',
        'lineage_joins',
        'inbound_subscribed_sightings',
        'shared_identifiers',
      ]);
      // The embedded store was not created: the data folder holds no PGlite.
      expect(() => statSync(join(dataDir, 'pglite'))).toThrow();
    } finally {
      expect(await tessera.stop()).toBe(0);
      await store.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.close();
      const redis = new Redis(TEST_REDIS_URL);
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
