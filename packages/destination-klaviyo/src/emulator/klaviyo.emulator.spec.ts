import { dataOf, errorOf, profileBody, setup, START } from './klaviyo-test-support';

type Profile = { id: string; attributes: Record<string, unknown> };

async function importProfile(send: ReturnType<typeof setup>['send'], attributes: Record<string, unknown>) {
  const response = await send('POST', '/api/profile-import', profileBody(attributes));
  expect([200, 201]).toContain(response.status);
  return dataOf<Profile>(response);
}

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

describe('KlaviyoEmulator: POST /api/profile-import', () => {
  it('creates a profile (201) with a ULID-like id, then updates it (200) merging properties', async () => {
    const { send, emulator, clock } = setup();
    const created = await send(
      'POST',
      '/api/profile-import',
      profileBody({
        email: 'Ada@Example.com',
        external_id: 'C1',
        first_name: 'Ada',
        location: { city: 'Paris', country: 'FR' },
        properties: { tier: 'gold', points: 10 },
      }),
    );
    expect(created.status).toBe(201);
    expect(created.headers?.['content-type']).toBe('application/vnd.api+json');
    const profile = dataOf<Profile>(created);
    expect(profile.id).toMatch(/^01[0-9A-HJKMNP-TV-Z]{24}$/);
    expect(profile.attributes).toMatchObject({
      email: 'ada@example.com',
      external_id: 'C1',
      first_name: 'Ada',
      created: new Date(START).toISOString(),
      properties: { tier: 'gold', points: 10 },
    });

    clock.advance(60_000);
    const updated = await send(
      'POST',
      '/api/profile-import',
      profileBody({
        external_id: 'C1',
        last_name: 'Lovelace',
        properties: { points: 20, tier: null, city: 'Paris' },
      }),
    );
    expect(updated.status).toBe(200);
    expect(dataOf<Profile>(updated).id).toBe(profile.id);
    const stored = emulator.findProfile({ externalId: 'C1' });
    expect(stored?.attributes).toMatchObject({
      email: 'ada@example.com',
      first_name: 'Ada',
      last_name: 'Lovelace',
      location: { city: 'Paris', country: 'FR' },
      properties: { points: 20, city: 'Paris' },
      updated: new Date(START + 60_000).toISOString(),
    });
    expect(stored?.attributes.properties).not.toHaveProperty('tier');
    expect(emulator.state().profiles).toHaveLength(1);
  });

  it('matches by id first, then email, phone number and external id', async () => {
    const { send, emulator } = setup();
    const a = await importProfile(send, { phone_number: '+33612345678' });
    const byPhone = await importProfile(send, { phone_number: '+33612345678', first_name: 'Pat' });
    expect(byPhone.id).toBe(a.id);
    const byId = await send('POST', '/api/profile-import', profileBody({ email: 'pat@example.com' }, a.id));
    expect(byId.status).toBe(200);
    expect(emulator.findProfile({ id: a.id })?.attributes).toMatchObject({
      email: 'pat@example.com',
      phone_number: '+33612345678',
      first_name: 'Pat',
    });
  });

  it('answers 409 duplicate_profile when the email and the external id belong to different profiles', async () => {
    const { send, emulator } = setup();
    const a = await importProfile(send, { email: 'a@example.com' });
    const b = await importProfile(send, { external_id: 'B' });
    const before = emulator.state();
    const response = await send(
      'POST',
      '/api/profile-import',
      profileBody({ email: 'a@example.com', external_id: 'B' }),
    );
    expect(response.status).toBe(409);
    expect(errorOf(response)).toMatchObject({
      code: 'duplicate_profile',
      source: { pointer: '/data/attributes' },
      meta: { duplicate_profile_id: b.id },
    });
    expect(a.id).not.toBe(b.id);
    expect(emulator.state().profiles).toEqual(before.profiles);
  });

  it.each([
    [{ email: 'not-an-email' }, '/data/attributes/email', 'email'],
    [{ email: 'a@example.com', phone_number: '0612345678' }, '/data/attributes/phone_number', 'phone'],
    [{ phone_number: '+1555' }, '/data/attributes/phone_number', 'phone'],
    [{ first_name: 'Nobody' }, '/data/attributes', 'identifier'],
    [{ email: 'a@example.com', loyalty_tier: 'gold' }, '/data/attributes/loyalty_tier', 'not a valid field'],
    [{ email: 42 }, '/data/attributes/email', 'string'],
  ])('rejects %j with 400 at %s', async (attributes, pointer, words) => {
    const { send, emulator } = setup();
    const response = await send('POST', '/api/profile-import', profileBody(attributes));
    expect(response.status).toBe(400);
    const error = errorOf(response);
    expect(error).toMatchObject({ code: 'invalid', title: 'Invalid input.', source: { pointer } });
    expect(error.detail.toLowerCase()).toContain(words);
    expect(emulator.state().profiles).toEqual([]);
  });

  it('rejects a resource of the wrong type and a missing data member', async () => {
    const { send } = setup();
    const wrongType = await send('POST', '/api/profile-import', {
      data: { type: 'list', attributes: { email: 'a@example.com' } },
    });
    expect(wrongType.status).toBe(400);
    expect(errorOf(wrongType).source).toEqual({ pointer: '/data/type' });
    const noData = await send('POST', '/api/profile-import', { profile: {} });
    expect(noData.status).toBe(400);
    expect(errorOf(noData).source.pointer).toBe('/data');
  });

  it('includes subscriptions when asked with additional-fields[profile]', async () => {
    const { send } = setup();
    const response = await send('POST', '/api/profile-import', profileBody({ email: 'a@example.com' }), {
      query: { 'additional-fields[profile]': 'subscriptions' },
    });
    expect(dataOf<Profile>(response).attributes['subscriptions']).toMatchObject({
      email: {
        marketing: { consent: 'NEVER_SUBSCRIBED', can_receive_email_marketing: false, suppression: [] },
      },
    });
  });
});

