import { createHmac, randomUUID } from 'node:crypto';

/*
 * Klaviyo system webhooks: the body is JSON, signed with HMAC-SHA256 (key = the webhook secret, UTF-8) over the
 * raw body bytes followed by the `Klaviyo-Timestamp` header value, sent as lower-case hex in `Klaviyo-Signature`.
 */

export const UNSUBSCRIBED_FROM_EMAIL_TOPIC = 'event:klaviyo.unsubscribed_from_email_marketing';

/** Lower-case hex HMAC-SHA256 of `rawBody` + `timestamp` keyed with `secret`, as Klaviyo signs its webhooks. */
export function signKlaviyoWebhook(secret: string, rawBody: Buffer | string, timestamp: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody)
    .update(Buffer.from(timestamp, 'utf8'))
    .digest('hex');
}

/** The profile a webhook event is about, as Klaviyo includes it. */
export interface WebhookProfile {
  id: string;
  email: string;
  external_id: string | null;
  phone_number: string | null;
}

export interface SignedWebhook {
  headers: {
    'klaviyo-signature': string;
    'klaviyo-timestamp': string;
    'klaviyo-webhook-id': string;
    'content-type': string;
  };
  rawBody: Buffer;
}

/**
 * Builds and signs one system-webhook delivery carrying an `unsubscribed_from_email_marketing` event per
 * profile. `timestamp` is an ISO-8601 UTC string; `webhookId` defaults to a fresh id.
 */
export function buildUnsubscribeWebhook(options: {
  secret: string;
  profiles: readonly WebhookProfile[];
  timestamp: string;
  webhookId?: string;
}): SignedWebhook {
  const webhookId = options.webhookId ?? randomUUID();
  const at = new Date(options.timestamp);
  const body = {
    data: options.profiles.map((profile) => {
      const eventId = randomUUID();
      return {
        topic: UNSUBSCRIBED_FROM_EMAIL_TOPIC,
        external_id: eventId,
        payload: {
          data: {
            type: 'event',
            id: eventId,
            attributes: {
              datetime: at.toISOString(),
              timestamp: Math.floor(at.getTime() / 1000),
              event_properties: { $event_id: eventId, email: profile.email },
              uuid: eventId,
            },
            relationships: { profile: { data: { type: 'profile', id: profile.id } } },
          },
          included: [
            {
              type: 'profile',
              id: profile.id,
              attributes: {
                email: profile.email,
                external_id: profile.external_id,
                phone_number: profile.phone_number,
              },
            },
          ],
        },
      };
    }),
    meta: { klaviyo_account_id: 'SANDBOX', klaviyo_webhook_id: webhookId, timestamp: options.timestamp },
  };
  const rawBody = Buffer.from(JSON.stringify(body), 'utf8');
  return {
    headers: {
      'klaviyo-signature': signKlaviyoWebhook(options.secret, rawBody, options.timestamp),
      'klaviyo-timestamp': options.timestamp,
      'klaviyo-webhook-id': webhookId,
      'content-type': 'application/json',
    },
    rawBody,
  };
}
