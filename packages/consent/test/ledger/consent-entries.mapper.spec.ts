import type { CatalogEvent } from '@tessera/events';
import { entriesFromConsentEvent, entriesFromInboundUnsubscribes } from '../../src/ledger';
import { emailKey, phoneKey, vault } from './ledger-fixture';

const RECEIVED = new Date('2026-02-01T09:00:00Z');

function consentEvent(
  data: Partial<CatalogEvent<'consent.changed'>['data']>,
): CatalogEvent<'consent.changed'> {
  return {
    specversion: '1.0',
    id: 'evt-1',
    source: 'loyalty',
    type: 'consent.changed',
    data: {
      brand: 'sd',
      channel: 'email',
      status: 'granted',
      legal_basis: 'consent',
      captured_at: '2026-01-05T10:00:00Z',
      notice_version: 'n-3',
      ...data,
    },
  };
}

const context = { vault, defaultCountry: 'GB', sourceId: 'loyalty', receivedAt: RECEIVED };

describe('entriesFromConsentEvent', () => {
  it('makes one entry for the contact point of the event’s channel, keyed by blind index', () => {
    const event = consentEvent({
      customer_id: 'C1',
      email: ' Ana@Example.com ',
      phone: '07700 900123',
      proof: { method: 'double_opt_in', reference: 'doi-1', ip: '203.0.113.7', user_agent: 'UA' },
    });
    const key = emailKey('ana@example.com');
    expect(entriesFromConsentEvent(event, context)).toEqual({
      entries: [
        {
          subject: { type: 'email', key, customerId: 'C1' },
          scope: { brand: 'sd', channel: 'email', purpose: 'marketing' },
          decision: 'granted',
          legalBasis: 'consent',
          provenance: {
            source: 'loyalty',
            noticeVersion: 'n-3',
            proofRef: 'doi-1',
            proof: {
              method: 'double_opt_in',
              reference: 'doi-1',
              user_agent: 'UA',
              ip_index: vault.blindIndex('ip', '203.0.113.7'),
            },
            capturedAt: '2026-01-05T10:00:00Z',
            receivedAt: RECEIVED.toISOString(),
            actor: 'source:loyalty',
          },
          dedupeKey: `event:loyalty:evt-1:${key}`,
        },
      ],
      dropped: [],
    });
  });

  it('keys sms by E.164 phone and push by device, and takes the context’s customer id first', () => {
    const sms = entriesFromConsentEvent(
      consentEvent({ channel: 'sms', phone: '07700 900123', customer_id: 'C1' }),
      {
        ...context,
        customerId: 'C-resolved',
      },
    );
    expect(sms.entries[0].subject).toEqual({
      type: 'phone',
      key: phoneKey('+447700900123'),
      customerId: 'C-resolved',
    });
    const push = entriesFromConsentEvent(
      consentEvent({ channel: 'mobile_push', anonymous_id: 'dev-1', purpose: 'offers' }),
      context,
    );
    expect(push.entries[0].subject).toEqual({ type: 'device', key: vault.blindIndex('device', 'dev-1') });
    expect(push.entries[0].scope.purpose).toBe('offers');
  });

  it('drops a contact point that is missing or does not normalize, with a reason', () => {
    expect(entriesFromConsentEvent(consentEvent({ email: 'not-an-email' }), context)).toEqual({
      entries: [],
      dropped: ['email dropped: not an email address'],
    });
    expect(
      entriesFromConsentEvent(consentEvent({ channel: 'sms', email: 'ana@example.com' }), context),
    ).toEqual({
      entries: [],
      dropped: ['names no phone number for channel sms'],
    });
    const badPhone = entriesFromConsentEvent(consentEvent({ channel: 'sms', phone: '12' }), context);
    expect(badPhone.entries).toEqual([]);
    expect(badPhone.dropped).toEqual([expect.stringMatching(/^phone dropped: /)]);
  });
});

describe('entriesFromInboundUnsubscribes', () => {
  it('records ESP opt-outs as withdrawals of marketing consent', () => {
    const entries = entriesFromInboundUnsubscribes(
      [
        {
          eventId: 'k-1',
          channel: 'email',
          change: 'suppressed',
          email: 'ANA@example.com',
          occurredAt: '2026-01-06T10:00:00Z',
        },
        {
          eventId: 'k-2',
          channel: 'sms',
          change: 'unsubscribed',
          phone: '+44 7700 900123',
          customerId: 'C1',
          occurredAt: '2026-01-06T11:00:00Z',
        },
        {
          eventId: 'k-3',
          channel: 'sms',
          change: 'unsubscribed',
          email: 'ana@example.com',
          occurredAt: '2026-01-06T11:00:00Z',
        },
      ],
      { vault, defaultCountry: 'GB', brand: 'sd', destinationId: 'sd-klaviyo', receivedAt: RECEIVED },
    );
    expect(entries).toEqual([
      {
        subject: { type: 'email', key: emailKey('ana@example.com') },
        scope: { brand: 'sd', channel: 'email', purpose: 'marketing' },
        decision: 'withdrawn',
        legalBasis: 'consent',
        provenance: {
          source: 'esp:sd-klaviyo',
          proof: { change: 'suppressed', esp_event_key: vault.blindIndex('esp-event', 'k-1') },
          capturedAt: '2026-01-06T10:00:00Z',
          receivedAt: RECEIVED.toISOString(),
          actor: 'esp:sd-klaviyo',
        },
        dedupeKey: `esp:sd-klaviyo:${vault.blindIndex('esp-event', 'k-1')}`,
      },
      expect.objectContaining({
        subject: { type: 'phone', key: phoneKey('+447700900123'), customerId: 'C1' },
        scope: { brand: 'sd', channel: 'sms', purpose: 'marketing' },
        dedupeKey: `esp:sd-klaviyo:${vault.blindIndex('esp-event', 'k-2')}`,
      }),
    ]);
  });

  it('keeps no contact point of an ESP event id: a Braze id naming the email is kept as a keyed hash', () => {
    const change = {
      eventId: 'braze:email:unsubscribed:ana@example.com:2026-01-06T10:00:00Z',
      channel: 'email' as const,
      change: 'unsubscribed' as const,
      email: 'ana@example.com',
      occurredAt: '2026-01-06T10:00:00Z',
    };
    const context = {
      vault,
      defaultCountry: 'GB',
      brand: 'sd',
      destinationId: 'sd-braze',
      receivedAt: RECEIVED,
    };
    const [entry] = entriesFromInboundUnsubscribes([change], context);
    expect(JSON.stringify(entry)).not.toContain('ana@example.com');
    // The same poll read again dedupes; another person's opt-out at the same second does not.
    const [again] = entriesFromInboundUnsubscribes([change], context);
    expect(again?.dedupeKey).toBe(entry?.dedupeKey);
    const [other] = entriesFromInboundUnsubscribes(
      [{ ...change, eventId: change.eventId.replace('ana@', 'bruno@'), email: 'bruno@example.com' }],
      context,
    );
    expect(other?.dedupeKey).not.toBe(entry?.dedupeKey);
  });
});