describe('KlaviyoEmulator: profiles by id and PATCH', () => {
  it('reads a profile by id and answers 404 for an unknown one', async () => {
    const { send } = setup();
    const a = await importProfile(send, { email: 'a@example.com' });
    const found = await send('GET', `/api/profiles/${a.id}/`);
    expect(found.status).toBe(200);
    expect(dataOf<Profile>(found).attributes['email']).toBe('a@example.com');
    const missing = await send('GET', '/api/profiles/01P00000000000000000000999');
    expect(missing.status).toBe(404);
    expect(errorOf(missing).code).toBe('not_found');
  });

  it('updates a profile with PATCH and refuses a body whose id differs from the path', async () => {
    const { send, emulator } = setup();
    const a = await importProfile(send, { email: 'a@example.com' });
    const patched = await send('PATCH', `/api/profiles/${a.id}`, profileBody({ first_name: 'Ada' }, a.id));
    expect(patched.status).toBe(200);
    expect(emulator.findProfile({ id: a.id })?.attributes['first_name']).toBe('Ada');

    const before = emulator.state().profiles;
    const mismatch = await send(
      'PATCH',
      `/api/profiles/${a.id}`,
      profileBody({ first_name: 'Bob' }, 'OTHER'),
    );
    expect(mismatch.status).toBe(409);
    expect(errorOf(mismatch).source).toEqual({ pointer: '/data/id' });
    const noId = await send('PATCH', `/api/profiles/${a.id}`, profileBody({ first_name: 'Bob' }));
    expect(noId.status).toBe(400);
    expect(errorOf(noId)).toMatchObject({ source: { pointer: '/data/id' } });
    const badEmail = await send('PATCH', `/api/profiles/${a.id}`, profileBody({ email: 'nope' }, a.id));
    expect(badEmail.status).toBe(400);
    expect(errorOf(badEmail).source).toEqual({ pointer: '/data/attributes/email' });
    expect(emulator.state().profiles).toEqual(before);
    const unknown = await send('PATCH', '/api/profiles/NOPE', profileBody({ first_name: 'Bob' }, 'NOPE'));
    expect(unknown.status).toBe(404);
  });
});

