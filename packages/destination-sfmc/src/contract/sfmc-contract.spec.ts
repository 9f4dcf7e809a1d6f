import { SFMC_ENDPOINTS } from '../sfmc-endpoints';
import { buildSubscriberEnvelope } from '../requests/subscriber-status.request';
import { sfmcContract } from '../testing/sfmc-test-harness';
import { validateSoapEnvelope } from './soap-envelope.validator';

const headers = { authorization: 'Bearer token', 'content-type': 'application/json' };

describe('SFMC request contract', () => {
  it('knows every REST endpoint the destination calls, and flags one it does not', () => {
    for (const endpoint of Object.values(SFMC_ENDPOINTS)) {
      const path = endpoint.path.replace('{key}', 'TesseraProfiles').replace('{requestId}', 'abc');
      const violations = sfmcContract.validate({ method: endpoint.method, path, headers });
      expect([path, violations.filter((violation) => violation.where === 'path')]).toEqual([path, []]);
    }
    const unknown = sfmcContract.validate({
      method: 'POST',
      path: '/hub/v1/dataevents/key:X/rows',
      headers,
      body: [],
    });
    expect(unknown.map((violation) => violation.where)).toEqual(['path']);
  });

  it('refuses rowset rows without keys or TesseraId', () => {
    const path = '/hub/v1/dataevents/key:TesseraProfiles/rowset';
    const noKeys = sfmcContract.validate({ method: 'POST', path, headers, body: [{ values: { A: 1 } }] });
    expect(noKeys.map((violation) => violation.message)).toEqual(["/0 is missing required property 'keys'"]);
    const noId = sfmcContract.validate({ method: 'POST', path, headers, body: [{ keys: {}, values: {} }] });
    expect(noId.map((violation) => violation.pointer)).toEqual(['/0/keys']);
  });

  it('refuses a rowset of 51 rows: the synchronous limit is 50', () => {
    const path = '/hub/v1/dataevents/key:TesseraProfiles/rowset';
    const rows = (count: number) =>
      Array.from({ length: count }, (_, i) => ({ keys: { TesseraId: `C${i}` }, values: {} }));
    expect(sfmcContract.validate({ method: 'POST', path, headers, body: rows(50) })).toEqual([]);
    expect(sfmcContract.validate({ method: 'POST', path, headers, body: rows(51) })).toEqual([
      { where: 'body', pointer: '', message: 'body must NOT have more than 50 items' },
    ]);
  });

  it('refuses an async request of 32,001 rows, and one with a row missing TesseraId', () => {
    const path = '/data/v1/async/dataextensions/key:TesseraProfiles/rows';
    const items = Array.from({ length: 32_001 }, (_, i) => ({ TesseraId: `C${i}` }));
    expect(sfmcContract.validate({ method: 'PUT', path, headers, body: { items } })).toEqual([
      { where: 'body', pointer: '/items', message: '/items must NOT have more than 32000 items' },
    ]);
    const missing = sfmcContract.validate({
      method: 'PUT',
      path,
      headers,
      body: { items: [{ Email: 'a@b.co' }] },
    });
    expect(missing.map((violation) => violation.message)).toEqual([
      "/items/0 is missing required property 'TesseraId'",
    ]);
  });

  it('refuses a token request without credentials, and REST calls without a bearer', () => {
    const token = sfmcContract.validate({
      method: 'POST',
      path: '/v2/token',
      headers,
      body: { grant_type: 'password' },
    });
    expect(token.map((violation) => violation.message)).toEqual([
      "body is missing required property 'client_id'",
      "body is missing required property 'client_secret'",
      '/grant_type must be equal to one of the allowed values: "client_credentials"',
    ]);
    const anonymous = sfmcContract.validate({
      method: 'GET',
      path: '/platform/v1/tokenContext',
      headers: {},
    });
    expect(anonymous.map((violation) => violation.pointer)).toEqual(['Authorization']);
  });

  it('refuses a contact deletion of another type than keys', () => {
    const violations = sfmcContract.validate({
      method: 'POST',
      path: '/contacts/v1/contacts/actions/delete',
      headers,
      body: { values: ['C1'], DeleteOperationType: 'Contact' },
    });
    expect(violations.map((violation) => `${violation.where} ${violation.pointer}`)).toEqual([
      'query type',
      'body /DeleteOperationType',
    ]);
  });
});

describe('SOAP envelope validator', () => {
  const valid = buildSubscriberEnvelope('token', 'https://x/Service.asmx', [
    { SubscriberKey: 'C1', EmailAddress: 'ada@example.com', Status: 'Unsubscribed' },
  ]);

  it('accepts what the destination sends', () => {
    expect(validateSoapEnvelope({ headers: { soapaction: 'Create' }, body: valid })).toEqual([]);
  });

  it.each([
    [
      'an envelope without token',
      valid.replace(/<fueloauth[^>]*>token<\/fueloauth>/, ''),
      ['Header has no fueloauth access token'],
    ],
    [
      'a bad Status',
      valid.replace('Unsubscribed', 'Paused'),
      ['Objects[0].Status must be one of Active, Bounced, Held, Unsubscribed, Deleted (got "Paused")'],
    ],
    [
      'a missing SubscriberKey',
      valid.replace('<SubscriberKey>C1</SubscriberKey>', ''),
      ['Objects[0].SubscriberKey is required'],
    ],
    [
      'another object type',
      valid.replace('xsi:type="Subscriber"', 'xsi:type="List"'),
      ['Objects[0] must have xsi:type="Subscriber"'],
    ],
    ['no objects', valid.replace(/<Objects.*<\/Objects>/, ''), ['CreateRequest has no Objects']],
    ['not XML at all', '{"json": true}', ['body is not a SOAP envelope (no Envelope element)']],
  ])('rejects %s', (_case, body, problems) => {
    expect(validateSoapEnvelope({ headers: { soapaction: 'Create' }, body })).toEqual(problems);
  });

  it('rejects more than 50 objects in one request', () => {
    const subscribers = (count: number) =>
      Array.from({ length: count }, (_, i) => ({
        SubscriberKey: `C${i}`,
        EmailAddress: `m${i}@example.com`,
        Status: 'Active' as const,
      }));
    const envelope = (count: number) =>
      buildSubscriberEnvelope('token', 'https://x/Service.asmx', subscribers(count));
    expect(validateSoapEnvelope({ headers: { soapaction: 'Create' }, body: envelope(50) })).toEqual([]);
    expect(validateSoapEnvelope({ headers: { soapaction: 'Create' }, body: envelope(51) })).toEqual([
      'CreateRequest has 51 Objects; SFMC takes at most 50 per synchronous request',
    ]);
  });

  it('rejects a SOAPAction that does not match the method', () => {
    expect(validateSoapEnvelope({ headers: { soapaction: 'Update' }, body: valid })).toEqual([
      'SOAPAction header must be Create (got "Update")',
    ]);
  });
});
