import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { adoptStoredWorkspace } from '@tessera/destination-registry';
import { createTestRuntime, testWorkspace, type TestRuntime } from '@tessera/testing';
import { apiCaller, startConsoleApp } from './console-api-client';

// Issue 18, item 4: a marketer's regular expression or costly rule cannot freeze the process. Saving and
// previewing through the control-plane API on a real runtime (PGlite, the real Redis).

const ADMIN_KEY = 'tsk_admin-key-for-the-rule-bounds-spec-0123456789';
const RE2_NOTE = 'matches() uses RE2 syntax, which has no backtracking so that it runs in linear time';

describe('rules that could freeze the process, through the console API', () => {
  let t: TestRuntime;
  let app: NestFastifyApplication;
  let marketer = '';

  beforeAll(async () => {
    t = await createTestRuntime(
      testWorkspace({
        destinations: [
          {
            id: 'sd-klaviyo',
            brand: 'sd',
            type: 'klaviyo',
            // In full without a grant: the preview's member has no consent record, and the test reads its attributes.
            settings: {
              apiKey: 'pk_rule_bounds_0123456789abcdef',
              baseUrl: 'http://127.0.0.1:9/klaviyo',
              withoutGrant: 'full',
            },
          },
        ],
      }),
      // The preview sends nothing: the loopback base URL only shows in the requests it describes.
      { TESSERA_ADMIN_KEY: ADMIN_KEY, TESSERA_ALLOWED_DESTINATION_HOSTS: '127.0.0.1:9' },
    );
    t.runtime.workspace = await adoptStoredWorkspace(t.runtime);
    app = await startConsoleApp(t.runtime);
    const created = await call('POST', '/v1/api-keys', ADMIN_KEY, { name: 'marketer key', role: 'marketer' });
    expect(created.status).toBe(201);
    marketer = String(created.body['key']);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const call = apiCaller(() => app);

  const sample = {
    type: 'points.updated',
    data: { customer_id: 'C700', email: 'bounds@example.com', delta: 10, new_balance: 510 },
  };

  it('refuses to save a pattern RE2 does not have, naming the construct, and saves nothing', async () => {
    const refused = await call('PUT', '/v1/destinations/sd-klaviyo/mappings', marketer, {
      rules: {
        conditions: ['profile.?email.orValue("").matches("^(?=.*@)(?!.*example)")'],
        mappings: { twice: 'profile.?first_name.orValue("").matches("(a)\\\\1")' },
      },
    });
    expect(refused.status).toBe(422);
    expect(refused.body['error']).toBe('invalid_rules');
    expect(refused.body['errors']).toEqual([
      {
        path: '/conditions/0',
        expression: 'profile.?email.orValue("").matches("^(?=.*@)(?!.*example)")',
        message: `1:36: lookahead ((?=…) is not supported: ${RE2_NOTE}`,
      },
      {
        path: '/mappings/twice',
        expression: 'profile.?first_name.orValue("").matches("(a)\\\\1")',
        message: `1:41: backreferences (\\1) are not supported: ${RE2_NOTE}`,
      },
    ]);
    expect(
      (await call('GET', '/v1/destinations/sd-klaviyo/mappings/history', marketer)).body['versions'],
    ).toEqual([]);
  });

  it('saves and previews the pattern of the report at once: matches() runs on RE2', async () => {
    const rules = { mappings: { matched: `"${'a'.repeat(1_900)}!".matches("^((a+))+$")` } };
    const saved = await call('PUT', '/v1/destinations/sd-klaviyo/mappings', marketer, { rules });
    expect(saved.status).toBe(200);
    expect(saved.body['version']).toBe(1);
    const started = Date.now();
    const preview = await call('POST', '/v1/preview', marketer, {
      destinationId: 'sd-klaviyo',
      event: sample,
    });
    expect(preview.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5_000);
    const [upsert] = preview.body['operations'] as { operation: string; item: { attributes: object } }[];
    expect(upsert?.operation).toBe('upsertProfiles');
    expect(upsert?.item.attributes).toEqual({ matched: false });
  });

  it('previews a draft over its evaluation budget with a note naming the rule, and stays responsive', async () => {
    // Each mapping is fine alone (1,900 characters × a 193-instruction pattern); 30 of them cost more
    // than one event may.
    const costly = `"${'a'.repeat(1_900)}".matches("[a-z]{190}$")`;
    const rules = {
      mappings: Object.fromEntries(Array.from({ length: 30 }, (_, index) => [`m${index}`, costly])),
    };
    const preview = await call('POST', '/v1/preview', marketer, {
      destinationId: 'sd-klaviyo',
      event: sample,
      rules,
    });
    expect(preview.status).toBe(200);
    expect(preview.body['operations']).toEqual([]);
    const notes = preview.body['notes'] as string[];
    const failed = notes.filter((note) => note.includes('failed: exceeded the evaluation budget'));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(
      /^rule mappings\.m2\d .*failed: exceeded the evaluation budget of 10000000 cost units for one event/,
    );
    expect((await call('GET', '/healthz')).status).toBe(200);
  });
});
