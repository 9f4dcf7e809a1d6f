import { OpenApiContract } from '@tessera/destination-kit';
import { MAILCHIMP_PATHS } from '../mailchimp-endpoints';
import { mailchimpAuthorization } from '../mailchimp-settings';
import { subscriberHash } from '../requests/member-identity';
import { MAILCHIMP_REQUESTS_OPENAPI } from './mailchimp-requests.openapi';

const contract = OpenApiContract.fromDocuments([MAILCHIMP_REQUESTS_OPENAPI]);
const headers = {
  authorization: mailchimpAuthorization('0123456789abcdef0123456789abcdef-us21'),
  'content-type': 'application/json',
};
const LIST = 'a6b5da1054';
const HASH = subscriberHash('ada@example.com');

const member = (n: number) => ({ email_address: `m${n}@example.com`, status: 'transactional' });
const pointers = (method: string, path: string, body?: unknown) =>
  contract.validate({ method, path, headers, ...(body === undefined ? {} : { body }) }).map((v) => v.pointer);

describe('Mailchimp request contract', () => {
  it('covers every path the destination builds', () => {
    const requests: [string, string][] = [
      ['GET', MAILCHIMP_PATHS.ping],
      ['POST', MAILCHIMP_PATHS.batchMembers(LIST)],
      ['PUT', MAILCHIMP_PATHS.member(LIST, HASH)],
      ['GET', MAILCHIMP_PATHS.member(LIST, HASH)],
      ['DELETE', MAILCHIMP_PATHS.member(LIST, HASH)],
      ['GET', MAILCHIMP_PATHS.tagSearch(LIST)],
      ['POST', MAILCHIMP_PATHS.segments(LIST)],
      ['POST', MAILCHIMP_PATHS.memberDeletePermanent(LIST, HASH)],
      ['POST', MAILCHIMP_PATHS.staticSegment(LIST, '1001')],
    ];
    for (const [method, path] of requests) {
      const violations = contract.validate({ method, path, headers });
      expect([method, path, violations.filter((violation) => violation.where === 'path')]).toEqual([
        method,
        path,
        [],
      ]);
    }
    expect(contract.operations()).toHaveLength(requests.length);
  });

  it('accepts the bodies the destination sends', () => {
    expect(
      pointers('POST', `/3.0/lists/${LIST}`, {
        members: [
          {
            email_address: 'ada@example.com',
            status: 'subscribed',
            merge_fields: {
              TESSERA_ID: 'C1',
              POINTS: 1200,
              ADDRESS: { addr1: '1 Main St', city: 'Leeds', state: 'WY', zip: 'LS1', country: 'GB' },
            },
          },
        ],
        update_existing: true,
      }),
    ).toEqual([]);
    expect(
      pointers('POST', `/3.0/lists/${LIST}`, {
        members: [{ email_address: 'ada@example.com', merge_fields: { FNAME: 'Ada' } }],
        update_existing: true,
      }),
    ).toEqual([]);
    expect(
      pointers('PUT', `/3.0/lists/${LIST}/members/${HASH}`, {
        email_address: 'ada@example.com',
        status_if_new: 'transactional',
        merge_fields: { TESSERA_ID: 'C1' },
      }),
    ).toEqual([]);
    expect(pointers('POST', `/3.0/lists/${LIST}/segments`, { name: 'vip', static_segment: [] })).toEqual([]);
    expect(
      pointers('POST', `/3.0/lists/${LIST}/segments/1001`, { members_to_remove: ['ada@example.com'] }),
    ).toEqual([]);
  });

  it('rejects 501 members and a status outside the published enum', () => {
    const tooMany = { members: Array.from({ length: 501 }, (_, n) => member(n)), update_existing: true };
    expect(contract.validate({ method: 'POST', path: `/3.0/lists/${LIST}`, headers, body: tooMany })).toEqual(
      [{ where: 'body', pointer: '/members', message: '/members must NOT have more than 500 items' }],
    );
    const bogus = contract.validate({
      method: 'POST',
      path: `/3.0/lists/${LIST}`,
      headers,
      body: { members: [{ email_address: 'ada@example.com', status: 'bogus' }] },
    });
    expect(bogus).toContainEqual({
      where: 'body',
      pointer: '/members/0/status',
      message:
        '/members/0/status must be equal to one of the allowed values: "subscribed", "unsubscribed", "cleaned", "pending", "transactional"',
    });
  });

  it('rejects status_if_new in a batch member (the batch schema has none), a PUT without it, and unknown fields', () => {
    expect(
      contract.validate({
        method: 'POST',
        path: `/3.0/lists/${LIST}`,
        headers,
        body: { members: [{ email_address: 'ada@example.com', status_if_new: 'transactional' }] },
      }),
    ).toEqual([
      {
        where: 'body',
        pointer: '/members/0',
        message: "/members/0 must NOT have additional properties: 'status_if_new'",
      },
    ]);
    expect(
      pointers('PUT', `/3.0/lists/${LIST}/members/${HASH}`, { email_address: 'ada@example.com' }),
    ).toEqual(['']);
    expect(
      pointers('POST', `/3.0/lists/${LIST}`, { members: [{ ...member(1), email: 'ada@example.com' }] }),
    ).toEqual(['/members/0']);
    expect(pointers('POST', `/3.0/lists/${LIST}`, { members: [member(1)], status: 'subscribed' })).toEqual([
      '',
    ]);
  });

  it('rejects a segment without a name or with unknown fields, and a static segment call of 501 emails', () => {
    expect(pointers('POST', `/3.0/lists/${LIST}/segments`, { static_segment: [] })).toEqual(['']);
    expect(pointers('POST', `/3.0/lists/${LIST}/segments`, { name: 'vip', type: 'static' })).toEqual(['']);
    const emails = Array.from({ length: 501 }, (_, n) => `m${n}@example.com`);
    expect(pointers('POST', `/3.0/lists/${LIST}/segments/1001`, { members_to_add: emails })).toEqual([
      '/members_to_add',
    ]);
  });

  it('rejects a request without basic auth and a path outside the contract', () => {
    expect(contract.validate({ method: 'GET', path: '/3.0/ping', headers: {} })).toEqual([
      {
        where: 'header',
        pointer: 'Authorization',
        message: "security scheme 'basicAuth' needs an 'Authorization: basic …' header",
      },
    ]);
    expect(
      contract.validate({ method: 'PATCH', path: `/3.0/lists/${LIST}/members/${HASH}`, headers }),
    ).toEqual([
      {
        where: 'path',
        pointer: `/3.0/lists/${LIST}/members/${HASH}`,
        message: `no operation PATCH /3.0/lists/${LIST}/members/${HASH} in the contract`,
      },
    ]);
  });
});
