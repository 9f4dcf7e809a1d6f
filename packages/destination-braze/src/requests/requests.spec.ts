import { brazeTimeToIso } from '../inbound/unsubscribe-poll';
import { buildSubscriptionStatusSetBody, subscriptionRequestCost } from './subscription.request';
import { buildSegmentAttributes, buildUpsertAttributes, usersTrackResults } from './users-track.request';

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

  it('sets sms subscriptions by external id in one group and counts one request per email', () => {
    const sms = { customerId: 'C1', channel: 'sms' as const };
    const email = { customerId: 'C2', channel: 'email' as const, email: 'b@example.com' };
    expect(buildSubscriptionStatusSetBody('sg', [sms], 'unsubscribe')).toEqual({
      subscription_groups: [
        { subscription_group_id: 'sg', subscription_state: 'unsubscribed', external_ids: ['C1'] },
      ],
    });
    expect(subscriptionRequestCost([sms, email, email, sms])).toBe(3);
  });

  it("converts Braze's unsubscribe timestamps to ISO-8601", () => {
    expect(brazeTimeToIso('2016-08-25 15:24:32 +0000')).toBe('2016-08-25T15:24:32.000Z');
    expect(brazeTimeToIso('2016-08-25 17:24:32 +0200')).toBe('2016-08-25T15:24:32.000Z');
  });
});
