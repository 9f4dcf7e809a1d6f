import { DestinationRunner, redactSettings, resolveDestinationSettings } from '@tessera/destination-kit';
import { mailchimpDestination } from './mailchimp.destination';
import { dataCenterOf, mailchimpAuthorization } from './mailchimp-settings';

const KEY = '0123456789abcdef0123456789abcdef-us21';

describe('Mailchimp settings', () => {
  it('puts the API key’s data center into the default base URL and applies the defaults', () => {
    expect(resolveDestinationSettings(mailchimpDestination, { apiKey: KEY, listId: 'a6b5da1054' })).toEqual({
      ok: true,
      settings: {
        apiKey: KEY,
        listId: 'a6b5da1054',
        baseUrl: 'https://us21.api.mailchimp.com',
        segmentIds: {},
        mergeFieldMapping: {},
        mergeCoolingOffMinutes: 1440,
      },
    });
  });

  it('keeps a base URL without {dc} (the sandbox) as it is', () => {
    const resolved = resolveDestinationSettings(mailchimpDestination, {
      apiKey: KEY,
      listId: 'a6b5da1054',
      baseUrl: 'http://localhost:8080/sandbox/mailchimp',
    });
    expect(resolved).toMatchObject({
      ok: true,
      settings: { baseUrl: 'http://localhost:8080/sandbox/mailchimp' },
    });
  });

  it('refuses a key without its data-center suffix at /apiKey, saying what a key looks like', () => {
    const expected = {
      ok: false,
      errors: [
        {
          pointer: '/apiKey',
          message:
            'must end with its data center, e.g. 0123456789abcdef0123456789abcdef-us21: copy the whole key from Mailchimp (Account → Extras → API keys)',
        },
      ],
    };
    expect(
      resolveDestinationSettings(mailchimpDestination, {
        apiKey: '0123456789abcdef0123456789abcdef',
        listId: 'a6b5da1054',
      }),
    ).toEqual(expected);
    expect(
      () => new DestinationRunner(mailchimpDestination, { settings: { apiKey: 'abc', listId: 'l1' } }),
    ).toThrow('Destination "mailchimp" settings are invalid: /apiKey must end with its data center');
  });

  it('requires the audience id and checks merge tags and segment ids', () => {
    const resolved = resolveDestinationSettings(mailchimpDestination, {
      apiKey: KEY,
      mergeFieldMapping: { loyalty_tier: 'loyalty tier' },
      segmentIds: { gold: 'abc' },
    });
    expect(resolved.ok).toBe(false);
    const pointers = resolved.ok ? [] : resolved.errors.map((issue) => issue.pointer);
    expect(pointers).toEqual(
      expect.arrayContaining(['/listId', '/mergeFieldMapping/loyalty_tier', '/segmentIds/gold']),
    );
  });

  it('refuses a webhook secret shorter than 16 characters', () => {
    const resolved = resolveDestinationSettings(mailchimpDestination, {
      apiKey: KEY,
      listId: 'l1',
      webhookSecret: 'short',
    });
    expect(resolved).toEqual({
      ok: false,
      errors: [expect.objectContaining({ pointer: '/webhookSecret' })],
    });
  });

  it('marks the API key and the webhook secret as secrets', () => {
    expect(
      redactSettings(mailchimpDestination.settingsSchema, {
        apiKey: KEY,
        listId: 'l1',
        webhookSecret: 'a-long-enough-webhook-secret',
      }),
    ).toEqual({ apiKey: '***', listId: 'l1', webhookSecret: '***' });
  });

  it('reads the data center from the key suffix', () => {
    expect(dataCenterOf(KEY)).toBe('us21');
    expect(dataCenterOf('key-us1')).toBe('us1');
    expect(dataCenterOf('0123456789abcdef0123456789abcdef')).toBeUndefined();
  });

  it('sends the key as HTTP basic auth, Mailchimp’s scheme, and caps connections at 10', () => {
    const headers = mailchimpDestination.requestHeaders({
      apiKey: KEY,
      listId: 'l1',
      baseUrl: 'https://us21.api.mailchimp.com',
      segmentIds: {},
      mergeFieldMapping: {},
    });
    expect(headers).toEqual({ authorization: mailchimpAuthorization(KEY) });
    const decoded = Buffer.from((headers['authorization'] ?? '').replace('Basic ', ''), 'base64').toString();
    expect(decoded).toBe(`tessera:${KEY}`);
    expect(mailchimpDestination.maxConcurrentRequests).toBe(10);
    expect(Object.keys(mailchimpDestination.operations).sort()).toEqual([
      'addToSegment',
      'deleteProfiles',
      'fetchProfiles',
      'mergeProfiles',
      'removeFromSegment',
      'subscribe',
      'suppress',
      'unsubscribe',
      'updateAttributes',
      'upsertProfiles',
    ]);
  });
});