describe('KlaviyoEmulator: GET /api/profiles', () => {
  async function seed() {
    const context = setup();
    for (let i = 1; i <= 5; i++) {
      await importProfile(context.send, { email: `m${i}@example.com`, external_id: `C${i}` });
      context.clock.advance(60_000);
    }
    return context;
  }

  const emailsOf = (response: { body?: unknown }) =>
    (response.body as { data: Profile[] }).data.map((profile) => profile.attributes['email']);

  it('filters with equals, any, greater-than and and(), comma-combined too', async () => {
    const { send } = await seed();
    const get = (filter: string) => send('GET', '/api/profiles', undefined, { query: { filter } });
    expect(emailsOf(await get("equals(email,'M2@example.com')"))).toEqual(['m2@example.com']);
    expect(emailsOf(await get(`any(external_id,["C1","C4"])`))).toEqual(['m1@example.com', 'm4@example.com']);
    expect(emailsOf(await get('greater-than(updated,2026-08-01T00:02:30Z)'))).toEqual([
      'm4@example.com',
      'm5@example.com',
    ]);
    expect(
      emailsOf(
        await get('and(greater-than(created,2026-08-01T00:00:30Z),less-than(created,2026-08-01T00:02:30Z))'),
      ),
    ).toEqual(['m2@example.com', 'm3@example.com']);
    expect(
      emailsOf(await get("greater-than(created,2026-08-01T00:00:30Z),equals(external_id,'C5')")),
    ).toEqual(['m5@example.com']);
  });

  it.each([
    "equals(email,'a'",
    "contains(email,'a')",
    "equals(first_name,'Ada')",
    'greater-than(updated,yesterday)',
    "any(email,'a')",
  ])('answers 400 with source.parameter filter to %s', async (filter) => {
    const { send } = await seed();
    const response = await send('GET', '/api/profiles', undefined, { query: { filter } });
    expect(response.status).toBe(400);
    expect(errorOf(response)).toMatchObject({ code: 'invalid', source: { parameter: 'filter' } });
  });

  it('pages by id with page[size] and opaque cursors in links.next and links.prev', async () => {
    const { send } = await seed();
    const first = await send('GET', '/api/profiles', undefined, { query: { 'page[size]': '2' } });
    expect(emailsOf(first)).toEqual(['m1@example.com', 'm2@example.com']);
    const links = (first.body as { links: { self: string; next: string | null; prev: string | null } }).links;
    expect(links.prev).toBeNull();
    expect(links.next).toContain('page%5Bcursor%5D=');
    const next = new URL(links.next ?? '', 'http://sandbox.invalid');
    const second = await send('GET', '/api/profiles', undefined, {
      query: Object.fromEntries(next.searchParams.entries()),
    });
    expect(emailsOf(second)).toEqual(['m3@example.com', 'm4@example.com']);
    const third = await send('GET', '/api/profiles', undefined, {
      query: Object.fromEntries(
        new URL(
          (second.body as { links: { next: string } }).links.next,
          'http://x.invalid',
        ).searchParams.entries(),
      ),
    });
    expect(emailsOf(third)).toEqual(['m5@example.com']);
    expect((third.body as { links: { next: string | null; prev: string | null } }).links).toMatchObject({
      next: null,
      prev: expect.stringContaining('page%5Bcursor%5D='),
    });
  });

  it('rejects a page size outside 1..100 and a forged cursor', async () => {
    const { send } = await seed();
    for (const size of ['0', '101', 'ten']) {
      const response = await send('GET', '/api/profiles', undefined, { query: { 'page[size]': size } });
      expect(response.status).toBe(400);
      expect(errorOf(response).source).toEqual({ parameter: 'page[size]' });
    }
    const forged = await send('GET', '/api/profiles', undefined, { query: { 'page[cursor]': 'bm9wZQ' } });
    expect(forged.status).toBe(400);
    expect(errorOf(forged).source).toEqual({ parameter: 'page[cursor]' });
  });

  it('includes subscriptions only with additional-fields[profile]=subscriptions', async () => {
    const { send } = await seed();
    const plain = await send('GET', '/api/profiles', undefined, { query: { 'page[size]': '1' } });
    expect((plain.body as { data: Profile[] }).data[0]?.attributes).not.toHaveProperty('subscriptions');
    const rich = await send('GET', '/api/profiles', undefined, {
      query: { 'page[size]': '1', 'additional-fields[profile]': 'subscriptions' },
    });
    expect((rich.body as { data: Profile[] }).data[0]?.attributes).toHaveProperty(
      'subscriptions.email.marketing.consent',
      'NEVER_SUBSCRIBED',
    );
  });
});

