import type { ProfileUpsert } from '@tessera/destination-kit';
import type { MailchimpSettings } from '../mailchimp-settings';
import { toRemoteProfile } from './member-fetch.request';
import { batchErrorReason, buildBatchMembersBody } from './member-batch.request';
import { memberAddress, subscriberHash } from './member-identity';
import {
  buildMemberPutBody,
  planProfileWrites,
  planStatusWrites,
  SMS_NOT_SUPPORTED_REASON,
} from './member-write.request';
import type { PlannedMember } from './planned-member';
import { omitRefusedMergeFields, refusedMergeFieldOf } from './refused-merge-fields';
import {
  attributesFromMergeFields,
  mailchimpAddress,
  mailchimpBirthday,
  mergeFieldsFor,
} from './merge-fields';
import {
  buildStaticSegmentBody,
  MEMBER_NOT_FOUND_RETRY_MS,
  staticSegmentResults,
} from './segment-membership.request';

const settings: MailchimpSettings = {
  baseUrl: 'https://us21.api.mailchimp.com',
  apiKey: '0123456789abcdef0123456789abcdef-us21',
  listId: 'a6b5da1054',
  segmentIds: {},
  mergeFieldMapping: { loyalty_tier: 'TIER', points_balance: 'POINTS' },
};

const profile = (customerId: string, version: number, extra: Partial<ProfileUpsert> = {}): ProfileUpsert => ({
  customerId,
  version,
  email: `${customerId.toLowerCase()}@example.com`,
  attributes: {},
  ...extra,
});

describe('member identity', () => {
  it('hashes the lower-cased address with MD5, as Mailchimp’s own example does', () => {
    expect(subscriberHash('Urist.McVankab@freddiesjokes.com')).toBe('62eeb292278cc15f5817cb78f7790b08');
    expect(subscriberHash(' ada@example.com ')).toBe('3e3417d7ef77d5932a6734b916515ed5');
  });

  it('skips an item without an address (the audience cannot hold it) and rejects one that is not an address', () => {
    const noEmail = { skipped: 'Customer C1 has no email address: Mailchimp audiences are keyed by email' };
    expect(memberAddress('C1', undefined)).toEqual(noEmail);
    expect(memberAddress('C1', ' ')).toEqual(noEmail);
    expect(memberAddress('C1', 'not-an-email')).toEqual({
      rejected: 'Customer C1\'s email "not-an-email" is not an address',
    });
    expect(memberAddress('C1', ' Ada@example.com ')).toEqual({
      email: 'Ada@example.com',
      hash: '3e3417d7ef77d5932a6734b916515ed5',
    });
  });
});

describe('merge fields', () => {
  it('maps names, phone, birthday, address, the customer id and mapped attributes; drops the rest', () => {
    const fields = mergeFieldsFor(
      profile('C1', 1, {
        phone: '+447700900123',
        attributes: {
          first_name: 'Ada',
          last_name: 'Lovelace',
          birthday: '1815-12-10',
          address: {
            line1: '12 St James’s Sq',
            city: 'London',
            region: 'London',
            postcode: 'SW1Y 4JH',
            country: 'GB',
          },
          loyalty_tier: 'gold',
          points_balance: 1200,
          favourite_store: 'Soho',
          nested: { a: 1 },
        },
      }),
      settings,
    );
    expect(fields).toEqual({
      TESSERA_ID: 'C1',
      PHONE: '+447700900123',
      FNAME: 'Ada',
      LNAME: 'Lovelace',
      BIRTHDAY: '12/10',
      ADDRESS: { addr1: '12 St James’s Sq', city: 'London', state: 'London', zip: 'SW1Y 4JH', country: 'GB' },
      TIER: 'gold',
      POINTS: 1200,
    });
  });

  it('leaves out an address Mailchimp would refuse and a birthday it cannot read', () => {
    expect(mailchimpAddress({ line1: '1 Main St', city: 'Leeds' })).toBeUndefined();
    expect(mailchimpBirthday('12-10')).toBe('12/10');
    expect(mailchimpBirthday('10 December')).toBeUndefined();
  });

  it('reads merge fields back into Tessera attributes', () => {
    expect(
      attributesFromMergeFields(
        {
          TESSERA_ID: 'C1',
          PHONE: '+447700900123',
          FNAME: 'Ada',
          LNAME: '',
          TIER: 'gold',
          ADDRESS: { addr1: '1 Main St', addr2: '', city: 'Leeds', state: 'WY', zip: 'LS1', country: 'GB' },
          MMERGE7: 'x',
        },
        settings,
      ),
    ).toEqual({
      first_name: 'Ada',
      loyalty_tier: 'gold',
      address: { line1: '1 Main St', city: 'Leeds', region: 'WY', postcode: 'LS1', country: 'GB' },
      MMERGE7: 'x',
    });
  });
});

