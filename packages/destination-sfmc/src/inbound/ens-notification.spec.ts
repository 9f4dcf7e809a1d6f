import { AuthError, ValidationError } from '@tessera/destination-kit';
import type { SfmcSettings } from '../sfmc-settings';
import { ENS_SIGNATURE_HEADER, ensSignature, parseEnsNotification } from './ens-notification';

const signatureKey = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
const settings = { ensSignatureKey: signatureKey } as SfmcSettings;

const events = [
  {
    eventCategoryType: 'EngagementEvents.EmailUnsubscribe',
    timestampUTC: Date.parse('2026-11-24T08:30:00Z'),
    compositeId: '84521.1.C1.EmailUnsubscribe',
    composite: { jobId: '84521', batchId: '1', listId: '7' },
    mid: 100000001,
    eid: 100000001,
    info: { subscriberKey: 'C1' },
  },
  {
    eventCategoryType: 'EngagementEvents.EmailOpen',
    timestampUTC: Date.parse('2026-11-24T08:29:00Z'),
    compositeId: '84521.1.C1.EmailOpen',
    info: { subscriberKey: 'C1' },
  },
];

const signed = (body: string, key = signatureKey) => ({
  headers: { [ENS_SIGNATURE_HEADER]: ensSignature(key, Buffer.from(body)) },
  rawBody: Buffer.from(body),
});

describe('ENS notifications', () => {
  it('verifies the signature on the raw bytes and reports EmailUnsubscribe events only', () => {
    expect(parseEnsNotification(signed(JSON.stringify(events)), { settings })).toEqual([
      {
        eventId: '84521.1.C1.EmailUnsubscribe',
        channel: 'email',
        change: 'unsubscribed',
        customerId: 'C1',
        occurredAt: '2026-11-24T08:30:00.000Z',
      },
    ]);
  });

  it('refuses a wrong key, a tampered body and a missing signature with an AuthError', () => {
    const body = JSON.stringify(events);
    const otherKey = Buffer.from('another-key-of-32-bytes-long!!!!').toString('base64');
    expect(() => parseEnsNotification(signed(body, otherKey), { settings })).toThrow(
      new AuthError('SFMC ENS notification refused: the signature does not match the body'),
    );
    const tampered = { ...signed(body), rawBody: Buffer.from(body.replace('C1', 'C2')) };
    expect(() => parseEnsNotification(tampered, { settings })).toThrow(AuthError);
    expect(() => parseEnsNotification({ headers: {}, rawBody: Buffer.from(body) }, { settings })).toThrow(
      new AuthError('SFMC ENS notification refused: the x-sfmc-ens-signature header is missing'),
    );
    expect(() => parseEnsNotification(signed(body), { settings: {} as SfmcSettings })).toThrow(AuthError);
  });

  it.each([
    ['not JSON', '{', 'SFMC ENS notification body is not JSON'],
    ['not an array', '{"events":[]}', 'SFMC ENS notification body is not an array of events'],
    [
      'an unsubscribe without compositeId',
      JSON.stringify([{ eventCategoryType: 'EngagementEvents.EmailUnsubscribe', timestampUTC: 1 }]),
      'SFMC ENS event 0 has no compositeId',
    ],
    [
      'a timestamp that is not epoch ms',
      JSON.stringify([
        { eventCategoryType: 'EngagementEvents.EmailUnsubscribe', compositeId: 'x', timestampUTC: '2026' },
      ]),
      'SFMC ENS event 0 has no numeric timestampUTC',
    ],
    [
      'an unsubscribe naming no subscriber',
      JSON.stringify([
        {
          eventCategoryType: 'EngagementEvents.EmailUnsubscribe',
          compositeId: 'x',
          timestampUTC: 1,
          info: {},
        },
      ]),
      'SFMC ENS event 0 names no subscriber (info.subscriberKey or email)',
    ],
  ])('refuses a well-signed but malformed body (%s) with a ValidationError', (_case, body, message) => {
    expect(() => parseEnsNotification(signed(body), { settings })).toThrow(new ValidationError(message));
  });
});
