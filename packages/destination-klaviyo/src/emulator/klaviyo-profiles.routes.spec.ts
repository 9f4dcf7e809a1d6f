import {
  dataOf,
  errorOf,
  importProfile,
  profileBody,
  setup,
  START,
  type Profile,
} from './klaviyo-test-support';

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

  it('refuses a body over 100 KB with 413 (profile-import and PATCH), writing nothing', async () => {
    const { send, emulator } = setup();
    const raw = Buffer.from(
      JSON.stringify(
        profileBody({ email: 'a@example.com', properties: { padding: 'x'.repeat(100 * 1024) } }),
      ),
    );
    const expected = {
      status: 413,
      headers: { 'content-type': 'application/vnd.api+json' },
      body: {
        errors: [
          {
            id: expect.stringMatching(/^[0-9a-f-]{36}$/),
            status: 413,
            code: 'request_too_large',
            title: 'Request entity too large.',
            detail: `The request body is ${raw.length} bytes; the maximum allowed payload size is 102400 bytes.`,
            source: {},
            links: {},
            meta: {},
          },
        ],
      },
    };
    expect(await send('POST', '/api/profile-import', undefined, { raw })).toEqual(expected);
    expect(emulator.state().profiles).toEqual([]);
    const a = await importProfile(send, { email: 'a@example.com' });
    const patch = Buffer.from(JSON.stringify(profileBody({ first_name: 'x'.repeat(100 * 1024) }, a.id)));
    expect(await send('PATCH', `/api/profiles/${a.id}`, undefined, { raw: patch })).toEqual({
      ...expected,
      body: {
        errors: [
          {
            ...expected.body.errors[0],
            detail: `The request body is ${patch.length} bytes; the maximum allowed payload size is 102400 bytes.`,
          },
        ],
      },
    });
    expect(emulator.findProfile({ id: a.id })?.attributes.first_name).toBeNull();
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

  it('keeps only the attributes of a sparse fieldset, and refuses a field profiles do not have', async () => {
    const { send } = await seed();
    const sparse = await send('GET', '/api/profiles', undefined, {
      query: { 'page[size]': '1', 'fields[profile]': 'email,external_id' },
    });
    expect((sparse.body as { data: Profile[] }).data[0]?.attributes).toEqual({
      email: 'm1@example.com',
      external_id: 'C1',
    });
    const wrong = await send('GET', '/api/profiles', undefined, {
      query: { 'fields[profile]': 'email,tier' },
    });
    expect(wrong.status).toBe(400);
    expect(errorOf(wrong)).toMatchObject({
      code: 'invalid',
      detail: "'tier' is not a valid field for the resource 'profile'.",
      source: { parameter: 'fields[profile]' },
    });
  });
});
