import { KLAVIYO_PUBLISHED_REVISIONS } from '../api-revision';
import { KLAVIYO_ENDPOINTS, KLAVIYO_RATE_BUDGETS } from '../klaviyo-endpoints';
import { EMULATOR_ONLY_ENDPOINTS, EMULATOR_RATE_BUDGETS, emulatorRateBudgets } from './klaviyo-rate-limits';
import { errorOf, importProfile, profileBody, setup } from './klaviyo-test-support';

describe('KlaviyoEmulator: protocol', () => {
  it('refuses a request without a Klaviyo-API-Key, or with a key that is not a private key', async () => {
    const { send, emulator } = setup();
    for (const authorization of [undefined, 'Bearer pk_x', 'Klaviyo-API-Key ', 'Klaviyo-API-Key sk_123']) {
      const response = await send('POST', '/api/profile-import', profileBody({ email: 'a@example.com' }), {
        headers: { authorization },
      });
      expect(response.status).toBe(401);
      expect(errorOf(response).code).toBe('not_authenticated');
    }
    expect(emulator.state().profiles).toEqual([]);
  });

  describe('the revision header', () => {
    const refusal = (detail: string) => ({
      status: 400,
      headers: { 'content-type': 'application/vnd.api+json' },
      body: {
        errors: [
          {
            id: expect.stringMatching(/^[0-9a-f-]{36}$/),
            status: 400,
            code: 'invalid',
            title: 'Invalid input.',
            detail,
            source: { parameter: 'revision' },
            links: {},
            meta: {},
          },
        ],
      },
    });
    const importWith = (send: ReturnType<typeof setup>['send'], revision: string | undefined) =>
      send('POST', '/api/profile-import', profileBody({ email: 'a@example.com' }), { headers: { revision } });

    it('is required: 400 with Klaviyo’s error document, and nothing is written', async () => {
      const { send, emulator } = setup();
      expect(await importWith(send, undefined)).toEqual(
        refusal("The 'revision' header is required (YYYY-MM-DD)."),
      );
      expect(emulator.state().profiles).toEqual([]);
    });

    it('must look like YYYY-MM-DD or YYYY-MM-DD.pre', async () => {
      const { send, emulator } = setup();
      for (const revision of ['v3', '2026-7-15', '2026-07-15.beta', ' 2026-07-15', '2026-07-15.pre.1']) {
        expect(await importWith(send, revision)).toEqual(
          refusal(`Invalid 'revision' header '${revision}': expected YYYY-MM-DD or YYYY-MM-DD.pre.`),
        );
      }
      expect(emulator.state().profiles).toEqual([]);
    });

    it('must be a revision Klaviyo published: a well-formed unknown date is refused', async () => {
      const { send, emulator } = setup();
      for (const revision of ['2026-07-16', '2027-01-15', '2021-10-15', '2024-03-15.pre']) {
        expect(await importWith(send, revision)).toEqual(
          refusal(
            `'${revision}' is not a valid revision: see https://developers.klaviyo.com/en/docs/changelog_ for the published ones.`,
          ),
        );
      }
      expect(emulator.state().profiles).toEqual([]);
    });

    it('accepts every published revision, retired ones included (Klaviyo falls forward), and their betas', async () => {
      const { send } = setup();
      for (const revision of [
        ...KLAVIYO_PUBLISHED_REVISIONS,
        '2026-07-15.pre',
        '2023-01-24.pre',
        '2022-11-14.pre',
      ]) {
        const response = await send('GET', '/api/profiles', undefined, { headers: { revision } });
        expect([revision, response.status]).toEqual([revision, 200]);
      }
    });
  });

  it('answers 415 to a body that is not JSON:API or JSON, and 400 parse_error to broken JSON', async () => {
    const { send, emulator } = setup();
    const text = await send('POST', '/api/profile-import', profileBody({ email: 'a@example.com' }), {
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expect(errorOf(text).code).toBe('unsupported_media_type');
    const broken = await send('POST', '/api/profile-import', undefined, { raw: Buffer.from('{"data": ') });
    expect(broken.status).toBe(400);
    expect(errorOf(broken).code).toBe('parse_error');
    expect(emulator.state().profiles).toEqual([]);
  });

  it('answers 404 to an unknown path and 405 to a wrong method on a known one', async () => {
    const { send } = setup();
    const unknown = await send('GET', '/api/campaigns');
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown).code).toBe('not_found');
    const wrong = await send('PUT', '/api/profile-import', profileBody({ email: 'a@example.com' }));
    expect(wrong.status).toBe(405);
    expect(errorOf(wrong).code).toBe('method_not_allowed');
    expect(wrong.headers?.['allow']).toBe('POST');
  });

  it('builds Klaviyo error documents for injected faults', () => {
    const { emulator } = setup();
    const cases: Array<[number, string, string]> = [
      [401, 'not_authenticated', 'Authentication credentials were not provided.'],
      [403, 'permission_denied', 'You do not have permission to perform this action.'],
      [404, 'not_found', 'Not found.'],
      [429, 'throttled', 'Request was throttled.'],
      [500, 'error', 'A server error occurred.'],
      [503, 'error', 'A server error occurred.'],
    ];
    for (const [status, code, title] of cases) {
      const response = emulator.errorResponse(status, 'injected');
      expect(response.status).toBe(status);
      expect(response.headers).toEqual({ 'content-type': 'application/vnd.api+json' });
      expect(errorOf(response)).toMatchObject({ status, code, title, detail: 'injected' });
    }
  });

  it('counts every request in state()', async () => {
    const { send, emulator } = setup();
    await send('GET', '/api/profiles');
    await send('GET', '/api/nothing');
    expect(emulator.state().requests).toBe(2);
  });
});