describe('member writes', () => {
  const HASH_C1 = subscriberHash('c1@example.com');

  it('plans profile writes without a status; an item carrying the member’s hash marks it as known', () => {
    const plans = planProfileWrites(
      [
        profile('C1', 1, { attributes: { first_name: 'Ada' }, externalId: HASH_C1 }),
        profile('C2', 1, { externalId: 'an-id-of-another-address' }),
      ],
      settings,
    );
    expect(plans).toEqual([
      {
        member: {
          email: 'c1@example.com',
          hash: HASH_C1,
          mergeFields: { TESSERA_ID: 'C1', FNAME: 'Ada' },
          known: true,
        },
      },
      { member: expect.objectContaining({ email: 'c2@example.com', known: false }) },
    ]);
    const [first] = plans;
    expect(first !== undefined && 'member' in first ? buildMemberPutBody(first.member) : undefined).toEqual({
      email_address: 'c1@example.com',
      status_if_new: 'transactional',
      merge_fields: { TESSERA_ID: 'C1', FNAME: 'Ada' },
    });
  });

  it('coalesces a customer’s updates (highest version wins) and refuses a second customer with the same email', () => {
    const plans = planProfileWrites(
      [
        profile('C1', 2, { attributes: { first_name: 'New' } }),
        profile('C2', 1, { email: 'C1@Example.com' }),
        profile('C1', 1, { attributes: { first_name: 'Old', last_name: 'Kept' } }),
        profile('C3', 1, { email: undefined }),
      ],
      settings,
    );
    expect(plans).toEqual([
      {
        member: {
          email: 'c1@example.com',
          hash: HASH_C1,
          mergeFields: { TESSERA_ID: 'C1', FNAME: 'New', LNAME: 'Kept' },
          known: false,
        },
      },
      {
        rejected:
          'Customer C2 has the email address of customer C1 in the same batch: Mailchimp keeps one member per email',
      },
      { member: expect.objectContaining({ email: 'c1@example.com' }) },
      { skipped: 'Customer C3 has no email address: Mailchimp audiences are keyed by email' },
    ]);
  });

  it('sets status on new and existing members for consent changes, email only (sms items are skipped)', () => {
    const plans = planStatusWrites(
      [
        { customerId: 'C1', channel: 'email', email: 'ada@example.com' },
        { customerId: 'C2', channel: 'sms', phone: '+447700900123' },
      ],
      'subscribed',
    );
    expect(plans).toEqual([
      {
        member: {
          email: 'ada@example.com',
          hash: subscriberHash('ada@example.com'),
          mergeFields: { TESSERA_ID: 'C1' },
          status: 'subscribed',
          known: false,
        },
      },
      { skipped: SMS_NOT_SUPPORTED_REASON },
    ]);
    const [first] = plans;
    expect(first !== undefined && 'member' in first ? buildMemberPutBody(first.member) : undefined).toEqual({
      email_address: 'ada@example.com',
      status_if_new: 'subscribed',
      status: 'subscribed',
      merge_fields: { TESSERA_ID: 'C1' },
    });
  });

  it("stamps a subscribe with the consent's time (timestamp_opt), never an unsubscribe", () => {
    const change = {
      customerId: 'C1',
      channel: 'email' as const,
      email: 'ada@example.com',
      changedAt: '2026-11-20T08:00:00.000Z',
    };
    const [subscribed] = planStatusWrites([change], 'subscribed');
    const [unsubscribed] = planStatusWrites([change], 'unsubscribed');
    const member = subscribed !== undefined && 'member' in subscribed ? subscribed.member : undefined;
    expect(member === undefined ? undefined : buildMemberPutBody(member)).toEqual({
      email_address: 'ada@example.com',
      status_if_new: 'subscribed',
      status: 'subscribed',
      merge_fields: { TESSERA_ID: 'C1' },
      timestamp_opt: '2026-11-20T08:00:00.000Z',
    });
    expect(member === undefined ? undefined : buildBatchMembersBody([member], 'status').members).toEqual([
      {
        email_address: 'ada@example.com',
        status: 'subscribed',
        merge_fields: { TESSERA_ID: 'C1' },
        timestamp_opt: '2026-11-20T08:00:00.000Z',
      },
    ]);
    expect(
      unsubscribed !== undefined && 'member' in unsubscribed
        ? buildMemberPutBody(unsubscribed.member)
        : undefined,
    ).not.toHaveProperty('timestamp_opt');
  });

  it('builds batch bodies from the published member schema: create with a status, update without, consent with one', () => {
    const members: PlannedMember[] = [
      { email: 'ada@example.com', hash: 'h1', mergeFields: { FNAME: 'Ada' }, known: false },
      { email: 'bob@example.com', hash: 'h2', mergeFields: {}, status: 'unsubscribed', known: true },
    ];
    expect(buildBatchMembersBody(members, 'create')).toEqual({
      members: [
        { email_address: 'ada@example.com', status: 'transactional', merge_fields: { FNAME: 'Ada' } },
        { email_address: 'bob@example.com', status: 'transactional', merge_fields: {} },
      ],
      update_existing: false,
    });
    expect(buildBatchMembersBody(members, 'update')).toEqual({
      members: [
        { email_address: 'ada@example.com', merge_fields: { FNAME: 'Ada' } },
        { email_address: 'bob@example.com', merge_fields: {} },
      ],
      update_existing: true,
    });
    expect(buildBatchMembersBody(members.slice(1), 'status').members).toEqual([
      { email_address: 'bob@example.com', status: 'unsubscribed', merge_fields: {} },
    ]);
  });

  it('words a batch refusal with Mailchimp’s error, field and code', () => {
    expect(
      batchErrorReason({
        email_address: 'bob@bounce.invalid',
        error: 'bob@bounce.invalid looks fake or invalid, please enter a real email address.',
        error_code: 'ERROR_GENERIC',
      }),
    ).toBe(
      'Mailchimp refused the member: bob@bounce.invalid looks fake or invalid, please enter a real email address. [ERROR_GENERIC]',
    );
  });

  it('leaves out a merge field Mailchimp refused and records it against the Tessera attribute', () => {
    const mergeFields = { TESSERA_ID: 'C1', TIER: 'gold', FNAME: 'Ada' };
    const refused = refusedMergeFieldOf(
      { error: 'Your merge fields were invalid.', field: 'merge_fields.TIER', field_message: 'Unknown tag' },
      mergeFields,
    );
    expect(refused).toEqual({ tag: 'TIER', message: 'Unknown tag' });
    expect(refusedMergeFieldOf({ field: 'LNAME', field_message: 'Please enter a value' }, mergeFields)).toBe(
      undefined,
    );
    expect(omitRefusedMergeFields(mergeFields, refused === undefined ? [] : [refused], settings)).toEqual({
      mergeFields: { TESSERA_ID: 'C1', FNAME: 'Ada' },
      omitted: [{ field: 'loyalty_tier', reason: 'Mailchimp refused merge field TIER: Unknown tag' }],
    });
  });
});

