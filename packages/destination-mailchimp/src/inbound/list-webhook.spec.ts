import { AuthError, type InboundRequest, ValidationError } from '@tessera/destination-kit';
import type { MailchimpSettings } from '../mailchimp-settings';
import { answerListWebhookHandshake, parseListWebhook, webhookEventId } from './list-webhook';

const SECRET = 'webhook-secret-0123456789';
const settings: MailchimpSettings = {
  baseUrl: 'https://us21.api.mailchimp.com',
  apiKey: '0123456789abcdef0123456789abcdef-us21',
  listId: 'a6b5da1054',
  webhookSecret: SECRET,
  segmentIds: {},
  mergeFieldMapping: {},
};

/** The unsubscribe example of Mailchimp’s webhook guide (Marketing API → Guides → webhooks). */
const UNSUBSCRIBE =
  'type=unsubscribe&fired_at=2009-03-26 21:40:57&data[action]=unsub&data[reason]=manual&data[id]=8a25ff1d98' +
  '&data[list_id]=a6b5da1054&data[email]=api+unsub@mailchimp.com&data[email_type]=html' +
  '&data[merges][EMAIL]=api+unsub@mailchimp.com&data[merges][FNAME]=Mailchimp&data[merges][LNAME]=API' +
  '&data[merges][INTERESTS]=Group1,Group2&data[ip_opt]=10.20.10.30&data[campaign_id]=cb398d21d2';

const request = (
  body: string,
  query: Record<string, string | undefined> = { secret: SECRET },
): InboundRequest => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  rawBody: Buffer.from(encodeForm(body), 'utf8'),
  method: 'POST',
  query,
});