describe('KlaviyoEmulator: rate limits', () => {
  it('answers 429 with Retry-After in whole seconds and the throttled body when the limiter says wait', async () => {
    const { send, limiter, emulator } = setup();
    const seen: Array<{ key: string; windows: unknown }> = [];
    limiter.rateLimit = (key, windows) => {
      seen.push({ key, windows });
      return 1_500;
    };
    const response = await send('POST', '/api/profile-import', profileBody({ email: 'a@example.com' }));
    expect(response.status).toBe(429);
    expect(response.headers?.['retry-after']).toBe('2');
    expect(errorOf(response)).toMatchObject({
      code: 'throttled',
      title: 'Request was throttled.',
      detail: 'Request was throttled. Expected available in 2 seconds.',
    });
    expect(seen).toEqual([
      {
        key: expect.stringContaining('pk_sandbox_test'),
        windows: [
          { requests: 75, perMs: 1000 },
          { requests: 750, perMs: 60_000 },
        ],
      },
    ]);
    expect(emulator.state().profiles).toEqual([]);
  });

  it('applies each endpoint’s published burst: 3/s for data privacy deletions, separately from profiles', async () => {
    const { send, clock } = setup();
    const deletion = (email: string) => ({
      data: {
        type: 'data-privacy-deletion-job',
        attributes: { profile: { data: { type: 'profile', attributes: { email } } } },
      },
    });
    for (let i = 0; i < 3; i++) {
      expect(
        (await send('POST', '/api/data-privacy-deletion-jobs', deletion(`a${i}@example.com`))).status,
      ).toBe(202);
    }
    const throttled = await send('POST', '/api/data-privacy-deletion-jobs', deletion('a3@example.com'));
    expect(throttled.status).toBe(429);
    expect(throttled.headers?.['retry-after']).toBe('1');
    expect((await send('GET', '/api/profiles')).status).toBe(200);
    clock.advance(1_000);
    expect((await send('POST', '/api/data-privacy-deletion-jobs', deletion('a3@example.com'))).status).toBe(
      202,
    );
  });

  it('enforces, per endpoint, exactly the windows of the destination’s declared budgets', async () => {
    const { send, limiter } = setup();
    const seen: Array<[string, unknown]> = [];
    limiter.rateLimit = (key, windows) => {
      seen.push([key, windows]);
      return undefined;
    };
    const concrete = (path: string) => path.replace(/\{[^}]+\}/g, 'X1');
    const endpoints = { ...KLAVIYO_ENDPOINTS, ...EMULATOR_ONLY_ENDPOINTS };
    for (const endpoint of Object.values(endpoints)) {
      await send(endpoint.method, concrete(endpoint.path), endpoint.method === 'GET' ? undefined : {});
    }
    expect(seen).toEqual(
      Object.keys(endpoints).map((name) => [
        `klaviyo:pk_sandbox_test:${name}`,
        EMULATOR_RATE_BUDGETS[name]?.windows,
      ]),
    );
    for (const [name, budget] of Object.entries(KLAVIYO_RATE_BUDGETS)) {
      expect([name, EMULATOR_RATE_BUDGETS[name]]).toEqual([name, budget]);
    }
  });

  it('counts every route against exactly one budget (no request goes uncounted or counted twice)', () => {
    const { emulator } = setup();
    const endpoints = { ...KLAVIYO_ENDPOINTS, ...EMULATOR_ONLY_ENDPOINTS };
    for (const [name, endpoint] of Object.entries(endpoints)) {
      const path = endpoint.path.replace(/\{[^}]+\}/g, 'X1');
      expect([
        name,
        emulatorRateBudgets.matching(endpoint.method, path).map((budget) => budget.name),
      ]).toEqual([name, [name]]);
      expect([name, emulator.endpointTemplate(endpoint.method, path)]).toEqual([
        name,
        endpoint.path.replace(/\{[^}]+\}/g, '{id}'),
      ]);
    }
  });

  it('uses 10/s and 150/m for bulk import jobs and list relationships', async () => {
    const { send, limiter } = setup({ lists: [{ id: 'Y6nRLr', name: 'VIP' }] });
    const windows: unknown[] = [];
    limiter.rateLimit = (_key, given) => {
      windows.push(given);
      return undefined;
    };
    await send('GET', '/api/profile-bulk-import-jobs/unknown');
    await send('POST', '/api/lists/Y6nRLr/relationships/profiles', { data: [] });
    expect(windows).toEqual([
      [
        { requests: 10, perMs: 1000 },
        { requests: 150, perMs: 60_000 },
      ],
      [
        { requests: 10, perMs: 1000 },
        { requests: 150, perMs: 60_000 },
      ],
    ]);
  });
});