describe('KlaviyoEmulator: lists', () => {
  it('creates a list with a six-character id and reads it back; seeds lists from the options', async () => {
    const { send, emulator } = setup({ lists: [{ id: 'Y6nRLr', name: 'Seeded' }] });
    const created = await send('POST', '/api/lists', { data: { type: 'list', attributes: { name: 'VIP' } } });
    expect(created.status).toBe(201);
    const id = dataOf<{ id: string }>(created).id;
    expect(id).toMatch(/^[A-Za-z0-9]{6}$/);
    const read = await send('GET', `/api/lists/${id}`);
    expect(read.status).toBe(200);
    expect(dataOf<{ attributes: { name: string } }>(read).attributes.name).toBe('VIP');
    expect((await send('GET', '/api/lists/nope00')).status).toBe(404);
    expect(emulator.state().lists).toEqual([
      { id: 'Y6nRLr', name: 'Seeded', profileIds: [] },
      { id, name: 'VIP', profileIds: [] },
    ]);
    emulator.reset();
    expect(emulator.state().lists).toEqual([{ id: 'Y6nRLr', name: 'Seeded', profileIds: [] }]);
  });

  it('refuses a list without a name', async () => {
    const { send, emulator } = setup();
    const response = await send('POST', '/api/lists', { data: { type: 'list', attributes: {} } });
    expect(response.status).toBe(400);
    expect(errorOf(response).source).toEqual({ pointer: '/data/attributes/name' });
    expect(emulator.state().lists).toEqual([]);
  });

  it('adds profiles idempotently and removes them (204, no body)', async () => {
    const { send, emulator } = setup({ lists: [{ id: 'Y6nRLr', name: 'VIP' }] });
    const a = await importProfile(send, { email: 'a@example.com' });
    const b = await importProfile(send, { email: 'b@example.com' });
    const members = { data: [a, b].map((profile) => ({ type: 'profile', id: profile.id })) };
    const added = await send('POST', '/api/lists/Y6nRLr/relationships/profiles', members);
    expect(added).toEqual({ status: 204 });
    await send('POST', '/api/lists/Y6nRLr/relationships/profiles', members);
    expect(emulator.state().lists[0]?.profileIds).toEqual([a.id, b.id]);
    const removed = await send('DELETE', '/api/lists/Y6nRLr/relationships/profiles', {
      data: [{ type: 'profile', id: a.id }],
    });
    expect(removed.status).toBe(204);
    expect(emulator.state().lists[0]?.profileIds).toEqual([b.id]);
  });

  it('rejects an unknown list (404), an unknown profile (400 at /data/i/id), 0 or 1,001 items (400)', async () => {
    const { send, emulator } = setup({ lists: [{ id: 'Y6nRLr', name: 'VIP' }] });
    const a = await importProfile(send, { email: 'a@example.com' });
    const path = '/api/lists/Y6nRLr/relationships/profiles';
    const unknownList = await send('POST', '/api/lists/ZZZZZZ/relationships/profiles', {
      data: [{ type: 'profile', id: a.id }],
    });
    expect(unknownList.status).toBe(404);
    const unknownProfile = await send('POST', path, {
      data: [
        { type: 'profile', id: a.id },
        { type: 'profile', id: 'NOPE' },
      ],
    });
    expect(unknownProfile.status).toBe(400);
    expect(errorOf(unknownProfile).source).toEqual({ pointer: '/data/1/id' });
    const empty = await send('POST', path, { data: [] });
    expect(empty.status).toBe(400);
    const tooMany = await send('POST', path, {
      data: Array.from({ length: 1_001 }, () => ({ type: 'profile', id: a.id })),
    });
    expect(tooMany.status).toBe(400);
    expect(errorOf(tooMany)).toMatchObject({ source: { pointer: '/data' } });
    expect(errorOf(tooMany).detail).toContain('1000');
    const wrongType = await send('POST', path, { data: [{ type: 'list', id: a.id }] });
    expect(wrongType.status).toBe(400);
    expect(errorOf(wrongType).source).toEqual({ pointer: '/data/0/type' });
    expect(emulator.state().lists[0]?.profileIds).toEqual([]);
  });
});

