import { EspSandbox, ManualClock, type SandboxResponse } from '@tessera/destination-kit';
import { mailchimpAuthorization } from '../mailchimp-settings';
import { subscriberHash } from '../requests/member-identity';
import { MailchimpEmulator } from './mailchimp.emulator';

const API_KEY = '0123456789abcdef0123456789abcdef-us21';
const LIST = 'a6b5da1054';
const auth = { authorization: mailchimpAuthorization(API_KEY), 'content-type': 'application/json' };

type Call = [string, string, Record<string, string>, Buffer];

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = auth): Call => [
  method,
  `/mailchimp/3.0${path}`,
  headers,
  Buffer.from(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body)),
];

const newMember = (email: string) => ({ email_address: email, status: 'transactional' });
const putMember = (email: string) => ({ email_address: email, status_if_new: 'transactional' });

const AUDIENCES = {
  audiences: [
    {
      id: LIST,
      name: 'Summit members',
      mergeFields: [
        { tag: 'FNAME', type: 'text', name: 'First Name' },
        { tag: 'ADDRESS', type: 'address', name: 'Address' },
        { tag: 'POINTS', type: 'number', name: 'Points' },
        { tag: 'BIRTHDAY', type: 'birthday', name: 'Birthday' },
      ],
    },
  ],
};

const problemOf = (response: SandboxResponse) =>
  response.body as { title?: string; detail?: string; errors?: unknown };

