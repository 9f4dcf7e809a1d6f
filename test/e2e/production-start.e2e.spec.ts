import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { startTessera, type TesseraProcess } from '../support/tessera-process';

// What `NODE_ENV=production` on the embedded store (PGlite) exposes, in the real all-in-one process: no ESP
// sandbox, no demo workspace, loopback only, unless each is asked for; /metrics behind TESSERA_METRICS_TOKEN.
// And `npm start` (development) as it has always been: the demo, the sandbox, loopback.

const METRICS_TOKEN = `mtk_${randomBytes(24).toString('hex')}`;

/** The IPv4 addresses a local TCP port is listening on, from the kernel's own table. */
function listeningOn(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[3] === '0A' && fields[1]?.endsWith(`:${hexPort}`))
    .map((fields) => {
      const hex = fields[1]?.split(':')[0] ?? '';
      // Little-endian: 0100007F is 127.0.0.1.
      return [3, 2, 1, 0].map((byte) => parseInt(hex.slice(byte * 2, byte * 2 + 2), 16)).join('.');
    });
}

const portOf = (tessera: TesseraProcess) => Number(new URL(tessera.baseUrl).port);

describe('start-up modes of the all-in-one process on the embedded store', () => {
  const prefix = uniqueRedisPrefix();
  const dataDirs: string[] = [];
  const adminKey = `tsk_${randomBytes(32).toString('base64url')}`;

  function env(extra: Record<string, string>): Record<string, string> {
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-production-'));
    dataDirs.push(dataDir);
    return {
      TESSERA_DATA_DIR: dataDir,
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      ...extra,
    };
  }

  const production = () => ({
    NODE_ENV: 'production',
    TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
    TESSERA_ADMIN_KEY: adminKey,
  });

  async function brands(tessera: TesseraProcess, key: string): Promise<string[]> {
    const response = await fetch(`${tessera.baseUrl}/v1/brands`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { brands: Array<{ id: string }> }).brands.map((brand) => brand.id);
  }

  afterAll(async () => {
    const redis = new Redis(TEST_REDIS_URL);
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    for (const dataDir of dataDirs) rmSync(dataDir, { recursive: true, force: true });
  });

  it('in production: no sandbox (404), no demo workspace, loopback only, and a warning about /metrics', async () => {
    const settings = env(production());
    const tessera = await startTessera(settings, [], 60_000);
    try {
      for (const [method, path] of [
        ['GET', '/sandbox/klaviyo/_sandbox/state'],
        ['POST', '/sandbox/klaviyo/_sandbox/faults'],
        ['POST', '/sandbox/braze/users/track'],
      ]) {
        const response = await fetch(`${tessera.baseUrl}${path}`, { method });
        expect([method, path, response.status]).toEqual([method, path, 404]);
      }
      expect(tessera.output()).not.toContain('/sandbox/');
      expect(existsSync(join(settings.TESSERA_DATA_DIR, 'demo-credentials.json'))).toBe(false);
      expect(await brands(tessera, adminKey)).toEqual([]);
      expect(tessera.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(listeningOn(portOf(tessera))).toEqual(['127.0.0.1']);
      expect(tessera.output()).toContain(
        'TESSERA_METRICS_TOKEN is unset: /metrics answers anyone who reaches this port',
      );
      expect((await fetch(`${tessera.baseUrl}/metrics`)).status).toBe(200);
      const consolePage = await fetch(`${tessera.baseUrl}/console/`);
      expect(consolePage.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    } finally {
      expect(await tessera.stop()).toBe(0);
    }
  }, 90_000);

  it('in production when asked: the sandbox, the demo and every interface; /metrics only with its token', async () => {
    const settings = env({
      ...production(),
      TESSERA_SANDBOX: 'on',
      TESSERA_DEMO: 'on',
      HOST: '0.0.0.0',
      TESSERA_METRICS_TOKEN: METRICS_TOKEN,
    });
    const tessera = await startTessera(settings, [], 60_000);
    try {
      const state = await fetch(`${tessera.baseUrl}/sandbox/klaviyo/_sandbox/state`);
      expect(state.status).toBe(200);
      expect(existsSync(join(settings.TESSERA_DATA_DIR, 'demo-credentials.json'))).toBe(true);
      expect(await brands(tessera, adminKey)).toEqual(expect.arrayContaining(['northwind', 'summit-sports']));
      expect(listeningOn(portOf(tessera))).toEqual(['0.0.0.0']);

      const refused = await fetch(`${tessera.baseUrl}/metrics`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="tessera metrics"');
      expect(await refused.json()).toEqual({
        error: 'unauthorized',
        message: 'missing or wrong metrics token: send "Authorization: Bearer <TESSERA_METRICS_TOKEN>"',
      });
      const wrong = await fetch(`${tessera.baseUrl}/metrics`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN.slice(0, -1)}x` },
      });
      expect(wrong.status).toBe(401);
      expect(await wrong.text()).not.toContain('tessera_');
      const scraped = await fetch(`${tessera.baseUrl}/metrics`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain('tessera_http_request_duration_seconds');
      expect(tessera.output()).not.toContain('TESSERA_METRICS_TOKEN is unset');
      // The health probes stay open: an orchestrator asks them without a token.
      expect((await fetch(`${tessera.baseUrl}/healthz`)).status).toBe(200);
    } finally {
      expect(await tessera.stop()).toBe(0);
    }
  }, 90_000);

  it('in development (npm start): the demo, the sandbox, loopback, /metrics open', async () => {
    const settings = env({ NODE_ENV: 'development' });
    const tessera = await startTessera(settings, [], 60_000);
    try {
      expect((await fetch(`${tessera.baseUrl}/sandbox/klaviyo/_sandbox/state`)).status).toBe(200);
      expect(tessera.output()).toContain(`${tessera.baseUrl}/sandbox/klaviyo`);
      const credentials = JSON.parse(
        readFileSync(join(settings.TESSERA_DATA_DIR, 'demo-credentials.json'), 'utf8'),
      ) as { adminApiKey: string };
      expect(await brands(tessera, credentials.adminApiKey)).toEqual(
        expect.arrayContaining(['northwind', 'summit-sports']),
      );
      expect(listeningOn(portOf(tessera))).toEqual(['127.0.0.1']);
      expect((await fetch(`${tessera.baseUrl}/metrics`)).status).toBe(200);
      expect(tessera.output()).not.toContain('TESSERA_METRICS_TOKEN is unset');
    } finally {
      expect(await tessera.stop()).toBe(0);
    }
  }, 90_000);
});
