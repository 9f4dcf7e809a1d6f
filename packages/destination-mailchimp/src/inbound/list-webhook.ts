import { createHash, timingSafeEqual } from 'node:crypto';
import {
  AuthError,
  type InboundReply,
  type InboundRequest,
  type InboundUnsubscribe,
  ValidationError,
} from '@tessera/destination-kit';
import { TESSERA_ID_MERGE_FIELD } from '../mailchimp-endpoints';
import type { MailchimpSettings } from '../mailchimp-settings';

/*
 * Mailchimp list webhooks: form-encoded POSTs (`type=unsubscribe&fired_at=…&data[email]=…`) to the callback URL.
 * Mailchimp signs nothing, so the URL carries a secret (`?secret=…`) compared in constant time with
 * `webhookSecret`. `unsubscribe` becomes an email opt-out and `cleaned` (hard bounce, abuse report) a
 * suppression; subscribe, profile, upemail and campaign events report no opt-out.
 */

/** Webhook event types Mailchimp sends. */
const KNOWN_TYPES = new Set(['subscribe', 'unsubscribe', 'profile', 'upemail', 'cleaned', 'campaign']);

const OPT_OUTS: Record<string, InboundUnsubscribe['change']> = {
  unsubscribe: 'unsubscribed',
  cleaned: 'suppressed',
};

/** Mailchimp's `fired_at`: `YYYY-MM-DD HH:MM:SS`, in UTC. */
const FIRED_AT = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/;

function sameSecret(given: string, expected: string): boolean {
  // Equal-length digests: timingSafeEqual needs them, and the secret's length stays hidden too.
  const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Refuses a request whose `?secret=` is missing or wrong, or any request when no secret is configured. */
export function verifyWebhookSecret(request: InboundRequest, settings: MailchimpSettings): void {
  const expected = settings.webhookSecret;
  if (expected === undefined) {
    throw new AuthError(
      'Mailchimp webhook refused: configure webhookSecret on the destination and put it in the webhook URL as ?secret=…',
    );
  }
  const given = request.query?.['secret'];
  if (given === undefined || given === '') {
    throw new AuthError('Mailchimp webhook refused: the callback URL has no ?secret= parameter');
  }
  if (!sameSecret(given, expected)) {
    throw new AuthError(
      'Mailchimp webhook refused: the ?secret= of the callback URL does not match webhookSecret',
    );
  }
}

/** A stable id for one event: Mailchimp resends the same type, time, address and list on redelivery. */
export function webhookEventId(type: string, firedAt: string, email: string, listId: string): string {
  const digest = createHash('sha256')
    .update([type, firedAt, email.toLowerCase(), listId].join('\n'), 'utf8')
    .digest('hex');
  return `mailchimp:${digest.slice(0, 40)}`;
}

/** Verifies a list webhook and returns the opt-outs it reports (none for other event types). */
export function parseListWebhook(
  request: InboundRequest,
  { settings }: { settings: MailchimpSettings },
): InboundUnsubscribe[] {
  verifyWebhookSecret(request, settings);
  const contentType = request.headers['content-type'];
  if (contentType !== undefined && !/^application\/x-www-form-urlencoded\b/i.test(contentType)) {
    throw new ValidationError(
      `Mailchimp webhook body must be application/x-www-form-urlencoded (got ${contentType})`,
    );
  }
  const form = new URLSearchParams(request.rawBody.toString('utf8'));
  const type = form.get('type');
  if (type === null || !KNOWN_TYPES.has(type)) {
    throw new ValidationError(
      `Mailchimp webhook has no known type (got ${JSON.stringify(type)}; expected one of ${[...KNOWN_TYPES].join(', ')})`,
    );
  }
  const change = OPT_OUTS[type];
  if (change === undefined) return [];
  const required = (name: string): string => {
    const value = form.get(name);
    if (value === null || value.trim() === '') {
      throw new ValidationError(`Mailchimp ${type} webhook has no ${name}`);
    }
    return value.trim();
  };
  const firedAt = required('fired_at');
  const email = required('data[email]');
  const listId = required('data[list_id]');
  if (listId !== settings.listId) {
    throw new ValidationError(
      `Mailchimp webhook is for list ${listId}, but this destination syncs list ${settings.listId}`,
    );
  }
  const time = FIRED_AT.exec(firedAt);
  const occurredAt = time === null ? Number.NaN : Date.parse(`${time[1]}T${time[2]}Z`);
  if (Number.isNaN(occurredAt)) {
    throw new ValidationError(`Mailchimp webhook fired_at is not "YYYY-MM-DD HH:MM:SS" (got ${firedAt})`);
  }
  const customerId = form.get(`data[merges][${TESSERA_ID_MERGE_FIELD}]`);
  return [
    {
      eventId: webhookEventId(type, firedAt, email, listId),
      channel: 'email',
      change,
      email,
      ...(customerId === null || customerId === '' ? {} : { customerId }),
      occurredAt: new Date(occurredAt).toISOString(),
    },
  ];
}

/** Mailchimp checks a webhook URL with a GET when the webhook is created: any 200 will do. */
export async function answerListWebhookHandshake(request: InboundRequest): Promise<InboundReply | undefined> {
  return (request.method ?? 'POST').toUpperCase() === 'GET' ? { status: 200 } : undefined;
}