describe('KlaviyoEmulator: helpers', () => {
  it('unsubscribeInEsp flips consent and bumps updated; reset forgets everything', async () => {
    const { send, emulator } = setup();
    await importProfile(send, { email: 'ada@example.com' });
    const at = '2026-08-02T10:00:00.000Z';
    const profile = emulator.unsubscribeInEsp('ADA@example.com', at);
    expect(profile?.attributes).toMatchObject({
      updated: at,
      subscriptions: { email: { marketing: { consent: 'UNSUBSCRIBED' } } },
    });
    expect(emulator.findProfile({ email: 'ada@example.com' })?.attributes.updated).toBe(at);
    expect(emulator.unsubscribeInEsp('nobody@example.com')).toBeUndefined();
    emulator.reset();
    expect(emulator.state()).toEqual({
      profiles: [],
      lists: [],
      jobs: [],
      importErrors: {},
      deletions: [],
      merges: [],
      requests: 0,
    });
  });

  it('findProfile needs every identifier given to match', async () => {
    const { send, emulator } = setup();
    await importProfile(send, { email: 'ada@example.com', external_id: 'C1', phone_number: '+33612345678' });
    expect(emulator.findProfile({ email: 'ada@example.com', externalId: 'C1' })).toBeDefined();
    expect(emulator.findProfile({ phone: '+33612345678' })).toBeDefined();
    expect(emulator.findProfile({ email: 'ada@example.com', externalId: 'C2' })).toBeUndefined();
  });
});

describe('KlaviyoEmulator: sandbox configuration and statistics', () => {
  it('configures the account’s lists and the jobs’ completion time; a reset keeps both', async () => {
    const { send, emulator, clock } = setup();
    emulator.configure({ lists: [{ id: 'VIPvip', name: 'VIP' }], jobCompletionMs: 60_000 });
    expect(emulator.configuration()).toEqual({
      lists: [{ id: 'VIPvip', name: 'VIP' }],
      jobCompletionMs: 60_000,
    });
    expect((await send('GET', '/api/lists/VIPvip')).status).toBe(200);
    emulator.reset();
    expect((await send('GET', '/api/lists/VIPvip')).status).toBe(200);
    const created = await send('POST', '/api/profile-bulk-import-jobs', {
      data: {
        type: 'profile-bulk-import-job',
        attributes: { profiles: { data: [{ type: 'profile', attributes: { email: 'a@example.com' } }] } },
      },
    });
    expect(created.status).toBe(202);
    clock.advance(59_000);
    await send('GET', '/api/profiles');
    expect(emulator.findProfile({ email: 'a@example.com' })).toBeUndefined();
    clock.advance(1_000);
    await send('GET', '/api/profiles');
    expect(emulator.findProfile({ email: 'a@example.com' })).toBeDefined();
  });

  it('refuses a bad configuration with a message naming the problem, changing nothing', () => {
    const { emulator } = setup({ lists: [{ id: 'Y6nRLr', name: 'Gold' }] });
    const cases: Array<[unknown, string]> = [
      [[], 'must be a JSON object'],
      [{ segments: [] }, 'unknown member "segments"'],
      [{ jobCompletionMs: -1 }, 'jobCompletionMs must be a non-negative integer'],
      [{ lists: {} }, 'lists must be an array of { id, name }'],
      [
        { lists: [{ id: 'gold-tier', name: 'Gold' }] },
        'lists[0].id must be six letters or digits, as Klaviyo list ids are',
      ],
      [{ lists: [{ id: 'AAAAAA', name: ' ' }] }, 'lists[0].name must be a non-empty string'],
      [
        {
          lists: [
            { id: 'AAAAAA', name: 'a' },
            { id: 'AAAAAA', name: 'b' },
          ],
        },
        'lists[1].id "AAAAAA" is listed twice',
      ],
    ];
    for (const [config, message] of cases) {
      expect(() => emulator.configure(config)).toThrow(
        new Error(`Klaviyo emulator configuration: ${message}`),
      );
    }
    expect(emulator.configuration()).toEqual({ lists: [{ id: 'Y6nRLr', name: 'Gold' }], jobCompletionMs: 0 });
  });

  it('names each endpoint by Klaviyo’s path template for the sandbox’s statistics', () => {
    const { emulator } = setup();
    expect(emulator.endpointTemplate('post', '/api/lists/Y6nRLr/relationships/profiles')).toBe(
      '/api/lists/{id}/relationships/profiles',
    );
    expect(emulator.endpointTemplate('GET', '/api/profile-bulk-import-jobs/01J0001/import-errors/')).toBe(
      '/api/profile-bulk-import-jobs/{id}/import-errors',
    );
    expect(emulator.endpointTemplate('GET', '/api/profiles')).toBe('/api/profiles');
    expect(emulator.endpointTemplate('PUT', '/api/profiles')).toBeUndefined();
    expect(emulator.endpointTemplate('GET', '/api/campaigns')).toBeUndefined();
  });
});
