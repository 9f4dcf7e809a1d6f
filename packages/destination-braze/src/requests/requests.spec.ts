import { brazeTimeToIso } from '../inbound/unsubscribe-poll';
import { chunk, emailField } from './email-addresses';
import { buildEmailBounceRemoveBody } from './email-suppression.request';
import { buildEmailStatusBody, buildSubscriptionStatusSetBody } from './subscription.request';
import {
  buildSegmentAttributes,
  buildUpsertAttributes,
  upsertAttributeObject,
  usersTrackResults,
} from './users-track.request';

describe('Braze request builders', () => {
  it('maps a profile to one attribute object; custom attributes cannot override identifiers', () => {
    expect(
      buildUpsertAttributes([
        {
          customerId: 'C1',
          version: 2,
          email: 'ada@example.com',
          attributes: { first_name: 'Ada', external_id: 'spoofed', email: 'other@example.com' },
        },
        { customerId: 'C2', version: 1, phone: '+447700900123', attributes: {} },
      ]),
    ).toEqual({
      attributes: [
        { first_name: 'Ada', external_id: 'C1', email: 'ada@example.com' },
        { external_id: 'C2', phone: '+447700900123' },
      ],
    });
  });

  it('builds no attribute object for a profile with nothing to write', () => {
    expect(upsertAttributeObject({ customerId: 'C1', version: 1, attributes: {} })).toBeUndefined();
    expect(
      upsertAttributeObject({
        customerId: 'C1',
        version: 1,
        attributes: { external_id: 'spoofed', x: undefined },
      }),
    ).toBeUndefined();
    expect(upsertAttributeObject({ customerId: 'C1', version: 1, attributes: { tier: null } })).toEqual({
      tier: null,
      external_id: 'C1',
    });
  });

  it('models segment membership as an array operation on tessera_segments', () => {
    expect(buildSegmentAttributes([{ customerId: 'C1', segment: 'vip' }], 'remove')).toEqual({
      attributes: [{ external_id: 'C1', tessera_segments: { remove: ['vip'] } }],
    });
  });

  it('rejects only the attribute indexes Braze reports, ignoring errors on other arrays', () => {
    expect(
      usersTrackResults(3, {
        message: 'success',
        errors: [
          { type: 'bad email', input_array: 'attributes', index: 2 },
          { type: 'bad event', input_array: 'events', index: 0 },
        ],
      }),
    ).toEqual([{ status: 'ok' }, { status: 'ok' }, { status: 'rejected', reason: 'Braze: bad email' }]);
  });

  it('sets sms subscriptions by external id in one group', () => {
    expect(buildSubscriptionStatusSetBody('sg', ['C1', 'C2'], 'unsubscribe')).toEqual({
      subscription_groups: [
        { subscription_group_id: 'sg', subscription_state: 'unsubscribed', external_ids: ['C1', 'C2'] },
      ],
    });
  });

  it('writes `email` as a string for one address and as an array for several', () => {
    expect(buildEmailStatusBody(['a@example.com'], 'subscribe')).toEqual({
      email: 'a@example.com',
      subscription_state: 'opted_in',
    });
    expect(buildEmailStatusBody(['a@example.com', 'b@example.com'], 'unsubscribe')).toEqual({
      email: ['a@example.com', 'b@example.com'],
      subscription_state: 'unsubscribed',
    });
    expect(buildEmailBounceRemoveBody(['a@example.com', 'b@example.com'])).toEqual({
      email: ['a@example.com', 'b@example.com'],
    });
    expect(emailField(['x@example.com'])).toBe('x@example.com');
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });

  it("converts Braze's unsubscribe timestamps to ISO-8601", () => {
    expect(brazeTimeToIso('2016-08-25 15:24:32 +0000')).toBe('2016-08-25T15:24:32.000Z');
    expect(brazeTimeToIso('2016-08-25 17:24:32 +0200')).toBe('2016-08-25T15:24:32.000Z');
  });
});
