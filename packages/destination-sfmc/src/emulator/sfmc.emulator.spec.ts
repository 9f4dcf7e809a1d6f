import { EspSandbox, ManualClock } from '@tessera/destination-kit';
import { buildSubscriberEnvelope } from '../requests/subscriber-status.request';
import { SFMC_RATE_BUDGETS } from '../sfmc-endpoints';
import { TEST_EMULATOR_CONFIG } from '../testing/sfmc-test-harness';
import { INVALID_CLIENT_DESCRIPTION, SfmcEmulator } from './sfmc.emulator';

type Call = [string, string, Record<string, string>, Buffer];

const json = (method: string, path: string, body: unknown, token?: string): Call => [
  method,
  `/sfmc${path}`,
  {
    'content-type': 'application/json',
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  },
  Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
];

const soap = (xml: string): Call => [
  'POST',
  '/sfmc/Service.asmx',
  { 'content-type': 'text/xml; charset=utf-8', soapaction: 'Create' },
  Buffer.from(xml),
];

const credentials = {
  grant_type: 'client_credentials',
  client_id: 'tessera-client',
  client_secret: 'tessera-secret',
};
const ROWSET = '/hub/v1/dataevents/key:TesseraProfiles/rowset';
const JSON_HEADERS = { 'content-type': 'application/json' };
const restError = (message: string, errorcode: number) => ({ message, errorcode, documentation: '' });

