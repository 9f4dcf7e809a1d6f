import { EspSandbox, ManualClock, type SandboxResponse } from '@tessera/destination-kit';
import { mailchimpAuthorization } from '../mailchimp-settings';
import { subscriberHash } from '../requests/member-identity';
import { MAILCHIMP_EMULATOR_MAX_BODY_BYTES, MailchimpEmulator } from './mailchimp.emulator';

// The emulator's account: the audiences and merge fields it is configured with, and nothing else.

const API_KEY = '0123456789abcdef0123456789abcdef-us21';
const LIST = 'a6b5da1054';
const headers = { authorization: mailchimpAuthorization(API_KEY), 'content-type': 'application/json' };
const body = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

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

const problemOf = (response: SandboxResponse) => response.body as Record<string, unknown>;

describe('MailchimpEmulator audiences', () => {
  let emulator: MailchimpEmulator;
  let sandbox: EspSandbox;

  beforeEach(() => {
    emulator = new MailchimpEmulator({ apiKey: API_KEY });
    sandbox = new EspSandbox([emulator], { clock: new ManualClock(Date.parse('2026-11-24T10:00:00Z')) });
  });

  afterEach(() => sandbox.close());

  const send = (method: string, path: string, payload?: unknown) =>
    sandbox.handle(
      method,
      `/mailchimp/3.0${path}`,
      headers,
      payload === undefined ? Buffer.alloc(0) : body(payload),
    );

  it('knows no audience until configured: 404 problem+json exactly as Mailchimp answers', async () => {
    for (const [method, path, payload] of [
      ['POST', `/lists/${LIST}`, { members: [{ email_address: 'ada@example.com', status: 'subscribed' }] }],
      ['GET', `/lists/${LIST}/members/${subscriberHash('ada@example.com')}`, undefined],
      ['GET', `/lists/${LIST}/tag-search?name=vip`, undefined],
    ] as const) {
      const response = await send(method, path, payload);
      expect(response).toEqual({
        status: 404,
        headers: { 'content-type': 'application/problem+json; charset=utf-8' },
        body: {
          type: 'https://mailchimp.com/developer/marketing/docs/errors/',
          title: 'Resource Not Found',
          status: 404,
          detail: 'The requested resource could not be found.',
          instance: expect.stringMatching(/^[0-9a-f-]{36}$/),
        },
      });
    }
    expect(emulator.state()).toEqual({ lists: {}, deletions: [] });
    expect(() => emulator.member(LIST, 'ada@example.com')).toThrow(
      'The Mailchimp emulator has no audience "a6b5da1054" (configured: none): configure it first',
    );
  });

  it('refuses a bad configuration with every problem named, and keeps the one it had', () => {
    emulator.configure(AUDIENCES);
    expect(() =>
      emulator.configure({
        audiences: [
          { id: 'l1', name: 'One', mergeFields: [{ tag: 'first name', type: 'text', name: 'First' }] },
          { id: 'l1', name: '', mergeFields: [{ tag: 'TIER', type: 'colour', name: 'Tier' }] },
          { id: 'l2', name: 'Two', merge_fields: [] },
        ],
        lists: [],
      }),
    ).toThrow(
      'Mailchimp emulator configuration is invalid: lists is not a setting (known: audiences); ' +
        'audiences[0].mergeFields[0].tag must be 1 to 10 upper-case letters, digits or underscores, starting with a letter (got "first name"); ' +
        'audiences[1].name must be a non-empty string; ' +
        'audiences[1].mergeFields[0].type must be one of text, number, address, phone, date, url, imageurl, radio, dropdown, birthday, zip (got "colour"); ' +
        'audiences[1].id repeats the audience id "l1"; ' +
        'audiences[2].merge_fields is not a setting (known: id, name, mergeFields, staticSegments); ' +
        'audiences[2].mergeFields must be an array of { tag, type, name }',
    );
    expect(() => emulator.configure([])).toThrow(
      'Mailchimp emulator configuration must be an object like { "audiences": [...] }',
    );
    expect(emulator.configuration()).toEqual(AUDIENCES);
  });

  it('answers a bad configuration through the sandbox’s control API with 400 and the message', async () => {
    const response = await sandbox.handle(
      'PUT',
      '/mailchimp/_sandbox/config',
      {},
      body({ audiences: 'none' }),
    );

    expect(response).toMatchObject({
      status: 400,
      body: {
        error:
          'Mailchimp emulator configuration is invalid: audiences must be an array of { id, name, mergeFields }',
      },
    });
    const accepted = await sandbox.handle('PUT', '/mailchimp/_sandbox/config', {}, body(AUDIENCES));
    expect(accepted).toMatchObject({ status: 200, body: AUDIENCES });
  });

  it('refuses a merge tag the audience lacks and a value its type cannot hold: 400 on PUT, per member in a batch', async () => {
    emulator.configure(AUDIENCES);
    const put = await send('PUT', `/lists/${LIST}/members/${subscriberHash('ada@example.com')}`, {
      email_address: 'ada@example.com',
      status_if_new: 'transactional',
      merge_fields: { FNAME: 'Ada', TIER: 'Gold', POINTS: 'lots', BIRTHDAY: '1990-04-02' },
    });

    expect(put.status).toBe(400);
    expect(problemOf(put)).toEqual({
      type: 'https://mailchimp.com/developer/marketing/docs/errors/',
      title: 'Invalid Resource',
      status: 400,
      detail: 'Your merge fields were invalid.',
      instance: expect.any(String),
      errors: [
        { field: 'TIER', message: `This merge field does not exist in audience ${LIST}.` },
        { field: 'POINTS', message: 'Please enter a number' },
        { field: 'BIRTHDAY', message: 'Please enter a valid birthday (MM/DD)' },
      ],
    });

    const batch = await send('POST', `/lists/${LIST}`, {
      members: [
        { email_address: 'ada@example.com', status: 'transactional', merge_fields: { TIER: 'Gold' } },
        {
          email_address: 'bob@example.com',
          status: 'transactional',
          merge_fields: { FNAME: 'Bob', POINTS: '1200', ADDRESS: { addr1: '1 Main St', city: 'Leeds' } },
        },
        {
          email_address: 'cy@example.com',
          status: 'transactional',
          merge_fields: { FNAME: 'Cy', POINTS: 7 },
        },
      ],
    });

    expect(batch.status).toBe(200);
    expect((batch.body as { errors: unknown }).errors).toEqual([
      {
        email_address: 'ada@example.com',
        error: 'Your merge fields were invalid.',
        error_code: 'ERROR_GENERIC',
        field: 'TIER',
        field_message: `This merge field does not exist in audience ${LIST}.`,
      },
      {
        email_address: 'bob@example.com',
        error: 'Your merge fields were invalid.',
        error_code: 'ERROR_GENERIC',
        field: 'ADDRESS',
        field_message: 'Please enter a complete address',
      },
    ]);
    expect(emulator.state().lists[LIST]?.members.map((member) => member.email_address)).toEqual([
      'cy@example.com',
    ]);
  });

  it('starts an audience with the static segments it is configured with, and numbers new ones above them', async () => {
    emulator.configure({
      audiences: [{ ...AUDIENCES.audiences[0], staticSegments: [{ id: '49381', name: 'Gold' }] }],
    });
    const created = await send('POST', `/lists/${LIST}/segments`, { name: 'vip', static_segment: [] });

    expect((created.body as { id: number }).id).toBe(49382);
    expect(emulator.state().lists[LIST]?.segments.map((segment) => [segment.id, segment.name])).toEqual([
      ['49381', 'Gold'],
      ['49382', 'vip'],
    ]);
    expect(() =>
      emulator.configure({
        audiences: [
          {
            id: LIST,
            name: 'x',
            mergeFields: [],
            staticSegments: [{ id: 'gold', name: 'Gold' }, { id: '1' }],
          },
        ],
      }),
    ).toThrow(
      'Mailchimp emulator configuration is invalid: audiences[0].staticSegments[0].id must be Mailchimp\'s segment id, digits (got "gold"); ' +
        'audiences[0].staticSegments[1].name must be a non-empty string',
    );
  });

  it('keeps the members of an audience that stays configured; reset forgets data but not the configuration', async () => {
    emulator.configure(AUDIENCES);
    await send('POST', `/lists/${LIST}`, {
      members: [{ email_address: 'ada@example.com', status: 'subscribed' }],
    });
    emulator.configure({ audiences: [...AUDIENCES.audiences, { id: 'l2', name: 'Two', mergeFields: [] }] });

    expect(emulator.member(LIST, 'ada@example.com')?.status).toBe('subscribed');
    expect(Object.keys(emulator.state().lists)).toEqual([LIST, 'l2']);

    emulator.reset();

    expect(emulator.state().lists).toEqual({
      [LIST]: { members: [], segments: [] },
      l2: { members: [], segments: [] },
    });
    expect(emulator.configuration().audiences.map((audience) => audience.id)).toEqual([LIST, 'l2']);
  });

  it('answers a body over its limit with 413 in Mailchimp’s problem shape, before reading it', async () => {
    emulator.configure(AUDIENCES);
    const huge = Buffer.alloc(MAILCHIMP_EMULATOR_MAX_BODY_BYTES + 1, 0x20);

    const response = await sandbox.handle('POST', `/mailchimp/3.0/lists/${LIST}`, headers, huge);

    expect(response).toEqual({
      status: 413,
      headers: { 'content-type': 'application/problem+json; charset=utf-8' },
      body: {
        type: 'https://mailchimp.com/developer/marketing/docs/errors/',
        title: 'Request Entity Too Large',
        status: 413,
        detail: `Request body is ${MAILCHIMP_EMULATOR_MAX_BODY_BYTES + 1} bytes; the largest accepted is ${MAILCHIMP_EMULATOR_MAX_BODY_BYTES} bytes`,
        instance: expect.any(String),
      },
    });
  });

  it('counts requests per endpoint with the audience, member and segment ids as {id}', async () => {
    emulator.configure(AUDIENCES);
    const hash = subscriberHash('ada@example.com');
    await send('POST', `/lists/${LIST}`, {
      members: [{ email_address: 'ada@example.com', status: 'subscribed' }],
    });
    await send('GET', `/lists/${LIST}/members/${hash}`);
    await send('GET', `/lists/${LIST}/tag-search?name=vip`);
    await send('POST', `/lists/${LIST}/segments/1001`, { members_to_add: ['ada@example.com'] });
    await send('GET', '/ping');

    expect(sandbox.stats('mailchimp').byEndpoint).toEqual({
      'POST /3.0/lists/{id}': 1,
      'GET /3.0/lists/{id}/members/{id}': 1,
      'GET /3.0/lists/{id}/tag-search': 1,
      'POST /3.0/lists/{id}/segments/{id}': 1,
      'GET /3.0/ping': 1,
    });
  });
});
