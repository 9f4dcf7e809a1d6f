import { EspSandbox, ManualClock } from '@tessera/destination-kit';
import { mailchimpAuthorization } from '../mailchimp-settings';
import { subscriberHash } from '../requests/member-identity';
import { MailchimpEmulator } from './mailchimp.emulator';

// Static segments, which Mailchimp also calls tags: one store for the segment endpoints and a member's tags.

const API_KEY = '0123456789abcdef0123456789abcdef-us21';
const LIST = 'a6b5da1054';
const headers = { authorization: mailchimpAuthorization(API_KEY), 'content-type': 'application/json' };

describe('MailchimpEmulator segments and tags', () => {
  let emulator: MailchimpEmulator;
  let sandbox: EspSandbox;

  const send = (method: string, path: string, payload?: unknown) =>
    sandbox.handle(
      method,
      `/mailchimp/3.0${path}`,
      headers,
      Buffer.from(payload === undefined ? '' : JSON.stringify(payload)),
    );

  beforeEach(async () => {
    emulator = new MailchimpEmulator({ apiKey: API_KEY });
    emulator.configure({ audiences: [{ id: LIST, name: 'Summit members', mergeFields: [] }] });
    sandbox = new EspSandbox([emulator], { clock: new ManualClock(Date.parse('2026-11-24T10:00:00Z')) });
    await send('POST', `/lists/${LIST}`, {
      members: ['ada', 'bob'].map((name) => ({ email_address: `${name}@example.com`, status: 'subscribed' })),
    });
  });

  afterEach(() => sandbox.close());

  it('creates a tag as a static segment, finds it by name, and changes its members in bulk', async () => {
    const created = await send('POST', `/lists/${LIST}/segments`, {
      name: 'VIP',
      static_segment: ['ada@example.com'],
    });

    expect(created).toMatchObject({
      status: 200,
      body: { id: 1001, name: 'VIP', member_count: 1, type: 'static', list_id: LIST },
    });
    expect((await send('GET', `/lists/${LIST}/tag-search?name=vi`)).body).toEqual({
      tags: [{ id: 1001, name: 'VIP' }],
      total_items: 1,
    });
    expect((await send('GET', `/lists/${LIST}/tag-search?name=gold`)).body).toEqual({
      tags: [],
      total_items: 0,
    });

    const changed = await send('POST', `/lists/${LIST}/segments/1001`, {
      members_to_add: ['bob@example.com', 'cy@example.com'],
      members_to_remove: ['ada@example.com'],
    });

    expect(changed.body).toMatchObject({
      members_added: [{ email_address: 'bob@example.com' }],
      members_removed: [{ email_address: 'ada@example.com' }],
      errors: [
        { email_addresses: ['cy@example.com'], error: `Email addresses are not members of list ${LIST}` },
      ],
      total_added: 1,
      total_removed: 1,
      error_count: 1,
    });
    expect([
      emulator.member(LIST, 'ada@example.com')?.tags,
      emulator.member(LIST, 'bob@example.com')?.tags,
    ]).toEqual([[], ['VIP']]);
    const member = await send('GET', `/lists/${LIST}/members/${subscriberHash('bob@example.com')}`);
    expect(member.body).toMatchObject({ tags_count: 1, tags: [{ id: 1001, name: 'VIP' }] });
  });

  it('keeps a member’s own tags in the same static segments', async () => {
    const hash = subscriberHash('ada@example.com');
    const tagged = await send('POST', `/lists/${LIST}/members/${hash}/tags`, {
      tags: [
        { name: 'gold', status: 'active' },
        { name: 'never-made', status: 'inactive' },
      ],
    });

    expect(tagged.status).toBe(204);
    expect(emulator.state().lists[LIST]?.segments).toEqual([
      { id: '1001', name: 'gold', member_ids: [hash] },
    ]);
    await send('POST', `/lists/${LIST}/segments/1001`, { members_to_remove: ['ada@example.com'] });
    expect(emulator.member(LIST, 'ada@example.com')?.tags).toEqual([]);
  });

  it('refuses 501 emails, a body without members, unknown fields, an unnamed or saved segment, and unknown segments', async () => {
    const emails = Array.from({ length: 501 }, (_, n) => `m${n}@example.com`);
    emulator.addStaticSegment(LIST, 'vip');
    const cases: [string, string, unknown, number, unknown][] = [
      [
        'POST',
        `/lists/${LIST}/segments/1001`,
        { members_to_add: emails },
        400,
        [{ field: 'members_to_add', message: 'A maximum of 500 members can be sent (got 501).' }],
      ],
      [
        'POST',
        `/lists/${LIST}/segments/1001`,
        {},
        400,
        [{ field: 'members_to_add', message: 'Give members_to_add or members_to_remove.' }],
      ],
      [
        'POST',
        `/lists/${LIST}/segments/1001`,
        { members: ['ada@example.com'] },
        400,
        [
          {
            field: 'members',
            message: "members is not a field of this request in Mailchimp's published schema.",
          },
        ],
      ],
      [
        'POST',
        `/lists/${LIST}/segments`,
        { static_segment: [] },
        400,
        [{ field: 'name', message: 'This value should not be blank.' }],
      ],
      [
        'POST',
        `/lists/${LIST}/segments`,
        { name: 'Openers', options: { match: 'any', conditions: [] } },
        400,
        [
          {
            field: 'options',
            message:
              'The sandbox keeps static segments (tags) only: create a saved segment in Mailchimp itself.',
          },
        ],
      ],
      ['POST', `/lists/${LIST}/segments/9999`, { members_to_add: ['ada@example.com'] }, 404, undefined],
    ];
    for (const [method, path, payload, status, errors] of cases) {
      const response = await send(method, path, payload);
      expect([path, response.status, (response.body as { errors?: unknown }).errors]).toEqual([
        path,
        status,
        errors,
      ]);
    }
    expect(emulator.state().lists[LIST]?.segments).toEqual([{ id: '1001', name: 'vip', member_ids: [] }]);
  });
});
