import {
  EspSandbox,
  ManualClock,
  type EmulatorTools,
  type RateWindow,
  type SandboxRequest,
  type SandboxResponse,
} from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS, BRAZE_MAX_BODY_BYTES, BRAZE_RATE_BUDGETS } from '../braze-endpoints';
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

const ids = (count: number) => Array.from({ length: count }, (_, index) => `C${index + 1}`);

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

    const message = 'Too many objects: 76 in attributes, events and purchases together (maximum is 75)';
    expect(response).toEqual({
      status: 400,
      headers: { 'content-type': 'application/json' },
      body: { message, errors: [message] },
    });
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
      "identifiers must be objects with an 'external_id' property that is a string, or 'user_alias' property that is an object",
    ],
    ['/users/merge', { merge_updates: ['C1'] }, "'merge_updates' must be an array of objects"],
    [
      '/users/merge',
      {
        merge_updates: Array.from({ length: 51 }, (_, n) => ({
          identifier_to_merge: { external_id: `C${n}` },
          identifier_to_keep: { external_id: 'C0' },
        })),
      },
      'a single request may not contain more than 50 merge updates',
    ],
    [
      '/users/merge',
      {
        merge_updates: [
          {
            identifier_to_merge: { external_id: 'C2' },
            identifier_to_keep: { external_id: 'C1' },
            merge_behavior: 'merge',
          },
        ],
      },
      "'merge_updates' must only have 'identifier_to_merge' and 'identifier_to_keep'",
    ],
    [
      '/users/track',
      {
        attributes: attributes(70),
        events: Array.from({ length: 6 }, () => ({ external_id: 'C1', name: 'e' })),
      },
      'Too many objects: 76 in attributes, events and purchases together (maximum is 75)',
    ],
    [
      '/users/delete',
      { external_ids: Array.from({ length: 51 }, (_, n) => `C${n}`) },
      'Too many external_ids: 51 (maximum is 50)',
    ],
    [
      '/email/status',
      { email: Array.from({ length: 51 }, (_, n) => `m${n}@example.com`), subscription_state: 'opted_in' },
      'Too many emails: 51 (maximum is 50)',
    ],
    [
      '/email/status',
      { email: ['a@example.com', 'nope'], subscription_state: 'unsubscribed' },
      "'email' must be an email address or an array of email addresses",
    ],
    [
      '/email/bounce/remove',
      { email: Array.from({ length: 51 }, (_, n) => `m${n}@example.com`) },
      'Too many emails: 51 (maximum is 50)',
    ],
    [
      '/v2/subscription/status/set',
      {
        subscription_groups: [
          { subscription_group_id: 'sg-1', subscription_state: 'subscribed', external_ids: ids(30) },
          { subscription_group_id: 'sg-2', subscription_state: 'subscribed', external_ids: ids(21) },
        ],
      },
      'Too many users: 51 in subscription_groups (maximum is 50 a request)',
    ],
    [
      '/users/export/ids',
      { external_ids: Array.from({ length: 51 }, (_, n) => `C${n}`), fields_to_export: ['email'] },
      'Too many external_ids: 51 (maximum is 50)',
    ],
    ['/users/export/ids', { external_ids: ['C1'] }, "'fields_to_export' must be an array of field names"],
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
    await sandbox.handle(...post('/users/track', { attributes: attributes(2) }));
    await sandbox.handle(...post('/email/blocklist', { email: ['m1@example.com'] }));
    const before = emulator.state();

    const response = await sandbox.handle(...post(path, body));

    expect(response).toEqual({
      status: 400,
      headers: { 'content-type': 'application/json' },
      body: { message, errors: [message] },
    });
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

  it('takes the array form of /email/status and /email/bounce/remove, up to 50 addresses', async () => {
    const fifty = Array.from({ length: 50 }, (_, n) => `m${n}@example.com`);
    await sandbox.handle(...post('/email/blocklist', { email: fifty.slice(0, 2) }));

    const status = await sandbox.handle(
      ...post('/email/status', { email: fifty, subscription_state: 'opted_in' }),
    );
    const bounces = await sandbox.handle(...post('/email/bounce/remove', { email: fifty.slice(0, 2) }));
    const single = await sandbox.handle(
      ...post('/email/status', { email: 'm0@example.com', subscription_state: 'unsubscribed' }),
    );

    for (const response of [status, bounces, single]) {
      expect(response).toEqual({
        status: 201,
        headers: { 'content-type': 'application/json' },
        body: { message: 'success' },
      });
    }
    const state = emulator.state();
    expect(Object.keys(state.emailSubscriptions)).toHaveLength(50);
    expect(state.emailSubscriptions['m0@example.com']).toBe('unsubscribed');
    expect(state.emailSubscriptions['m49@example.com']).toBe('opted_in');
    expect(state.hardBounces).toEqual([]);
    expect(state.unsubscribes.map((entry) => entry.email)).toEqual([
      'm0@example.com',
      'm1@example.com',
      'm0@example.com',
    ]);
  });

  it("refuses a body over Braze's 4 MB payload limit with 413 in its { message } shape", async () => {
    const body = JSON.stringify({
      attributes: [{ external_id: 'C1', blob: 'x'.repeat(BRAZE_MAX_BODY_BYTES) }],
    });
    const tools: EmulatorTools = { clock, limitsLifted: true, rateLimit: () => undefined };
    const request = (rawBody: Buffer): SandboxRequest => ({
      method: 'POST',
      path: '/users/track',
      query: new URLSearchParams(),
      headers,
      rawBody,
    });

    expect(emulator.maxBodyBytes).toBe(4_000_000);
    expect(emulator.handle(request(Buffer.from(body)), tools)).toEqual({
      status: 413,
      headers: { 'content-type': 'application/json' },
      body: {
        message: `Request Entity Too Large: the body is ${body.length} bytes, Braze takes at most 4000000 (4 MB)`,
      },
    });
    // Mounted in the sandbox, its edge refuses the body first, in Braze's { message } shape.
    expect(await sandbox.handle(...post('/users/track', body))).toEqual({
      status: 413,
      headers: { 'content-type': 'application/json' },
      body: { message: `Request body is ${body.length} bytes; the largest accepted is 4000000 bytes` },
    });
    expect(emulator.state().users).toEqual([]);
    const justUnder = Buffer.alloc(BRAZE_MAX_BODY_BYTES, ' ');
    justUnder.write(JSON.stringify({ attributes: [{ external_id: 'C1' }] }));
    expect(emulator.handle(request(justUnder), tools).status).toBe(201);
  });

  it('counts every endpoint in the budget the destination declares for it, per API key', async () => {
    const counted: { key: string; windows: readonly RateWindow[] }[] = [];
    const open = new BrazeEmulator();
    const tools: EmulatorTools = {
      clock,
      limitsLifted: false,
      rateLimit: (key, windows) => {
        counted.push({ key, windows });
        return undefined;
      },
    };
    for (const endpoint of Object.values(BRAZE_ENDPOINTS)) {
      await open.handle(
        {
          method: endpoint.method,
          path: endpoint.path,
          query: new URLSearchParams(),
          headers: { ...headers, authorization: 'Bearer key-a' },
          rawBody: Buffer.from(endpoint.method === 'GET' ? '' : '{}'),
        },
        tools,
      );
    }

    expect(counted).toEqual(
      Object.values(BRAZE_ENDPOINTS).map((endpoint) => ({
        key: `${endpoint.budget}:key-a`,
        windows: BRAZE_RATE_BUDGETS[endpoint.budget].windows,
      })),
    );
  });

  it('answers the 251st /users/export/ids of a minute 429 with Retry-After and X-RateLimit headers; another key is not held', async () => {
    const open = new BrazeEmulator();
    const shared = new EspSandbox([open], { clock });
    const exportAs = (key: string) =>
      shared.handle(
        ...post(
          '/users/export/ids',
          { external_ids: ['C1'], fields_to_export: ['email'] },
          { ...headers, authorization: `Bearer ${key}` },
        ),
      );
    for (let call = 0; call < 250; call++) {
      const response = await exportAs('key-a');
      if (response.status !== 201) throw new Error(`call ${call} answered ${response.status}`);
    }

    expect(await exportAs('key-a')).toEqual({
      status: 429,
      headers: {
        'content-type': 'application/json',
        'retry-after': '60',
        'x-ratelimit-limit': '250',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.ceil((clock.now() + 60_000) / 1000)),
      },
      body: { message: 'API rate limit exceeded; retry in 60 second(s)' },
    });
    expect((await exportAs('key-b')).status).toBe(201);
    clock.advance(60_000);
    expect((await exportAs('key-a')).status).toBe(201);
    await shared.close();
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
