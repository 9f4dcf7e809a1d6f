import { EspSandbox, ManualClock, type SandboxResponse } from '@tessera/destination-kit';
import { buildSubscriberEnvelope } from '../requests/subscriber-status.request';
import { SfmcEmulator } from './sfmc.emulator';

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

const credentials = { grant_type: 'client_credentials', client_id: 'id', client_secret: 'secret' };

describe('SfmcEmulator', () => {
  let emulator: SfmcEmulator;
  let sandbox: EspSandbox;
  let clock: ManualClock;

  const token = async (): Promise<string> => {
    const response = await sandbox.handle(...json('POST', '/v2/token', credentials));
    return (response.body as { access_token: string }).access_token;
  };

  beforeEach(() => {
    emulator = new SfmcEmulator({ clientSecret: 'secret' });
    clock = new ManualClock(Date.parse('2026-11-24T09:00:00Z'));
    // Limits enforced (not lifted): the emulator's rate limits are under test.
    sandbox = new EspSandbox([emulator], { clock });
  });

  it('issues tokens that live 1,080 seconds and counts the requests', async () => {
    const response = await sandbox.handle(
      ...json('POST', '/v2/token', { ...credentials, account_id: '100000001' }),
    );

    expect(response).toMatchObject({
      status: 200,
      body: { token_type: 'Bearer', expires_in: 1080, access_token: expect.stringMatching(/^sfmc-sandbox-/) },
    });
    const value = (response.body as { access_token: string }).access_token;
    expect((await sandbox.handle(...json('GET', '/platform/v1/tokenContext', '', value))).status).toBe(200);
    clock.advance(1080_000);
    expect((await sandbox.handle(...json('GET', '/platform/v1/tokenContext', '', value))).status).toBe(401);
    expect(emulator.state().tokenRequests).toBe(1);
  });

  it('refuses wrong client credentials with an OAuth error', async () => {
    const response = await sandbox.handle(
      ...json('POST', '/v2/token', { ...credentials, client_secret: 'nope' }),
    );
    expect(response).toEqual({
      status: 401,
      headers: { 'content-type': 'application/json' },
      body: {
        error: 'invalid_client',
        error_description: 'Client authentication failed.',
        error_uri: 'https://developer.salesforce.com/docs',
      },
    });
  });

  it.each([
    ['no token', undefined],
    ['an unknown token', 'forged'],
  ])('refuses a REST call with %s: 401 Not Authorized', async (_case, value) => {
    const response = await sandbox.handle(
      ...json('POST', '/hub/v1/dataevents/key:TesseraProfiles/rowset', [], value),
    );
    expect(response).toEqual({
      status: 401,
      headers: { 'content-type': 'application/json' },
      body: { message: 'Not Authorized', errorcode: 0, documentation: '' },
    });
  });

  it('refuses revoked tokens', async () => {
    const value = await token();
    emulator.revokeTokens();
    expect((await sandbox.handle(...json('GET', '/platform/v1/tokenContext', '', value))).status).toBe(401);
  });

  it.each([
    [
      'not an array',
      { keys: {} },
      400,
      {
        message: 'Request body must be a non-empty array of { keys, values } rows',
        errorcode: 10001,
        documentation: '',
      },
    ],
    [
      'a row without keys',
      [{ values: {} }],
      400,
      {
        message: 'Row 0 must be an object with "keys" and "values" objects',
        errorcode: 10001,
        documentation: '',
      },
    ],
    [
      'a bad email',
      [{ keys: { TesseraId: 'C1' }, values: { EmailAddress: 'x' } }],
      400,
      {
        message: 'Unable to save rows for data extension TesseraProfiles',
        errorcode: 10006,
        documentation: '',
        additionalErrors: [
          { message: "EmailAddress 'x' is not a valid email address", errorcode: 10000, documentation: '' },
        ],
      },
    ],
  ])('refuses a rowset with %s and saves nothing', async (_case, body, status, expected) => {
    const value = await token();
    const response = await sandbox.handle(
      ...json('POST', '/hub/v1/dataevents/key:TesseraProfiles/rowset', body, value),
    );
    expect(response).toEqual({ status, headers: { 'content-type': 'application/json' }, body: expected });
    expect(emulator.state().dataExtensions['TesseraProfiles']).toEqual([]);
  });

  it('refuses an unknown data extension', async () => {
    const value = await token();
    const response = await sandbox.handle(...json('POST', '/hub/v1/dataevents/key:Nope/rowset', [], value));
    expect(response.body).toEqual({
      message: "Data extension with external key 'Nope' does not exist",
      errorcode: 10000,
      documentation: '',
    });
  });

  it('refuses async requests of more than 32,000 rows', async () => {
    const value = await token();
    const items = Array.from({ length: 32_001 }, (_, i) => ({ TesseraId: `C${i}` }));
    const response = await sandbox.handle(
      ...json('PUT', '/data/v1/async/dataextensions/key:TesseraProfiles/rows', { items }, value),
    );
    expect(response).toEqual({
      status: 400,
      headers: { 'content-type': 'application/json' },
      body: {
        message: '"items" holds 32001 rows; at most 32000 are accepted per request',
        errorcode: 10001,
        documentation: '',
      },
    });
  });

  it('keeps an async request Pending until its time has come, then Complete with row errors', async () => {
    emulator = new SfmcEmulator({ asyncCompletionMs: 5_000 });
    sandbox = new EspSandbox([emulator], { clock, limitsLifted: true });
    const value = await token();
    const accepted = await sandbox.handle(
      ...json(
        'PUT',
        '/data/v1/async/dataextensions/key:TesseraProfiles/rows',
        { items: [{ TesseraId: 'C1' }, { TesseraId: 'C2', EmailAddress: 'bad' }] },
        value,
      ),
    );
    expect(accepted.status).toBe(202);
    const requestId = (accepted.body as { requestId: string }).requestId;
    const status = async (): Promise<SandboxResponse> =>
      sandbox.handle(...json('GET', `/data/v1/async/${requestId}/status`, '', value));

    expect((await status()).body).toMatchObject({ status: { requestStatus: 'Pending', hasErrors: false } });
    expect(
      (await sandbox.handle(...json('GET', `/data/v1/async/${requestId}/results`, '', value))).status,
    ).toBe(400);
    clock.advance(5_000);
    expect((await status()).body).toMatchObject({
      status: { requestStatus: 'Complete', hasErrors: true, resultStatus: 'Error' },
    });
    const results = await sandbox.handle(...json('GET', `/data/v1/async/${requestId}/results`, '', value));
    expect(results.body).toMatchObject({
      count: 1,
      items: [
        {
          status: 'Error',
          errorCode: 'InvalidValue',
          message: "EmailAddress 'bad' is not a valid email address (TesseraId 'C2')",
        },
      ],
    });
    expect(emulator.state().dataExtensions['TesseraProfiles']).toEqual([{ TesseraId: 'C1' }]);
  });

  it('throttles REST with 429 and Retry-After', async () => {
    const value = await token();
    for (let call = 0; call < 20; call++) {
      expect((await sandbox.handle(...json('GET', '/platform/v1/tokenContext', '', value))).status).toBe(200);
    }
    const throttled = await sandbox.handle(...json('GET', '/platform/v1/tokenContext', '', value));
    expect(throttled).toEqual({
      status: 429,
      headers: { 'content-type': 'application/json', 'retry-after': '1' },
      body: { message: 'Too Many Requests', errorcode: 0, documentation: '' },
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

    it('throttles SOAP with HTTP 500 and a Server fault', async () => {
      const value = await token();
      for (let call = 0; call < 20; call++)
        expect((await sandbox.handle(...soap(envelope(value)))).status).toBe(200);
      const throttled = await sandbox.handle(...soap(envelope(value)));
      expect(throttled.status).toBe(500);
      expect(throttled.body).toContain('<faultcode>soap:Server</faultcode>');
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
      headers: { 'content-type': 'application/json' },
      body: { message: 'Invalid callbackId or verificationKey', errorcode: 10001, documentation: '' },
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

  it('forgets everything on reset', async () => {
    await token();
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
  });
});