describe('segment membership', () => {
  it('writes static segment bodies per direction', () => {
    expect(buildStaticSegmentBody(['a@example.com'], 'add')).toEqual({ members_to_add: ['a@example.com'] });
    expect(buildStaticSegmentBody(['a@example.com'], 'remove')).toEqual({
      members_to_remove: ['a@example.com'],
    });
  });

  it('retries an addition for an address Mailchimp lists as no member; a removal of one is already done', () => {
    const answer = {
      errors: [{ email_addresses: ['BOB@example.com'], error: 'Email addresses are not members of list l1' }],
    };
    expect(staticSegmentResults(['ada@example.com', 'bob@example.com'], 'add', answer)).toEqual([
      { status: 'ok', externalId: '3e3417d7ef77d5932a6734b916515ed5' },
      {
        status: 'retry',
        afterMs: MEMBER_NOT_FOUND_RETRY_MS,
        reason:
          'Mailchimp has no member bob@example.com yet (Email addresses are not members of list l1): the segment change waits for its upsert',
      },
    ]);
    expect(staticSegmentResults(['bob@example.com'], 'remove', answer)).toEqual([
      { status: 'ok', externalId: subscriberHash('bob@example.com') },
    ]);
  });
});

describe('fetched members', () => {
  it('reads a member as a RemoteProfile: customer id from TESSERA_ID, cleaned as suppressed', () => {
    expect(
      toRemoteProfile(
        {
          id: '3e3417d7ef77d5932a6734b916515ed5',
          email_address: 'ada@example.com',
          status: 'cleaned',
          merge_fields: { TESSERA_ID: 'C1', FNAME: 'Ada', PHONE: '' },
          last_changed: '2026-11-24T10:00:00+00:00',
        },
        settings,
      ),
    ).toEqual({
      externalId: '3e3417d7ef77d5932a6734b916515ed5',
      customerId: 'C1',
      email: 'ada@example.com',
      attributes: { first_name: 'Ada' },
      subscriptions: { email: 'unsubscribed' },
      suppressed: true,
      updatedAt: '2026-11-24T10:00:00+00:00',
    });
  });
});
