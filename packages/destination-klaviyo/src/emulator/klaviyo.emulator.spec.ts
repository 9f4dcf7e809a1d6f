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

  it('needs a revision header of the form YYYY-MM-DD[.pre|.beta]', async () => {
    const { send } = setup();
    const missing = await send('GET', '/api/profiles', undefined, { headers: { revision: undefined } });
    expect(missing.status).toBe(400);
    expect(errorOf(missing)).toMatchObject({ code: 'invalid', source: { parameter: 'revision' } });
    expect(errorOf(missing).detail).toContain('revision');
    const bad = await send('GET', '/api/profiles', undefined, { headers: { revision: 'v3' } });
    expect(bad.status).toBe(400);
    expect(
      (await send('GET', '/api/profiles', undefined, { headers: { revision: '2026-07-15.pre' } })).status,
    ).toBe(200);
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