describe('KlaviyoEmulator: subscriptions and suppressions', () => {
  const subscribeBody = (profiles: unknown[], listId?: string, historical?: boolean) => ({
    data: {
      type: 'profile-subscription-bulk-create-job',
      attributes: {
        profiles: { data: profiles },
        ...(historical === undefined ? {} : { historical_import: historical }),
      },
      ...(listId === undefined ? {} : { relationships: { list: { data: { type: 'list', id: listId } } } }),
    },
  });
  const subscriber = (attributes: Record<string, unknown>, channels: Record<string, unknown>) => ({
    type: 'profile',
    attributes: { ...attributes, subscriptions: channels },
  });
  const emailMarketing = { email: { marketing: { consent: 'SUBSCRIBED' } } };

  it('subscribes (creating the profile), adds to the list, and records consent for email and sms', async () => {
    const { send, emulator, clock } = setup({ lists: [{ id: 'Y6nRLr', name: 'VIP' }] });
    clock.advance(1_000);
    const response = await send(
      'POST',
      '/api/profile-subscription-bulk-create-jobs',
      subscribeBody(
        [
          subscriber(
            { email: 'ada@example.com', phone_number: '+33612345678' },
            { ...emailMarketing, sms: { marketing: { consent: 'SUBSCRIBED' } } },
          ),
        ],
        'Y6nRLr',
      ),
    );
    expect(response).toEqual({ status: 202 });
    const profile = emulator.findProfile({ email: 'ada@example.com' });
    const at = new Date(START + 1_000).toISOString();
    expect(profile?.attributes.subscriptions).toEqual({
      email: { marketing: { consent: 'SUBSCRIBED', consented_at: at, last_updated: at, suppression: [] } },
      sms: { marketing: { consent: 'SUBSCRIBED', consented_at: at, last_updated: at, suppression: [] } },
    });
    expect(profile?.attributes.phone_number).toBe('+33612345678');
    expect(emulator.state().lists[0]?.profileIds).toEqual([profile?.id]);
  });

  it('refuses the whole request when one entry is wrong, and over 1,000 profiles', async () => {
    const { send, emulator } = setup();
    const cases: Array<[unknown, string]> = [
      [
        subscribeBody([
          subscriber({ email: 'ok@example.com' }, emailMarketing),
          subscriber({ phone_number: '+33612345678' }, emailMarketing),
        ]),
        '/data/attributes/profiles/data/1/attributes/email',
      ],
      [
        subscribeBody([
          subscriber({ email: 'ok@example.com' }, { email: { marketing: { consent: 'UNSUBSCRIBED' } } }),
        ]),
        '/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consent',
      ],
      [
        subscribeBody([subscriber({ email: 'ok@example.com' }, emailMarketing)], undefined, true),
        '/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consented_at',
      ],
      [
        subscribeBody(
          Array.from({ length: 1_001 }, (_, i) => subscriber({ email: `m${i}@example.com` }, emailMarketing)),
        ),
        '/data/attributes/profiles/data',
      ],
    ];
    for (const [body, pointer] of cases) {
      const response = await send('POST', '/api/profile-subscription-bulk-create-jobs', body);
      expect(response.status).toBe(400);
      expect(errorOf(response)).toMatchObject({ code: 'invalid', source: { pointer } });
    }
    expect(emulator.state().profiles).toEqual([]);
    const unknownList = await send(
      'POST',
      '/api/profile-subscription-bulk-create-jobs',
      subscribeBody([subscriber({ email: 'ok@example.com' }, emailMarketing)], 'NOLIST'),
    );
    expect(unknownList.status).toBe(404);
  });

  it('unsubscribes (≤ 100): consent UNSUBSCRIBED, no suppression entry, a newer updated', async () => {
    const { send, emulator, clock } = setup();
    await send(
      'POST',
      '/api/profile-subscription-bulk-create-jobs',
      subscribeBody([subscriber({ email: 'ada@example.com' }, emailMarketing)]),
    );
    clock.advance(5_000);
    const body = (count: number) => ({
      data: {
        type: 'profile-subscription-bulk-delete-job',
        attributes: {
          profiles: {
            data: Array.from({ length: count }, (_, i) => ({
              type: 'profile',
              attributes: {
                email: i === 0 ? 'ada@example.com' : `m${i}@example.com`,
                subscriptions: { email: { marketing: { consent: 'UNSUBSCRIBED' } } },
              },
            })),
          },
        },
      },
    });
    const tooMany = await send('POST', '/api/profile-subscription-bulk-delete-jobs', body(101));
    expect(tooMany.status).toBe(400);
    expect(errorOf(tooMany).source).toEqual({ pointer: '/data/attributes/profiles/data' });
    expect(
      emulator.findProfile({ email: 'ada@example.com' })?.attributes.subscriptions.email.marketing.consent,
    ).toBe('SUBSCRIBED');
    expect((await send('POST', '/api/profile-subscription-bulk-delete-jobs', body(1))).status).toBe(202);
    const at = new Date(START + 5_000).toISOString();
    expect(emulator.findProfile({ email: 'ada@example.com' })?.attributes).toMatchObject({
      updated: at,
      subscriptions: {
        email: {
          marketing: { consent: 'UNSUBSCRIBED', last_updated: at, suppression: [] },
        },
      },
    });
  });

  it('suppresses and unsuppresses by email (≤ 100), touching only USER_SUPPRESSED', async () => {
    const { send, emulator, clock } = setup();
    await importProfile(send, { email: 'ada@example.com' });
    const body = (type: string, emails: string[]) => ({
      data: {
        type,
        attributes: {
          profiles: { data: emails.map((email) => ({ type: 'profile', attributes: { email } })) },
        },
      },
    });
    clock.advance(1_000);
    const suppressed = await send(
      'POST',
      '/api/profile-suppression-bulk-create-jobs',
      body('profile-suppression-bulk-create-job', ['ada@example.com']),
    );
    expect(suppressed.status).toBe(202);
    expect(dataOf(suppressed)).toMatchObject({
      type: 'profile-suppression-bulk-create-job',
      attributes: { status: 'complete', total_count: 1, completed_count: 1, skipped_count: 0 },
    });
    const at = new Date(START + 1_000).toISOString();
    expect(emulator.findProfile({ email: 'ada@example.com' })?.attributes).toMatchObject({
      updated: at,
      subscriptions: {
        email: { marketing: { suppression: [{ reason: 'USER_SUPPRESSED', timestamp: at }] } },
      },
    });

    const tooMany = await send(
      'POST',
      '/api/profile-suppression-bulk-create-jobs',
      body(
        'profile-suppression-bulk-create-job',
        Array.from({ length: 101 }, (_, i) => `m${i}@example.com`),
      ),
    );
    expect(tooMany.status).toBe(400);
    expect(errorOf(tooMany).detail).toContain('100');
    const noEmail = await send('POST', '/api/profile-suppression-bulk-create-jobs', {
      data: {
        type: 'profile-suppression-bulk-create-job',
        attributes: {
          profiles: { data: [{ type: 'profile', attributes: { phone_number: '+33612345678' } }] },
        },
      },
    });
    expect(noEmail.status).toBe(400);
    expect(errorOf(noEmail).source.pointer).toMatch(
      /^\/data\/attributes\/profiles\/data\/0\/attributes\/(email|phone_number)$/,
    );
    expect(emulator.state().profiles).toHaveLength(1);

    const unsuppressed = await send(
      'POST',
      '/api/profile-suppression-bulk-delete-jobs',
      body('profile-suppression-bulk-delete-job', ['ada@example.com']),
    );
    expect(unsuppressed.status).toBe(202);
    expect(
      emulator.findProfile({ email: 'ada@example.com' })?.attributes.subscriptions.email.marketing
        .suppression,
    ).toEqual([]);
  });
});

