import { dataOf, errorOf, setup, START } from './klaviyo-test-support';

type Job = {
  id: string;
  attributes: {
    status: string;
    total_count: number;
    completed_count: number;
    failed_count: number;
    completed_at: string | null;
  };
  relationships: { lists: { data: Array<{ id: string }> } };
};

const importBody = (profiles: Array<Record<string, unknown>>, listIds: string[] = []) => ({
  data: {
    type: 'profile-bulk-import-job',
    attributes: { profiles: { data: profiles.map((attributes) => ({ type: 'profile', attributes })) } },
    ...(listIds.length === 0
      ? {}
      : { relationships: { lists: { data: listIds.map((id) => ({ type: 'list', id })) } } }),
  },
});

describe('KlaviyoEmulator: profile bulk import jobs', () => {
  it('queues a job (202), reports processing until jobCompletionMs has passed, then applies it', async () => {
    const { send, emulator, clock } = setup({
      jobCompletionMs: 60_000,
      lists: [{ id: 'Y6nRLr', name: 'VIP' }],
    });
    const created = await send(
      'POST',
      '/api/profile-bulk-import-jobs',
      importBody(
        [
          { email: 'a@example.com', external_id: 'C1', properties: { tier: 'gold' } },
          { email: 'broken' },
          { first_name: 'No identifier' },
          { phone_number: '+33612345678' },
        ],
        ['Y6nRLr'],
      ),
    );
    expect(created.status).toBe(202);
    const job = dataOf<Job>(created);
    expect(job.id).toMatch(/^01[0-9A-HJKMNP-TV-Z]{24}$/);
    expect(job.attributes).toMatchObject({
      status: 'queued',
      total_count: 4,
      completed_count: 0,
      failed_count: 0,
      completed_at: null,
      created_at: new Date(START).toISOString(),
    });
    expect(job.relationships.lists.data).toEqual([{ type: 'list', id: 'Y6nRLr' }]);

    clock.advance(30_000);
    const early = await send('GET', `/api/profile-bulk-import-jobs/${job.id}`);
    expect(dataOf<Job>(early).attributes.status).toBe('processing');
    expect(emulator.state().profiles).toEqual([]);

    clock.advance(30_000);
    const done = await send('GET', `/api/profile-bulk-import-jobs/${job.id}/`);
    expect(dataOf<Job>(done).attributes).toMatchObject({
      status: 'complete',
      completed_count: 2,
      failed_count: 2,
      completed_at: new Date(START + 60_000).toISOString(),
    });
    const a = emulator.findProfile({ externalId: 'C1' });
    const phone = emulator.findProfile({ phone: '+33612345678' });
    expect(a?.attributes.properties).toEqual({ tier: 'gold' });
    expect(emulator.state().lists[0]?.profileIds).toEqual([a?.id, phone?.id]);
    expect(emulator.state().jobs[0]).toMatchObject({
      id: job.id,
      status: 'complete',
      profile_ids: [a?.id, phone?.id],
    });
  });

  it('lists import errors with Klaviyo’s pointers and the original payload, paginated by cursor', async () => {
    const { send } = setup();
    const profiles = Array.from({ length: 5 }, (_, i) => ({ email: `bad-${i}` }));
    const created = await send(
      'POST',
      '/api/profile-bulk-import-jobs',
      importBody([{ email: 'ok@example.com' }, ...profiles]),
    );
    const jobId = dataOf<Job>(created).id;
    const path = `/api/profile-bulk-import-jobs/${jobId}/import-errors`;

    const first = await send('GET', path, undefined, { query: { 'page[size]': '2' } });
    expect(first.status).toBe(200);
    const page = first.body as {
      data: Array<{ type: string; id: string; attributes: Record<string, unknown> }>;
      links: { self: string; next: string | null };
    };
    expect(page.data).toHaveLength(2);
    expect(page.data[0]).toMatchObject({
      type: 'import-error',
      attributes: {
        code: 'invalid',
        title: 'Invalid input.',
        detail: expect.stringContaining('email'),
        source: { pointer: '/data/attributes/profiles/data/1/attributes/email' },
        original_payload: { type: 'profile', attributes: { email: 'bad-0' } },
      },
    });
    expect(page.links.next).toContain(`${path}?`);

    const seen = [...page.data];
    let next = page.links.next;
    while (next !== null) {
      const query = Object.fromEntries(new URL(next, 'http://sandbox.invalid').searchParams.entries());
      const response = await send('GET', path, undefined, { query });
      const body = response.body as typeof page;
      seen.push(...body.data);
      next = body.links.next;
    }
    expect(seen.map((error) => error.attributes['original_payload'])).toEqual(
      profiles.map((attributes) => ({ type: 'profile', attributes })),
    );
    expect(new Set(seen.map((error) => error.id)).size).toBe(5);

    const tooBig = await send('GET', path, undefined, { query: { 'page[size]': '101' } });
    expect(tooBig.status).toBe(400);
    expect((await send('GET', '/api/profile-bulk-import-jobs/NOPE/import-errors')).status).toBe(404);
    expect((await send('GET', '/api/profile-bulk-import-jobs/NOPE')).status).toBe(404);
  });

  it('turns a duplicate conflict inside a job into an import error, not a failed job', async () => {
    const { send, emulator } = setup();
    await send('POST', '/api/profile-import', {
      data: { type: 'profile', attributes: { email: 'a@example.com' } },
    });
    await send('POST', '/api/profile-import', {
      data: { type: 'profile', attributes: { external_id: 'B' } },
    });
    const created = await send(
      'POST',
      '/api/profile-bulk-import-jobs',
      importBody([{ email: 'a@example.com', external_id: 'B' }]),
    );
    const job = await send('GET', `/api/profile-bulk-import-jobs/${dataOf<Job>(created).id}`);
    expect(dataOf<Job>(job).attributes).toMatchObject({
      status: 'complete',
      failed_count: 1,
      completed_count: 0,
    });
    expect(Object.values(emulator.state().importErrors)[0]).toEqual([
      expect.objectContaining({
        attributes: expect.objectContaining({
          code: 'duplicate_profile',
          source: { pointer: '/data/attributes/profiles/data/0/attributes' },
        }),
      }),
    ]);
  });

  it('refuses 10,001 profiles (400 naming the limit) without creating a job', async () => {
    const { send, emulator } = setup();
    const profiles = Array.from({ length: 10_001 }, (_, i) => ({ email: `m${i}@example.com` }));
    const response = await send('POST', '/api/profile-bulk-import-jobs', importBody(profiles));
    expect(response.status).toBe(400);
    const error = errorOf(response);
    expect(error).toMatchObject({ code: 'invalid', source: { pointer: '/data/attributes/profiles/data' } });
    expect(error.detail).toContain('10000');
    expect(emulator.state().jobs).toEqual([]);
    const atLimit = await send(
      'POST',
      '/api/profile-bulk-import-jobs',
      importBody(profiles.slice(0, 10_000)),
    );
    expect(atLimit.status).toBe(202);
  });

  const tooLarge = (detail: string, source: Record<string, string> = {}) => ({
    status: 413,
    headers: { 'content-type': 'application/vnd.api+json' },
    body: {
      errors: [
        {
          id: expect.stringMatching(/^[0-9a-f-]{36}$/),
          status: 413,
          code: 'request_too_large',
          title: 'Request entity too large.',
          detail,
          source,
          links: {},
          meta: {},
        },
      ],
    },
  });

  it('refuses a body over 5 MB with 413 in Klaviyo’s error shape, and declares that limit to the sandbox', async () => {
    const { send, emulator } = setup();
    expect(emulator.maxBodyBytes).toBe(5 * 1024 * 1024);
    const raw = Buffer.from(
      JSON.stringify(
        importBody([{ email: 'a@example.com', properties: { padding: 'x'.repeat(5 * 1024 * 1024) } }]),
      ),
    );
    const response = await send('POST', '/api/profile-bulk-import-jobs', undefined, { raw });
    expect(response).toEqual(
      tooLarge(`The request body is ${raw.length} bytes; the maximum allowed payload size is 5242880 bytes.`),
    );
    expect(emulator.state().jobs).toEqual([]);
    // What the sandbox answers for a body over maxBodyBytes, before the emulator sees it.
    expect(emulator.errorResponse(413, 'The request body is 6000000 bytes.')).toEqual(
      tooLarge('The request body is 6000000 bytes.'),
    );
  });

  it('refuses a job with one profile over 100 KB (413 pointing at it), creating nothing', async () => {
    const { send, emulator } = setup();
    const big = { email: 'big@example.com', properties: { padding: 'x'.repeat(100 * 1024) } };
    const bytes = Buffer.byteLength(JSON.stringify({ type: 'profile', attributes: big }));
    const response = await send(
      'POST',
      '/api/profile-bulk-import-jobs',
      importBody([{ email: 'a@example.com' }, big]),
    );
    expect(response).toEqual(
      tooLarge(
        `The maximum allowed payload size per-profile is 102400 bytes; this profile is ${bytes} bytes.`,
        { pointer: '/data/attributes/profiles/data/1' },
      ),
    );
    expect(emulator.state().jobs).toEqual([]);
    const justUnder = {
      email: 'big@example.com',
      properties: { padding: 'x'.repeat(100 * 1024 - (bytes - 100 * 1024) - 1) },
    };
    expect(Buffer.byteLength(JSON.stringify({ type: 'profile', attributes: justUnder }))).toBe(102_399);
    expect((await send('POST', '/api/profile-bulk-import-jobs', importBody([justUnder]))).status).toBe(202);
  });

  it('refuses an unknown attribute, a wrong job type and an unknown list (400), state unchanged', async () => {
    const { send, emulator } = setup();
    const unknownAttribute = await send(
      'POST',
      '/api/profile-bulk-import-jobs',
      importBody([{ email: 'a@example.com', tier: 'gold' }]),
    );
    expect(unknownAttribute.status).toBe(400);
    expect(errorOf(unknownAttribute).source).toEqual({
      pointer: '/data/attributes/profiles/data/0/attributes/tier',
    });
    const wrongType = await send('POST', '/api/profile-bulk-import-jobs', {
      data: { ...importBody([{ email: 'a@example.com' }]).data, type: 'profile-import-job' },
    });
    expect(wrongType.status).toBe(400);
    expect(errorOf(wrongType).source).toEqual({ pointer: '/data/type' });
    const unknownList = await send(
      'POST',
      '/api/profile-bulk-import-jobs',
      importBody([{ email: 'a@example.com' }], ['NOLIST']),
    );
    expect(unknownList.status).toBe(400);
    expect(errorOf(unknownList).source).toEqual({ pointer: '/data/relationships/lists/data/0/id' });
    expect(emulator.state().jobs).toEqual([]);
    expect(emulator.state().profiles).toEqual([]);
  });

  it('completeJobs applies pending jobs at once', async () => {
    const { send, emulator } = setup({ jobCompletionMs: 3_600_000 });
    await send('POST', '/api/profile-bulk-import-jobs', importBody([{ email: 'a@example.com' }]));
    expect(emulator.findProfile({ email: 'a@example.com' })).toBeUndefined();
    emulator.completeJobs();
    expect(emulator.findProfile({ email: 'a@example.com' })).toBeDefined();
    expect(emulator.state().jobs[0]?.status).toBe('complete');
  });
});
