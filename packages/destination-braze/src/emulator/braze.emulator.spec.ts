import { EspSandbox, ManualClock, type SandboxResponse } from '@tessera/destination-kit';
import { BrazeEmulator } from './braze.emulator';

const headers = { authorization: 'Bearer test-key', 'content-type': 'application/json' };

const post = (
  path: string,
  body: unknown,
  sent: Record<string, string> = headers,
): [string, string, Record<string, string>, Buffer] => [
  'POST',
  `/braze${path}`,
  sent,
  Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
];

const attributes = (count: number) =>
  Array.from({ length: count }, (_, index) => ({ external_id: `C${index + 1}`, tier: 'gold' }));

describe('BrazeEmulator', () => {
  let emulator: BrazeEmulator;
  let sandbox: EspSandbox;
  let clock: ManualClock;

  beforeEach(() => {
    emulator = new BrazeEmulator({ apiKey: 'test-key' });
    clock = new ManualClock(Date.parse('2026-03-10T12:00:00Z'));
    // Limits enforced (not lifted): the emulator's rate limit is under test.
    sandbox = new EspSandbox([emulator], { clock });
  });

  it.each([
    [
      'no Authorization header',
      { 'content-type': 'application/json' },
      'Invalid API key: missing Bearer token',
    ],
    ['a wrong key', { ...headers, authorization: 'Bearer nope-key' }, 'Invalid API key: nope…'],
  ])("refuses %s with 401 in Braze's { message } shape", async (_case, sent, message) => {
    const response = await sandbox.handle(...post('/users/track', { attributes: attributes(1) }, sent));

    expect(response).toMatchObject({ status: 401, body: { message } });
    expect(emulator.state().users).toEqual([]);
  });

  it.each([
    ['not JSON', '{', 'Received unparsable JSON body'],
    [
      'attributes that are not an array',
      { attributes: { external_id: 'C1' } },
      "'attributes' must be an array",
    ],
    ['nothing to track', { users: [] }, "Request must contain 'attributes', 'events' or 'purchases'"],
  ])(
    'rejects a malformed /users/track body (%s) with 400 { message, errors }',
    async (_case, body, message) => {
      const response = await sandbox.handle(...post('/users/track', body));

      expect(response).toEqual(
        expect.objectContaining({ status: 400, body: { message, errors: [message] } }),
      );
    },
  );

  it('rejects a /users/track request of 76 attribute objects and stores none of them', async () => {
    expect((await sandbox.handle(...post('/users/track', { attributes: attributes(75) }))).status).toBe(201);
    emulator.reset();

    const response = await sandbox.handle(...post('/users/track', { attributes: attributes(76) }));

    expect(response.status).toBe(400);
    expect(messageOf(response)).toBe('Too many attributes objects: 76 (maximum is 75)');
    expect(emulator.state().users).toEqual([]);
  });

  it('answers 201 with errors[] for the objects it skips and processes the others', async () => {
    const response = await sandbox.handle(
      ...post('/users/track', {
        attributes: [{ external_id: 'C1' }, { tier: 'gold' }, { external_id: 'C3', email: 'x' }],
      }),
    );

    expect(response).toMatchObject({
      status: 201,
      body: {
        message: 'success',
        attributes_processed: 1,
        errors: [
          {
            type: "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required",
            input_array: 'attributes',
            index: 1,
          },
          { type: `Invalid 'email' "x"`, input_array: 'attributes', index: 2 },
        ],
      },
    });
    expect(emulator.state().users.map((user) => user.external_id)).toEqual(['C1']);
  });

  it('applies array add/remove operations and null removes an attribute', async () => {
    await sandbox.handle(
      ...post('/users/track', {
        attributes: [{ external_id: 'C1', tags: { add: ['a', 'b'] }, tier: 'gold' }],
      }),
    );
    await sandbox.handle(
      ...post('/users/track', {
        attributes: [{ external_id: 'C1', tags: { add: ['a', 'c'], remove: ['b'] }, tier: null }],
      }),
    );

    expect(emulator.user('C1')).toEqual({ external_id: 'C1', attributes: { tags: ['a', 'c'] } });
  });

  it.each([
    [
      '/email/status',
      { email: 'nope', subscription_state: 'opted_in' },
      "'email' must be an email address or an array of email addresses",
    ],
    [
      '/email/status',
      { email: 'ada@example.com', subscription_state: 'maybe' },
      "'subscription_state' must be one of opted_in, subscribed, unsubscribed",
    ],
    ['/users/delete', { external_ids: [] }, "'external_ids' must be a non-empty array of strings"],
    [
      '/v2/subscription/status/set',
      { subscription_groups: [{ subscription_state: 'subscribed', external_ids: ['C1'] }] },
      'subscription_groups[0].subscription_group_id is required',
    ],
  ])('validates POST %s bodies (%j)', async (path, body, message) => {
    const response = await sandbox.handle(...post(path, body));

    expect(response.status).toBe(400);
    expect(messageOf(response)).toBe(message);
  });

  it('lists unsubscribes between two dates, newest first by default, paged by limit and offset', async () => {
    emulator.markEmailUnsubscribed('a@example.com', Date.parse('2026-03-08T10:00:00Z'));
    emulator.markEmailUnsubscribed('b@example.com', Date.parse('2026-03-09T10:00:00Z'));
    emulator.markEmailUnsubscribed('c@example.com', Date.parse('2026-03-11T10:00:00Z'));
    const get = (query: string) =>
      sandbox.handle('GET', `/braze/email/unsubscribes?${query}`, headers, Buffer.alloc(0));

    const all = await get('start_date=2026-03-01&end_date=2026-03-11');
    expect(all).toMatchObject({
      status: 200,
      body: {
        emails: [
          { email: 'b@example.com', unsubscribed_at: '2026-03-09 10:00:00 +0000' },
          { email: 'a@example.com', unsubscribed_at: '2026-03-08 10:00:00 +0000' },
        ],
      },
    });
    const second = await get('start_date=2026-03-01&end_date=2026-03-12&limit=2&offset=2&sort_direction=asc');
    expect((second.body as { emails: { email: string }[] }).emails.map((entry) => entry.email)).toEqual([
      'c@example.com',
    ]);
    expect(messageOf(await get('start_date=2026-03-01'))).toBe("'end_date' (YYYY-MM-DD) is required");
  });

  it('enforces the /users/track rate limit (3,000 per 3 s) with 429 and Retry-After', async () => {
    const body = { attributes: attributes(1) };
    for (let call = 0; call < 3000; call++) {
      const response = await sandbox.handle(...post('/users/track', body));
      if (response.status !== 201) throw new Error(`call ${call} answered ${response.status}`);
    }

    const throttled = await sandbox.handle(...post('/users/track', body));

    expect(throttled.status).toBe(429);
    expect(throttled.headers?.['retry-after']).toBe('3');
    clock.advance(3000);
    expect((await sandbox.handle(...post('/users/track', body))).status).toBe(201);
  });

  it.each([
    [
      '/users/identify',
      { aliases_to_identify: [], merge_behavior: 'merge' },
      "'aliases_to_identify' must be a non-empty array",
    ],
    [
      '/users/identify',
      {
        aliases_to_identify: [{ external_id: 'C1', user_alias: { alias_name: 'G1', alias_label: 'x' } }],
        merge_behavior: 'always',
      },
      "'merge_behavior' must be 'none' or 'merge'",
    ],
    [
      '/users/identify',
      {
        aliases_to_identify: Array.from({ length: 51 }, (_, n) => ({
          external_id: `C${n}`,
          user_alias: { alias_name: `G${n}`, alias_label: 'x' },
        })),
      },
      'Too many aliases_to_identify: 51 (maximum is 50)',
    ],
    [
      '/users/merge',
      { merge_updates: [{ identifier_to_merge: { external_id: 'C1' } }] },
      'merge_updates[0] needs identifier_to_merge and identifier_to_keep',
    ],
    [
      '/users/export/ids',
      { external_ids: Array.from({ length: 51 }, (_, n) => `C${n}`) },
      'Too many external_ids: 51 (maximum is 50)',
    ],
    [
      '/email/blocklist',
      { email: ['not-an-email'] },
      "'email' must be an email address or an array of email addresses",
    ],
    [
      '/email/blocklist',
      { email: Array.from({ length: 51 }, (_, n) => `m${n}@example.com`) },
      'Too many emails: 51 (maximum is 50)',
    ],
  ])('refuses a malformed %s body with 400 and changes nothing', async (path, body, message) => {
    await sandbox.handle(...post('/users/track', { attributes: attributes(1) }));
    const before = emulator.state();

    const response = await sandbox.handle(...post(path, body));

    expect(response).toMatchObject({ status: 400, body: { message, errors: [message] } });
    expect(emulator.state()).toEqual(before);
  });

  it('updates an alias-only user only when it exists, unless _update_existing_only is false', async () => {
    const guest = { user_alias: { alias_name: 'G1', alias_label: 'tessera_customer_id' }, visits: 1 };
    const refused = await sandbox.handle(...post('/users/track', { attributes: [guest] }));
    expect(refused.body).toEqual({
      attributes_processed: 0,
      message: 'success',
      errors: [
        {
          type: "No user with this user_alias; set '_update_existing_only' to false to create one",
          input_array: 'attributes',
          index: 0,
        },
      ],
    });
    await sandbox.handle(
      ...post('/users/track', { attributes: [{ ...guest, _update_existing_only: false }] }),
    );
    await sandbox.handle(...post('/users/track', { attributes: [{ ...guest, visits: 2 }] }));
    expect(emulator.aliasUser('G1', 'tessera_customer_id')).toEqual({
      user_aliases: [{ alias_name: 'G1', alias_label: 'tessera_customer_id' }],
      attributes: { visits: 2 },
    });
  });

  it('forgets everything on reset', async () => {
    await sandbox.handle(...post('/users/track', { attributes: attributes(2) }));
    await sandbox.handle(
      ...post('/email/status', { email: 'a@example.com', subscription_state: 'unsubscribed' }),
    );
    await sandbox.handle(...post('/email/blocklist', { email: ['b@example.com'] }));
    await sandbox.handle(
      ...post('/users/merge', {
        merge_updates: [
          { identifier_to_merge: { external_id: 'C2' }, identifier_to_keep: { external_id: 'C1' } },
        ],
      }),
    );
    expect(emulator.state().merges).toHaveLength(1);

    emulator.reset();

    expect(emulator.state()).toEqual({
      users: [],
      emailSubscriptions: {},
      subscriptionGroups: {},
      deletions: [],
      unsubscribes: [],
      hardBounces: [],
      merges: [],
    });
  });
});

function messageOf(response: SandboxResponse): string | undefined {
  return (response.body as { message?: string } | undefined)?.message;
}