describe('KlaviyoEmulator: data privacy deletion', () => {
  const deletion = (data: Record<string, unknown>) => ({
    data: {
      type: 'data-privacy-deletion-job',
      attributes: { profile: { data: { type: 'profile', ...data } } },
    },
  });

  it('deletes the profile and its list memberships, and remembers the request; unknown is still 202', async () => {
    const { send, emulator } = setup({ lists: [{ id: 'Y6nRLr', name: 'VIP' }] });
    const a = await importProfile(send, { email: 'a@example.com', external_id: 'C1' });
    await send('POST', '/api/lists/Y6nRLr/relationships/profiles', { data: [{ type: 'profile', id: a.id }] });
    const response = await send(
      'POST',
      '/api/data-privacy-deletion-jobs',
      deletion({ attributes: { email: 'a@example.com' } }),
    );
    expect(response).toEqual({ status: 202 });
    expect(emulator.findProfile({ externalId: 'C1' })).toBeUndefined();
    expect(emulator.state().lists[0]?.profileIds).toEqual([]);
    const unknown = await send(
      'POST',
      '/api/data-privacy-deletion-jobs',
      deletion({ id: 'NOPE', attributes: {} }),
    );
    expect(unknown.status).toBe(202);
    expect(emulator.state().deletions).toEqual([
      {
        identifier: { email: 'a@example.com' },
        profile_ids: [a.id],
        requested_at: new Date(START).toISOString(),
      },
      { identifier: { id: 'NOPE' }, profile_ids: [], requested_at: new Date(START).toISOString() },
    ]);
  });

  it('needs exactly one identifier, in the places the spec puts them', async () => {
    const { send, emulator } = setup();
    await importProfile(send, { email: 'a@example.com' });
    const two = await send(
      'POST',
      '/api/data-privacy-deletion-jobs',
      deletion({ attributes: { email: 'a@example.com', phone_number: '+33612345678' } }),
    );
    expect(two.status).toBe(400);
    expect(errorOf(two).source).toEqual({ pointer: '/data/attributes/profile/data' });
    const none = await send('POST', '/api/data-privacy-deletion-jobs', deletion({ attributes: {} }));
    expect(none.status).toBe(400);
    const idInAttributes = await send(
      'POST',
      '/api/data-privacy-deletion-jobs',
      deletion({ attributes: { id: 'X' } }),
    );
    expect(idInAttributes.status).toBe(400);
    expect(errorOf(idInAttributes).source).toEqual({
      pointer: '/data/attributes/profile/data/attributes/id',
    });
    expect(emulator.state().profiles).toHaveLength(1);
    expect(emulator.state().deletions).toEqual([]);
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
