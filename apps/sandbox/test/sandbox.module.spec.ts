import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { EspSandbox } from '@tessera/destination-kit';
import { KLAVIYO_REVISION, type KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { DESTINATION_PACKAGES } from '@tessera/destination-registry';
import { createHttpApp } from '@tessera/nest-platform';
import { DEMO_SANDBOX_CONFIG } from '@tessera/runtime';
import { createTestRuntime, type TestRuntime } from '@tessera/testing';
import { createSandbox } from '../src/sandbox-configuration';
import { SANDBOX_BODY_LIMIT, SandboxModule } from '../src/sandbox.module';
import { sandboxPaths } from '../src/sandbox.paths';

const klaviyoHeaders = {
  authorization: 'Klaviyo-API-Key pk_test',
  revision: KLAVIYO_REVISION,
  'content-type': 'application/vnd.api+json',
};

// The sandbox mounted in a Nest app exactly as the all-in-one process mounts it (Fastify inject, real Redis).
describe('SandboxModule', () => {
  let t: TestRuntime;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    t = await createTestRuntime();
    app = await createHttpApp(t.runtime, [SandboxModule]);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });

  afterAll(async () => {
    await app.close();
    await t.cleanup();
  });

  it('routes /sandbox/klaviyo/… to the Klaviyo emulator with the raw body, and lists the mounts at /sandbox', async () => {
    const index = await app.inject({ method: 'GET', url: '/sandbox' });
    expect(index.json()).toEqual({ esps: ['klaviyo', 'braze', 'mailchimp', 'sfmc'], limitsLifted: false });
    const created = await app.inject({
      method: 'POST',
      url: '/sandbox/klaviyo/api/profile-import',
      headers: klaviyoHeaders,
      payload: JSON.stringify({
        data: { type: 'profile', attributes: { email: 'ada@example.com', external_id: 'C1' } },
      }),
    });
    expect(created.statusCode).toBe(201);
    expect(created.headers['content-type']).toContain('application/vnd.api+json');
    const emulator = app.get(EspSandbox).emulator<KlaviyoEmulator>('klaviyo');
    expect(emulator.findProfile({ externalId: 'C1' })).toBeDefined();
    expect(sandboxPaths(t.runtime)).toEqual([
      ['Klaviyo sandbox', '/sandbox/klaviyo'],
      ['Braze sandbox', '/sandbox/braze'],
      ['Mailchimp sandbox', '/sandbox/mailchimp'],
      ['Salesforce Marketing Cloud sandbox', '/sandbox/sfmc'],
    ]);
  });

  it('reads bodies over 5 MB on its routes, so the emulator itself refuses a bulk job over 5 MB', async () => {
    const data = Array.from({ length: 9_000 }, (_, i) => ({
      type: 'profile',
      attributes: { email: `m${i}@example.com`, properties: { note: 'x'.repeat(600) } },
    }));
    const payload = JSON.stringify({
      data: { type: 'profile-bulk-import-job', attributes: { profiles: { data } } },
    });
    expect(payload.length).toBeGreaterThan(5_000_000);
    const refused = await app.inject({
      method: 'POST',
      url: '/sandbox/klaviyo/api/profile-bulk-import-jobs',
      headers: klaviyoHeaders,
      payload,
    });
    expect(refused.statusCode).toBe(413);
    const body = refused.json<{ errors: { status: number }[] }>();
    expect(body.errors[0]?.status).toBe(413);
  });

  it('answers 404 naming the mounts for an ESP it does not serve', async () => {
    const response = await app.inject({ method: 'GET', url: '/sandbox/hubspot/api' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({
      error: 'No emulator is mounted at "hubspot"; mounted: klaviyo, braze, mailchimp, sfmc',
    });
  });

  it('reads bodies larger than any emulator accepts, so each emulator answers 413 in its own format', () => {
    const limits = DESTINATION_PACKAGES.map((entry) => [
      entry.definition.type,
      entry.createEmulator().maxBodyBytes,
    ]);
    expect(limits.filter(([, bytes]) => bytes !== undefined).length).toBeGreaterThan(0);
    for (const [, bytes] of limits) expect(bytes ?? 0).toBeLessThan(SANDBOX_BODY_LIMIT);
  });
});

describe('createSandbox', () => {
  const configurable = DESTINATION_PACKAGES.map((entry) => entry.createEmulator()).filter(
    (emulator) => emulator.configure !== undefined,
  );

  it("starts each emulator with the demo's configuration while the demo is active, with its defaults otherwise", () => {
    const demo = createSandbox('all', true);
    const plain = createSandbox('all', false);
    for (const fresh of configurable) {
      const expected = DEMO_SANDBOX_CONFIG[fresh.esp];
      expect(plain.emulator(fresh.esp).configuration?.()).toEqual(fresh.configuration?.());
      if (expected === undefined) {
        expect(demo.emulator(fresh.esp).configuration?.()).toEqual(fresh.configuration?.());
      } else {
        fresh.configure?.(expected);
        expect(demo.emulator(fresh.esp).configuration?.()).toEqual(fresh.configuration?.());
      }
    }
  });

  it('names only mounted ESPs in the demo configuration', () => {
    const mounts = DESTINATION_PACKAGES.map((entry) => entry.definition.type);
    for (const esp of Object.keys(DEMO_SANDBOX_CONFIG)) expect(mounts).toContain(esp);
  });
});
