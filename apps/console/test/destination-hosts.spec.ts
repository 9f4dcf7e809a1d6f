import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AuditLog } from '@tessera/consent';
import { adoptStoredWorkspace } from '@tessera/destination-registry';
import { createHttpApp } from '@tessera/nest-platform';
import { createTestRuntime, testWorkspace, type TestRuntime } from '@tessera/testing';
import { PipelineModule } from '@tessera/worker';
import { ConsoleModule } from '../src';

// A deployment that allows one host of its own (an egress proxy) besides the ESPs': the console refuses any other
// base URL when a destination is saved, with the setting and the host named, and writes nothing.

const ADMIN_KEY = 'tsk_admin-key-for-the-destination-hosts-spec-0123';
const ALLOW = 'TESSERA_ALLOWED_DESTINATION_HOSTS can allow it';

describe('destination hosts in the console', () => {
  let t: TestRuntime;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    t = await createTestRuntime(
      testWorkspace({
        destinations: [
          { id: 'sd-klaviyo', brand: 'sd', type: 'klaviyo', settings: { apiKey: 'pk_hosts_0123456789' } },
        ],
      }),
      { TESSERA_ADMIN_KEY: ADMIN_KEY, TESSERA_ALLOWED_DESTINATION_HOSTS: 'esp-proxy.internal' },
    );
    t.runtime.workspace = await adoptStoredWorkspace(t.runtime);
    app = await createHttpApp(t.runtime, [ConsoleModule.forRoot(PipelineModule)]);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await t?.cleanup();
  });

  async function call(method: 'POST' | 'PATCH' | 'GET', url: string, body?: unknown) {
    const response = await app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
  }

  const refusal = (setting: string, message: string) => ({
    status: 400,
    body: {
      error: 'bad_request',
      message: `invalid klaviyo settings: /settings/${setting} ${message}`,
      errors: [{ path: `/settings/${setting}`, message }],
    },
  });

  it('refuses a base URL on a loopback, link-local or other host when created or changed, and writes nothing', async () => {
    const klaviyo = (baseUrl: string) => ({
      id: 'sd-klaviyo-2',
      brand: 'sd',
      type: 'klaviyo',
      settings: { apiKey: 'pk_hosts_0123456789', baseUrl },
    });
    expect(
      await call('POST', '/v1/destinations', klaviyo('http://169.254.169.254/latest/meta-data')),
    ).toEqual(
      refusal(
        'baseUrl',
        `169.254.169.254 is a link-local address, not one of Klaviyo's hosts (a.klaviyo.com); ${ALLOW}`,
      ),
    );
    expect(await call('POST', '/v1/destinations', klaviyo('http://2130706433:8080/v1/dsr'))).toEqual(
      refusal(
        'baseUrl',
        `127.0.0.1 is a loopback address, not one of Klaviyo's hosts (a.klaviyo.com); ${ALLOW}`,
      ),
    );
    expect(
      await call('PATCH', '/v1/destinations/sd-klaviyo', {
        settings: { baseUrl: 'https://a.klaviyo.com.evil.example' },
      }),
    ).toEqual(
      refusal(
        'baseUrl',
        `a.klaviyo.com.evil.example is not one of Klaviyo's hosts (a.klaviyo.com); ${ALLOW}`,
      ),
    );
    expect((await call('GET', '/v1/destinations/sd-klaviyo-2')).status).toBe(404);
    expect((await call('GET', '/v1/destinations/sd-klaviyo')).body['settings']).toEqual({ apiKey: '***' });
    const audit = new AuditLog(t.runtime.store);
    expect(await audit.query({ action: 'destination.created' })).toEqual([]);
    expect(await audit.query({ action: 'destination.updated' })).toEqual([]);
  });

  it('saves a base URL on a host the deployment allows, and on the ESP’s own host', async () => {
    const created = await call('POST', '/v1/destinations', {
      id: 'sd-klaviyo-proxied',
      brand: 'sd',
      type: 'klaviyo',
      settings: { apiKey: 'pk_hosts_0123456789', baseUrl: 'https://esp-proxy.internal/klaviyo' },
    });
    expect(created.status).toBe(201);
    const patched = await call('PATCH', '/v1/destinations/sd-klaviyo', {
      settings: { baseUrl: 'https://a.klaviyo.com' },
    });
    expect([patched.status, patched.body['settings']]).toEqual([
      200,
      { apiKey: '***', baseUrl: 'https://a.klaviyo.com' },
    ]);
  });
});
