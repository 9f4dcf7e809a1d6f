import { createHmac } from 'node:crypto';
import { setup } from './klaviyo-test-support';
import { signKlaviyoWebhook, UNSUBSCRIBED_FROM_EMAIL_TOPIC } from './klaviyo-webhook';

describe('Klaviyo webhooks', () => {
  it('signs raw body + timestamp with HMAC-SHA256 in lower-case hex', () => {
    const body = Buffer.from('{"data":[]}');
    const timestamp = '2026-08-01T00:00:00.000Z';
    const expected = createHmac('sha256', 'secret-of-sixteen+')
      .update('{"data":[]}2026-08-01T00:00:00.000Z')
      .digest('hex');
    expect(signKlaviyoWebhook('secret-of-sixteen+', body, timestamp)).toBe(expected);
    expect(signKlaviyoWebhook('secret-of-sixteen+', '{"data":[]}', timestamp)).toBe(expected);
    expect(signKlaviyoWebhook('another-secret', body, timestamp)).not.toBe(expected);
    expect(signKlaviyoWebhook('secret-of-sixteen+', body, '2026-08-01T00:00:01.000Z')).not.toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{64}$/);
  });

  it('builds a system webhook with one unsubscribe event per email, describing known profiles', async () => {
    const { send, emulator } = setup();
    const created = await send('POST', '/api/profile-import', {
      data: { type: 'profile', attributes: { email: 'ada@example.com', external_id: 'C1' } },
    });
    const adaId = (created.body as { data: { id: string } }).data.id;
    const signed = emulator.signUnsubscribeWebhook({
      secret: 'secret-of-sixteen+',
      emails: ['ada@example.com', 'Stranger@example.com'],
      timestamp: '2026-08-01T12:00:00.000Z',
    });
    expect(signed.headers).toEqual({
      'klaviyo-signature': signKlaviyoWebhook(
        'secret-of-sixteen+',
        signed.rawBody,
        '2026-08-01T12:00:00.000Z',
      ),
      'klaviyo-timestamp': '2026-08-01T12:00:00.000Z',
      'klaviyo-webhook-id': expect.any(String),
      'content-type': 'application/json',
    });
    const body = JSON.parse(signed.rawBody.toString('utf8'));
    expect(body.meta).toEqual({
      klaviyo_account_id: 'SANDBOX',
      klaviyo_webhook_id: signed.headers['klaviyo-webhook-id'],
      timestamp: '2026-08-01T12:00:00.000Z',
    });
    expect(body.data).toHaveLength(2);
    const [ada, stranger] = body.data;
    expect(ada).toMatchObject({
      topic: UNSUBSCRIBED_FROM_EMAIL_TOPIC,
      external_id: ada.payload.data.id,
      payload: {
        data: {
          type: 'event',
          attributes: {
            datetime: '2026-08-01T12:00:00.000Z',
            timestamp: 1785585600,
            uuid: ada.payload.data.id,
          },
          relationships: { profile: { data: { type: 'profile', id: adaId } } },
        },
        included: [
          {
            type: 'profile',
            id: adaId,
            attributes: { email: 'ada@example.com', external_id: 'C1', phone_number: null },
          },
        ],
      },
    });
    expect(stranger.payload.included[0].attributes.email).toBe('stranger@example.com');
    expect(stranger.payload.included[0].id).toMatch(/^01[0-9A-HJKMNP-TV-Z]{24}$/);
    expect(stranger.external_id).not.toBe(ada.external_id);
    // Signing does not change the account.
    expect(
      emulator.findProfile({ email: 'ada@example.com' })?.attributes.subscriptions.email.marketing.consent,
    ).toBe('NEVER_SUBSCRIBED');
  });
});