describe('SfmcEmulator', () => {
  let emulator: SfmcEmulator;
  let sandbox: EspSandbox;
  let clock: ManualClock;

  const token = async (): Promise<string> => {
    const response = await sandbox.handle(...json('POST', '/v2/token', credentials));
    return (response.body as { access_token: string }).access_token;
  };

  beforeEach(() => {
    emulator = new SfmcEmulator({ config: TEST_EMULATOR_CONFIG });
    clock = new ManualClock(Date.parse('2026-11-24T09:00:00Z'));
    // Limits enforced (not lifted): the emulator's rate limits are under test.
    sandbox = new EspSandbox([emulator], { clock });
  });

  describe('configuration', () => {
    it('knows no client and no data extension until configured, as a new tenant', async () => {
      sandbox = new EspSandbox([new SfmcEmulator()], { clock });
      const refused = await sandbox.handle(...json('POST', '/v2/token', credentials));
      expect(refused).toEqual({
        status: 401,
        headers: JSON_HEADERS,
        body: {
          error: 'invalid_client',
          error_description: INVALID_CLIENT_DESCRIPTION,
          error_uri: 'https://developer.salesforce.com/docs',
        },
      });
      expect(new SfmcEmulator().configuration()).toEqual({ clients: [], dataExtensions: [] });
    });

    it('takes its configuration through the sandbox control API and keeps it across reset', async () => {
      sandbox = new EspSandbox([new SfmcEmulator()], { clock });
      const put = await sandbox.handle(
        'PUT',
        '/sfmc/_sandbox/config',
        JSON_HEADERS,
        Buffer.from(JSON.stringify(TEST_EMULATOR_CONFIG)),
      );
      expect(put.status).toBe(200);
      sandbox.reset();
      expect((await sandbox.handle(...json('POST', '/v2/token', credentials))).status).toBe(200);
      expect(sandbox.emulator<SfmcEmulator>('sfmc').configuration()).toEqual(TEST_EMULATOR_CONFIG);
    });

    it.each([
      ['not an object', [], 'SFMC emulator configuration must be an object { clients, dataExtensions }'],
      [
        'a client without a secret and an unknown setting',
        { clients: [{ clientId: 'a', secret: 'b' }] },
        'SFMC emulator configuration is invalid: /clients/0/secret is not a known setting (known: clientId, clientSecret, accountId); /clients/0/clientSecret must be a non-empty string',
      ],
      [
        'a column of an unknown type, a maxLength on a Number, a primary key naming no column',
        {
          dataExtensions: [
            {
              key: 'DE',
              primaryKeys: ['Id'],
              columns: [
                { name: 'Key', type: 'Text' },
                { name: 'Points', type: 'Integer' },
                { name: 'Tier', type: 'Number', maxLength: 10 },
              ],
            },
          ],
        },
        'SFMC emulator configuration is invalid: /dataExtensions/0/columns/1/type must be one of Text, Number, Decimal, Date, Boolean, EmailAddress, Phone, Locale (got "Integer"); /dataExtensions/0/columns/2/maxLength applies to Text columns only (the other types have a fixed length); /dataExtensions/0/primaryKeys/0 names no column of the data extension (got "Id")',
      ],
      [
        'two columns differing only in case, and a column name SFMC refuses',
        {
          dataExtensions: [
            {
              key: 'DE',
              primaryKeys: ['Key'],
              columns: [
                { name: 'Key', type: 'Text' },
                { name: 'key', type: 'Text' },
                { name: 'points-balance', type: 'Number' },
              ],
            },
          ],
        },
        'SFMC emulator configuration is invalid: /dataExtensions/0/columns/1/name repeats the column "key"; /dataExtensions/0/columns/2/name must be a column name: letters, digits, underscores and spaces, not starting with a digit',
      ],
    ])('refuses %s with a clear error (400 over the control API)', async (_case, config, message) => {
      expect(() => new SfmcEmulator().configure(config)).toThrow(new Error(message));
      const put = await sandbox.handle(
        'PUT',
        '/sfmc/_sandbox/config',
        JSON_HEADERS,
        Buffer.from(JSON.stringify(config)),
      );
      expect(put).toEqual({ status: 400, headers: JSON_HEADERS, body: { error: message } });
      expect(emulator.configuration()).toEqual(TEST_EMULATOR_CONFIG);
    });
  });

  describe('tokens', () => {
    it('issues tokens to configured clients that live 1,080 seconds, and counts the requests', async () => {
      const response = await sandbox.handle(
        ...json('POST', '/v2/token', { ...credentials, account_id: '100000001' }),
      );

      expect(response).toMatchObject({
        status: 200,
        body: {
          token_type: 'Bearer',
          expires_in: 1080,
          access_token: expect.stringMatching(/^sfmc-sandbox-/),
        },
      });
      const value = (response.body as { access_token: string }).access_token;
      const context = await sandbox.handle(...json('GET', '/platform/v1/tokenContext', '', value));
      expect(context.body).toMatchObject({
        organization: { id: 100000001 },
        application: { id: 'tessera-client' },
      });
      clock.advance(1080_000);
      expect((await sandbox.handle(...json('GET', '/platform/v1/tokenContext', '', value))).status).toBe(401);
      expect(emulator.state().tokenRequests).toBe(1);
    });

    it.each([
      ['a wrong secret', { client_secret: 'nope' }],
      ['an unknown client', { client_id: 'someone-else' }],
    ])('refuses %s with 401 invalid_client, as SFMC does', async (_case, change) => {
      const response = await sandbox.handle(...json('POST', '/v2/token', { ...credentials, ...change }));
      expect(response).toEqual({
        status: 401,
        headers: JSON_HEADERS,
        body: {
          error: 'invalid_client',
          error_description: INVALID_CLIENT_DESCRIPTION,
          error_uri: 'https://developer.salesforce.com/docs',
        },
      });
    });

    it('refuses another grant type with 400 unsupported_grant_type', async () => {
      const response = await sandbox.handle(
        ...json('POST', '/v2/token', { ...credentials, grant_type: 'password' }),
      );
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ error: 'unsupported_grant_type' });
    });

    it.each([
      ['no token', undefined],
      ['an unknown token', 'forged'],
    ])('refuses a REST call with %s: 401 Not Authorized', async (_case, value) => {
      const response = await sandbox.handle(...json('POST', ROWSET, [], value));
      expect(response).toEqual({ status: 401, headers: JSON_HEADERS, body: restError('Not Authorized', 0) });
    });

    it('refuses revoked tokens', async () => {
      const value = await token();
      emulator.revokeTokens();
      expect((await sandbox.handle(...json('GET', '/platform/v1/tokenContext', '', value))).status).toBe(401);
    });
  });

  describe('throttling from the destination’s own budgets', () => {
    const restBudget = SFMC_RATE_BUDGETS.rest.windows[0];

    it('throttles every REST path of the tenant together with 429, Retry-After and errorcode 50100', async () => {
      const value = await token();
      const perSecond = restBudget?.requests ?? 0;
      for (let call = 0; call < perSecond; call++) {
        const path =
          call % 2 === 0
            ? '/platform/v1/tokenContext'
            : '/data/v1/customobjectdata/key/TesseraProfiles/rowset';
        expect((await sandbox.handle(...json('GET', path, '', value))).status).toBe(200);
      }
      const throttled = await sandbox.handle(
        ...json('POST', ROWSET, [{ keys: { TesseraId: 'C1' }, values: {} }], value),
      );
      expect(throttled).toEqual({
        status: 429,
        headers: { ...JSON_HEADERS, 'retry-after': '1' },
        body: {
          message: 'Rate limit exceeded',
          errorcode: 50100,
          retryAfter: 1,
          documentation:
            'https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm',
        },
      });
      // SOAP and tokens have budgets of their own.
      expect((await sandbox.handle(...json('POST', '/v2/token', credentials))).status).toBe(200);
    });

    it('throttles token requests by the token budget', async () => {
      const perMinute = SFMC_RATE_BUDGETS.token.windows[0]?.requests ?? 0;
      for (let call = 0; call < perMinute; call++) await token();
      const throttled = await sandbox.handle(...json('POST', '/v2/token', credentials));
      expect(throttled.status).toBe(429);
      expect(throttled.headers?.['retry-after']).toBe('60');
    });
  });

  describe('SOAP', () => {
    const envelope = (value: string, status = 'Active'): string =>
      buildSubscriberEnvelope(value, 'http://sandbox/Service.asmx', [
        { SubscriberKey: 'C1', EmailAddress: 'ada@example.com', Status: 'Active' },
      ]).replace('<Status>Active</Status>', `<Status>${status}</Status>`);

    it('answers a bad token with a security fault (HTTP 500)', async () => {
      const response = await sandbox.handle(...soap(envelope('forged')));
      expect(response.status).toBe(500);
      expect(response.body).toContain(
        '<faultcode xmlns:q0="http://schemas.xmlsoap.org/ws/2002/12/secext">q0:Security</faultcode><faultstring>Login Failed</faultstring>',
      );
    });

    it('answers an invalid Status with a Client fault, as the XML serializer refuses it', async () => {
      const response = await sandbox.handle(...soap(envelope(await token(), 'Paused')));
      expect(response.status).toBe(500);
      expect(response.body).toContain('<faultcode>soap:Client</faultcode>');
      expect(response.body).toContain('Objects[0].Status must be one of');
    });

    it('creates then updates subscribers and reports each in Results', async () => {
      const value = await token();
      const created = await sandbox.handle(...soap(envelope(value)));
      expect(created.status).toBe(200);
      expect(created.body).toContain(
        '<StatusCode>OK</StatusCode><StatusMessage>Created Subscriber.</StatusMessage><OrdinalID>0</OrdinalID>',
      );
      const updated = await sandbox.handle(...soap(envelope(value, 'Unsubscribed')));
      expect(updated.body).toContain('<StatusMessage>Updated Subscriber.</StatusMessage>');
      expect(emulator.state().subscribers).toEqual([
        { SubscriberKey: 'C1', EmailAddress: 'ada@example.com', Status: 'Unsubscribed' },
      ]);
    });

    it('throttles SOAP by the SOAP budget with HTTP 500 and a Server fault, apart from REST', async () => {
      const value = await token();
      const perSecond = SFMC_RATE_BUDGETS.soap.windows[0]?.requests ?? 0;
      for (let call = 0; call < perSecond; call++) {
        expect((await sandbox.handle(...soap(envelope(value)))).status).toBe(200);
      }
      const throttled = await sandbox.handle(...soap(envelope(value)));
      expect(throttled.status).toBe(500);
      expect(throttled.body).toContain('<faultcode>soap:Server</faultcode>');
      expect((await sandbox.handle(...json('GET', '/platform/v1/tokenContext', '', value))).status).toBe(200);
    });
  });

  it('verifies ENS callbacks only with their verification key', async () => {
    const value = await token();
    const callback = emulator.createCallback('https://tessera.example/hook');
    const wrong = await sandbox.handle(
      ...json(
        'POST',
        '/platform/v1/ens-verify',
        { callbackId: callback.callbackId, verificationKey: 'x' },
        value,
      ),
    );
    expect(wrong).toEqual({
      status: 400,
      headers: JSON_HEADERS,
      body: restError('Invalid callbackId or verificationKey', 10001),
    });
    const right = await sandbox.handle(
      ...json(
        'POST',
        '/platform/v1/ens-verify',
        { callbackId: callback.callbackId, verificationKey: callback.verificationKey },
        value,
      ),
    );
    expect(right.status).toBe(200);
    expect(emulator.state().callbacks).toEqual([
      { callbackId: callback.callbackId, url: 'https://tessera.example/hook', verified: true },
    ]);
  });

  it('forgets its data on reset, and keeps its configuration', async () => {
    const value = await token();
    await sandbox.handle(...json('POST', ROWSET, [{ keys: { TesseraId: 'C1' }, values: {} }], value));
    emulator.createCallback('https://tessera.example/hook');
    emulator.reset();
    expect(emulator.state()).toEqual({
      tokenRequests: 0,
      dataExtensions: { TesseraProfiles: [] },
      asyncRequests: [],
      subscribers: [],
      contactDeletions: [],
      callbacks: [],
    });
    expect(emulator.configuration()).toEqual(TEST_EMULATOR_CONFIG);
    expect((await sandbox.handle(...json('GET', '/platform/v1/tokenContext', '', value))).status).toBe(401);
  });
});