describe('MailchimpEmulator', () => {
  let emulator: MailchimpEmulator;
  let sandbox: EspSandbox;

  beforeEach(() => {
    emulator = new MailchimpEmulator({ apiKey: API_KEY });
    emulator.configure(AUDIENCES);
    sandbox = new EspSandbox([emulator], { clock: new ManualClock(Date.parse('2026-11-24T10:00:00Z')) });
  });

  afterEach(() => sandbox.close());

  it('answers the ping with its health status', async () => {
    expect(await sandbox.handle(...call('GET', '/ping'))).toMatchObject({
      status: 200,
      body: { health_status: "Everything's Chimpy!" },
    });
  });

  it('refuses a request without an API key with 401 in Mailchimp’s problem-detail shape', async () => {
    const response = await sandbox.handle(...call('GET', '/ping', undefined, {}));

    expect(response).toEqual({
      status: 401,
      headers: { 'content-type': 'application/problem+json; charset=utf-8' },
      body: {
        type: 'https://mailchimp.com/developer/marketing/docs/errors/',
        title: 'API Key Missing',
        status: 401,
        detail: 'Your request did not include an API key.',
        instance: expect.any(String),
      },
    });
  });

  it('refuses a wrong key with 401 API Key Invalid', async () => {
    const response = await sandbox.handle(
      ...call('GET', '/ping', undefined, { authorization: mailchimpAuthorization('ffff-us21') }),
    );

    expect(response.status).toBe(401);
    expect(problemOf(response)).toMatchObject({
      title: 'API Key Invalid',
      detail: "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
    });
  });

  it.each([
    [
      'more than 500 members',
      {
        members: Array.from({ length: 501 }, (_, index) => newMember(`m${index}@example.com`)),
        update_existing: true,
      },
      [{ field: 'members', message: 'A batch holds 1 to 500 members (got 501).' }],
    ],
    [
      'no members',
      { update_existing: true },
      [{ field: 'members', message: 'This value should be of type array.' }],
    ],
    [
      'a member without email_address',
      { members: [{ status: 'transactional' }] },
      [{ field: 'members[0].email_address', message: 'This value should not be blank.' }],
    ],
    [
      'a bogus status',
      { members: [{ email_address: 'ada@example.com', status: 'bogus' }] },
      [
        {
          field: 'members[0].status',
          message: 'Value must be one of: subscribed, unsubscribed, cleaned, pending, transactional.',
        },
      ],
    ],
    [
      'status_if_new, which the published batch member schema does not define',
      { members: [{ email_address: 'ada@example.com', status_if_new: 'transactional' }] },
      [
        {
          field: 'members[0].status_if_new',
          message: "status_if_new is not a field of this request in Mailchimp's published schema.",
        },
      ],
    ],
  ])('refuses a batch with %s: 400 Invalid Resource and field errors', async (_case, body, errors) => {
    const response = await sandbox.handle(...call('POST', `/lists/${LIST}`, body));

    expect(response.status).toBe(400);
    expect(problemOf(response)).toMatchObject({
      title: 'Invalid Resource',
      detail:
        "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
      errors,
    });
    expect(emulator.state().lists[LIST]?.members ?? []).toEqual([]);
  });

  it('refuses a body that is not JSON with 400 JSON Parse Error', async () => {
    const response = await sandbox.handle(...call('POST', `/lists/${LIST}`, '{"members": ['));

    expect(response.status).toBe(400);
    expect(problemOf(response)).toMatchObject({
      title: 'JSON Parse Error',
      detail: 'We encountered an unspecified JSON parsing error.',
    });
  });

  it('refuses a PUT whose email does not match the subscriber hash', async () => {
    const response = await sandbox.handle(
      ...call(
        'PUT',
        `/lists/${LIST}/members/${subscriberHash('ada@example.com')}`,
        putMember('bob@example.com'),
      ),
    );

    expect(response.status).toBe(400);
    expect(problemOf(response).errors).toEqual([
      { field: 'email_address', message: 'The email address does not match the subscriber hash in the URL.' },
    ]);
  });

  it('answers 404 Resource Not Found for unknown members, segments and paths, and 405 for a wrong method', async () => {
    const hash = subscriberHash('ada@example.com');
    for (const [method, path] of [
      ['GET', `/lists/${LIST}/members/${hash}`],
      ['POST', `/lists/${LIST}/members/${hash}/actions/delete-permanent`],
      ['POST', `/lists/${LIST}/segments/999`],
      ['GET', '/campaigns'],
    ] as const) {
      const response = await sandbox.handle(
        ...call(method, path, method === 'POST' ? { members_to_add: [] } : undefined),
      );
      expect([path, response.status, problemOf(response).title]).toEqual([path, 404, 'Resource Not Found']);
    }
    const wrongMethod = await sandbox.handle(...call('DELETE', '/ping'));
    expect([wrongMethod.status, problemOf(wrongMethod).title]).toEqual([405, 'Method Not Allowed']);
  });

  it('keeps members, answers the batch like Mailchimp and refuses fake addresses per member', async () => {
    const response = await sandbox.handle(
      ...call('POST', `/lists/${LIST}`, {
        members: [
          { ...newMember('ada@example.com'), merge_fields: { FNAME: 'Ada' } },
          newMember('bob@bounce.invalid'),
        ],
        update_existing: true,
      }),
    );

    expect(response).toMatchObject({
      status: 200,
      body: {
        new_members: [
          {
            id: subscriberHash('ada@example.com'),
            email_address: 'ada@example.com',
            status: 'transactional',
          },
        ],
        updated_members: [],
        errors: [
          {
            email_address: 'bob@bounce.invalid',
            error: 'bob@bounce.invalid looks fake or invalid, please enter a real email address.',
            error_code: 'ERROR_GENERIC',
          },
        ],
        total_created: 1,
        total_updated: 0,
        error_count: 1,
      },
    });
    expect(emulator.state()).toEqual({
      lists: {
        [LIST]: {
          members: [
            {
              id: subscriberHash('ada@example.com'),
              email_address: 'ada@example.com',
              status: 'transactional',
              merge_fields: { FNAME: 'Ada' },
              tags: [],
              last_changed: '2026-11-24T10:00:00+00:00',
            },
          ],
          segments: [],
        },
      },
      deletions: [],
    });

    emulator.reset();

    expect(emulator.state()).toEqual({ lists: { [LIST]: { members: [], segments: [] } }, deletions: [] });
    expect(emulator.configuration()).toEqual(AUDIENCES);
  });

  it('refuses an existing member without update_existing, as Mailchimp does', async () => {
    await sandbox.handle(...call('POST', `/lists/${LIST}`, { members: [newMember('ada@example.com')] }));
    const again = await sandbox.handle(
      ...call('POST', `/lists/${LIST}`, { members: [newMember('ada@example.com')] }),
    );

    expect((again.body as { errors: unknown[] }).errors).toEqual([
      {
        email_address: 'ada@example.com',
        error:
          'ada@example.com is already a list member, do you want to update? please provide update_existing:true in the request body',
        error_code: 'ERROR_CONTACT_EXISTS',
      },
    ]);
  });

  it('refuses a new member without a status per member, and updates an existing one without touching its status', async () => {
    await sandbox.handle(
      ...call('POST', `/lists/${LIST}`, {
        members: [{ email_address: 'ada@example.com', status: 'subscribed' }],
      }),
    );
    const response = await sandbox.handle(
      ...call('POST', `/lists/${LIST}`, {
        members: [
          { email_address: 'ada@example.com', merge_fields: { FNAME: 'Ada' } },
          { email_address: 'bob@example.com', merge_fields: { FNAME: 'Bob' } },
        ],
        update_existing: true,
      }),
    );

    expect(response.body).toMatchObject({
      updated_members: [{ email_address: 'ada@example.com', status: 'subscribed' }],
      errors: [
        {
          email_address: 'bob@example.com',
          error: 'bob@example.com is not a list member yet, and a new member needs a status.',
          error_code: 'ERROR_GENERIC',
          field: 'status',
          field_message: 'This value should not be blank.',
        },
      ],
    });
    expect(emulator.member(LIST, 'ada@example.com')).toMatchObject({
      status: 'subscribed',
      merge_fields: { FNAME: 'Ada' },
    });
    expect(emulator.member(LIST, 'bob@example.com')).toBeUndefined();
  });

  it('answers the 11th simultaneous request of one key with 429 Too Many Requests', async () => {
    emulator = new MailchimpEmulator({ apiKey: API_KEY, responseDelayMs: 300 });
    const live = new EspSandbox([emulator]);
    const root = await live.listen();
    try {
      const ping = () =>
        fetch(`${root}/mailchimp/3.0/ping`, { headers: { authorization: mailchimpAuthorization(API_KEY) } });
      const responses = await Promise.all(Array.from({ length: 11 }, ping));
      const statuses = responses.map((response) => response.status).sort();
      const refused = responses.find((response) => response.status === 429);

      expect(statuses).toEqual([...Array.from({ length: 10 }, () => 200), 429]);
      expect(refused?.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      expect(await refused?.json()).toEqual({
        type: 'https://mailchimp.com/developer/marketing/docs/errors/',
        title: 'Too Many Requests',
        status: 429,
        detail: 'You have exceeded the limit of 10 simultaneous connections.',
        instance: expect.any(String),
      });
      expect(emulator.peakConnections(API_KEY)).toBe(10);
      expect((await ping()).status).toBe(200);
    } finally {
      await live.close();
    }
  });

  it('plays the member’s side: an unsubscribe or a clean changes the status and yields the webhook body', () => {
    const atMs = Date.parse('2026-11-24T10:00:00Z');
    const body = new URLSearchParams(emulator.unsubscribeInEsp(LIST, 'ada@example.com', atMs).toString());

    expect(body.get('type')).toBe('unsubscribe');
    expect(body.get('fired_at')).toBe('2026-11-24 10:00:00');
    expect(body.get('data[email]')).toBe('ada@example.com');
    expect(body.get('data[list_id]')).toBe(LIST);
    expect(emulator.member(LIST, 'ada@example.com')?.status).toBe('unsubscribed');

    const cleaned = new URLSearchParams(
      emulator.cleanInEsp(LIST, 'ada@example.com', 'abuse', atMs).toString(),
    );
    expect([cleaned.get('type'), cleaned.get('data[reason]')]).toEqual(['cleaned', 'abuse']);
    expect(emulator.member(LIST, 'ada@example.com')?.status).toBe('cleaned');
  });

  it('answers injected faults in Mailchimp’s problem-detail shape', () => {
    expect(emulator.errorResponse(503, 'Service Unavailable')).toMatchObject({
      status: 503,
      headers: { 'content-type': 'application/problem+json; charset=utf-8' },
      body: { title: 'Internal Server Error', status: 503, detail: 'Service Unavailable' },
    });
  });
});
