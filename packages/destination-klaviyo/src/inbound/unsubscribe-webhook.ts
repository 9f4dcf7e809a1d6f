import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  AuthError,
  type Clock,
  type InboundRequest,
  type InboundUnsubscribe,
  ValidationError,
} from '@tessera/destination-kit';
import type { KlaviyoSettings } from '../klaviyo-settings';

/** A webhook older or newer than this is refused as a replay. */
export const WEBHOOK_TOLERANCE_MS = 5 * 60_000;

/** Klaviyo system-webhook topics that report an opt-out, and what each means for the consent ledger. */
const UNSUBSCRIBE_TOPICS: Record<string, Pick<InboundUnsubscribe, 'channel' | 'change'>> = {
  'event:klaviyo.unsubscribed_from_email_marketing': { channel: 'email', change: 'unsubscribed' },
  'event:klaviyo.unsubscribed_from_sms_marketing': { channel: 'sms', change: 'unsubscribed' },
  'event:klaviyo.marked_email_as_spam': { channel: 'email', change: 'suppressed' },
};

/** Klaviyo's signature: lower-case hex HMAC-SHA256, keyed by the webhook secret, of the raw body then the timestamp. */
export function klaviyoSignature(secret: string, rawBody: Buffer, timestamp: string): string {
  return createHmac('sha256', secret).update(rawBody).update(timestamp).digest('hex');
}

interface WebhookBody {
  data?: {
    topic?: unknown;
    external_id?: unknown;
    payload?: {
      data?: { id?: unknown; attributes?: { datetime?: unknown } };
      included?: { type?: unknown; id?: unknown; attributes?: Record<string, unknown> }[];
    };
  }[];
  meta?: { klaviyo_webhook_id?: unknown };
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/**
 * Verifies a Klaviyo system webhook on its raw bytes (signature, timestamp within ±5 minutes, webhook id in
 * the body equal to the header) and returns the opt-outs it reports; other topics are ignored.
 */
export function parseUnsubscribeWebhook(
  request: InboundRequest,
  { settings, clock }: { settings: KlaviyoSettings; clock: Clock },
): InboundUnsubscribe[] {
  const secret = settings.webhookSecret;
  if (secret === undefined)
    throw new AuthError('Klaviyo webhook refused: the destination has no webhookSecret setting');
  const signature = request.headers['klaviyo-signature'];
  const timestamp = request.headers['klaviyo-timestamp'];
  if (signature === undefined || timestamp === undefined) {
    throw new AuthError(
      'Klaviyo webhook refused: the Klaviyo-Signature and Klaviyo-Timestamp headers are required',
    );
  }
  const expected = Buffer.from(klaviyoSignature(secret, request.rawBody, timestamp), 'utf8');
  const given = Buffer.from(signature.trim().toLowerCase(), 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AuthError('Klaviyo webhook refused: the signature does not match the body');
  }
  const sentAt = Date.parse(timestamp);
  if (Number.isNaN(sentAt) || Math.abs(clock.now() - sentAt) > WEBHOOK_TOLERANCE_MS) {
    throw new AuthError('Klaviyo webhook refused: Klaviyo-Timestamp is more than 5 minutes from now');
  }
  let body: WebhookBody;
  try {
    body = JSON.parse(request.rawBody.toString('utf8')) as WebhookBody;
  } catch {
    throw new ValidationError('Klaviyo webhook body is not JSON');
  }
  if (!Array.isArray(body?.data)) throw new ValidationError('Klaviyo webhook body has no data array');
  const webhookId = request.headers['klaviyo-webhook-id'];
  if (webhookId !== undefined && body.meta?.klaviyo_webhook_id !== webhookId) {
    throw new AuthError(
      'Klaviyo webhook refused: meta.klaviyo_webhook_id does not match the Klaviyo-Webhook-Id header',
    );
  }
  const changes: InboundUnsubscribe[] = [];
  for (const item of body.data) {
    const meaning = typeof item.topic === 'string' ? UNSUBSCRIBE_TOPICS[item.topic] : undefined;
    if (meaning === undefined) continue;
    const event = item.payload?.data;
    const profile =
      (item.payload?.included ?? []).find((included) => included.type === 'profile')?.attributes ?? {};
    const eventId = text(item.external_id) ?? text(event?.id);
    if (eventId === undefined) throw new ValidationError('Klaviyo webhook event has no external_id');
    const change: InboundUnsubscribe = {
      eventId,
      ...meaning,
      occurredAt: text(event?.attributes?.datetime) ?? timestamp,
    };
    const email = text(profile['email']);
    const phone = text(profile['phone_number']);
    const customerId = text(profile['external_id']);
    if (email !== undefined) change.email = email;
    if (phone !== undefined) change.phone = phone;
    if (customerId !== undefined) change.customerId = customerId;
    changes.push(change);
  }
  return changes;
}