/** Mailchimp URL-encodes the brackets and spaces of its form fields; `+` in the examples is a literal plus. */
function encodeForm(body: string): string {
  return body
    .split('&')
    .map((pair) => {
      const [name = '', value = ''] = pair.split('=');
      return `${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
    })
    .join('&');
}

const parse = (input: InboundRequest, configured: MailchimpSettings = settings) =>
  parseListWebhook(input, { settings: configured });

const thrown = (work: () => unknown): unknown => {
  try {
    work();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('Mailchimp list webhook', () => {
  it('turns an unsubscribe into an email opt-out with a stable event id', () => {
    const changes = parse(request(UNSUBSCRIBE));

    expect(changes).toEqual([
      {
        eventId: webhookEventId(
          'unsubscribe',
          '2009-03-26 21:40:57',
          'api+unsub@mailchimp.com',
          'a6b5da1054',
        ),
        channel: 'email',
        change: 'unsubscribed',
        email: 'api+unsub@mailchimp.com',
        occurredAt: '2009-03-26T21:40:57.000Z',
      },
    ]);
    expect(parse(request(UNSUBSCRIBE))[0]?.eventId).toBe(changes[0]?.eventId);
    const later = UNSUBSCRIBE.replace('21:40:57', '21:41:00');
    expect(parse(request(later))[0]?.eventId).not.toBe(changes[0]?.eventId);
  });

  it('reads the customer id from the TESSERA_ID merge field when the member has one', () => {
    const [change] = parse(request(`${UNSUBSCRIBE}&data[merges][TESSERA_ID]=C00042`));
    expect(change?.customerId).toBe('C00042');
  });

  it('turns a cleaned address (hard bounce or abuse report) into a suppression', () => {
    const cleaned =
      'type=cleaned&fired_at=2009-03-26 22:01:00&data[list_id]=a6b5da1054&data[campaign_id]=4fjk2ma9xd' +
      '&data[reason]=hard&data[email]=api+cleaned@mailchimp.com';

    expect(parse(request(cleaned))).toEqual([
      expect.objectContaining({ change: 'suppressed', channel: 'email', email: 'api+cleaned@mailchimp.com' }),
    ]);
  });

  it.each([
    [
      'subscribe',
      'type=subscribe&fired_at=2009-03-26 21:35:57&data[id]=8a25ff1d98&data[list_id]=a6b5da1054&data[email]=api@mailchimp.com',
    ],
    [
      'profile',
      'type=profile&fired_at=2009-03-26 21:31:21&data[id]=8a25ff1d98&data[list_id]=a6b5da1054&data[email]=api@mailchimp.com',
    ],
    [
      'upemail',
      'type=upemail&fired_at=2009-03-26 22:15:09&data[list_id]=a6b5da1054&data[new_id]=51da8c3259&data[new_email]=api+new@mailchimp.com&data[old_email]=api+old@mailchimp.com',
    ],
    [
      'campaign',
      'type=campaign&fired_at=2009-03-26 21:31:21&data[id]=5aa2102003&data[subject]=Test&data[status]=sent&data[reason]=&data[list_id]=a6b5da1054',
    ],
  ])('reports no opt-out for a %s event', (_type, body) => {
    expect(parse(request(body))).toEqual([]);
  });

  it('refuses a webhook whose URL has no secret, or the wrong one, with an AuthError', () => {
    const missing = thrown(() => parse(request(UNSUBSCRIBE, {})));
    expect(missing).toBeInstanceOf(AuthError);
    expect((missing as AuthError).message).toBe(
      'Mailchimp webhook refused: the callback URL has no ?secret= parameter',
    );
    const wrong = thrown(() => parse(request(UNSUBSCRIBE, { secret: 'webhook-secret-0123456780' })));
    expect(wrong).toBeInstanceOf(AuthError);
    expect((wrong as AuthError).message).toBe(
      'Mailchimp webhook refused: the ?secret= of the callback URL does not match webhookSecret',
    );
    const short = thrown(() => parse(request(UNSUBSCRIBE, { secret: 'x' })));
    expect(short).toBeInstanceOf(AuthError);
  });

  it('refuses every webhook until a webhookSecret is configured, saying so', () => {
    const { webhookSecret: _unset, ...unconfigured } = settings;
    const error = thrown(() => parse(request(UNSUBSCRIBE), unconfigured));

    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).message).toBe(
      'Mailchimp webhook refused: configure webhookSecret on the destination and put it in the webhook URL as ?secret=…',
    );
  });

  it.each([
    [
      'no type',
      'fired_at=2009-03-26 21:40:57',
      'Mailchimp webhook has no known type (got null; expected one of subscribe, unsubscribe, profile, upemail, cleaned, campaign)',
    ],
    [
      'an unknown type',
      'type=bounce',
      'Mailchimp webhook has no known type (got "bounce"; expected one of subscribe, unsubscribe, profile, upemail, cleaned, campaign)',
    ],
    [
      'no email',
      UNSUBSCRIBE.replace('&data[email]=api+unsub@mailchimp.com', ''),
      'Mailchimp unsubscribe webhook has no data[email]',
    ],
    [
      'no fired_at',
      UNSUBSCRIBE.replace('fired_at=2009-03-26 21:40:57&', ''),
      'Mailchimp unsubscribe webhook has no fired_at',
    ],
    [
      'a bad fired_at',
      UNSUBSCRIBE.replace('2009-03-26 21:40:57', 'yesterday'),
      'Mailchimp webhook fired_at is not "YYYY-MM-DD HH:MM:SS" (got yesterday)',
    ],
    [
      'another list',
      UNSUBSCRIBE.replace('data[list_id]=a6b5da1054', 'data[list_id]=ffffffffff'),
      'Mailchimp webhook is for list ffffffffff, but this destination syncs list a6b5da1054',
    ],
  ])('refuses a malformed body (%s) with a ValidationError', (_case, body, message) => {
    const error = thrown(() => parse(request(body)));

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toBe(message);
  });

  it('refuses a body that is not a form', () => {
    const error = thrown(() =>
      parse({
        ...request(UNSUBSCRIBE),
        headers: { 'content-type': 'application/json' },
        rawBody: Buffer.from('{}'),
      }),
    );

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toBe(
      'Mailchimp webhook body must be application/x-www-form-urlencoded (got application/json)',
    );
  });

  it('answers the GET Mailchimp checks the URL with, and leaves POSTs to the parser', async () => {
    expect(
      await answerListWebhookHandshake({ headers: {}, rawBody: Buffer.alloc(0), method: 'GET' }),
    ).toEqual({
      status: 200,
    });
    expect(await answerListWebhookHandshake(request(UNSUBSCRIBE))).toBeUndefined();
    expect(await answerListWebhookHandshake({ headers: {}, rawBody: Buffer.alloc(0) })).toBeUndefined();
  });
});
