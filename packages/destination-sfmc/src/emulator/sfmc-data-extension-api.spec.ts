import { EspSandbox, ManualClock, type SandboxResponse } from '@tessera/destination-kit';
import { SFMC_LIMITS } from '../sfmc-endpoints';
import { TEST_EMULATOR_CONFIG } from '../testing/sfmc-test-harness';
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

const credentials = {
  grant_type: 'client_credentials',
  client_id: 'tessera-client',
  client_secret: 'tessera-secret',
};
const ROWSET = '/hub/v1/dataevents/key:TesseraProfiles/rowset';
const ASYNC_ROWS = '/data/v1/async/dataextensions/key:TesseraProfiles/rows';
const JSON_HEADERS = { 'content-type': 'application/json' };
const restError = (message: string, errorcode: number) => ({ message, errorcode, documentation: '' });

describe('SfmcEmulator data extension API', () => {
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

  describe('data extension rows', () => {
    it('saves rows whose columns the data extension has, matching column names without regard to case', async () => {
      const value = await token();
      const response = await sandbox.handle(
        ...json(
          'POST',
          ROWSET,
          [{ keys: { tesseraid: 'C1' }, values: { emailaddress: 'ada@example.com', Gold: true } }],
          value,
        ),
      );
      expect(response.status).toBe(200);
      expect(emulator.state().dataExtensions['TesseraProfiles']).toEqual([
        { TesseraId: 'C1', EmailAddress: 'ada@example.com', Gold: true },
      ]);
    });

    it.each([
      [
        'not an array',
        { keys: {} },
        restError('Request body must be a non-empty array of { keys, values } rows', 10001),
      ],
      [
        'a row without keys',
        [{ values: {} }],
        restError('Row 0 must be an object with "keys" and "values" objects', 10001),
      ],
      [
        'a key that is not the primary key',
        [{ keys: { SubscriberKey: 'C1' }, values: {} }],
        restError("Primary key 'SubscriberKey' does not exist.", 10000),
      ],
      [
        'a bad email and a column the data extension lacks',
        [
          { keys: { TesseraId: 'C1' }, values: { FirstName: 'Ada' } },
          { keys: { TesseraId: 'C2' }, values: { EmailAddress: 'x', Tier: 'gold' } },
        ],
        {
          ...restError('Unable to save rows for data extension TesseraProfiles', 10006),
          additionalErrors: [
            restError(
              'EmailAddress: The value for column [EmailAddress] is not a valid email address. Parse error [InvalidEmailAddress]',
              10000,
            ),
            restError('Tier: The data extension has no column [Tier].', 10000),
          ],
        },
      ],
      [
        'values that do not fit their columns',
        [
          {
            keys: { TesseraId: 'C1' },
            values: { points_balance: 'lots', joined: 'someday', FirstName: 'x'.repeat(101) },
          },
        ],
        {
          ...restError('Unable to save rows for data extension TesseraProfiles', 10006),
          additionalErrors: [
            restError(
              'points_balance: The value for column [points_balance] is not a valid number. Parse error [InvalidNumber]',
              10000,
            ),
            restError(
              'joined: The value for column [joined] is not a valid date. Parse error [InvalidDate]',
              10000,
            ),
            restError(
              'FirstName: The value for column [FirstName] is longer than its maximum length of 100.',
              10000,
            ),
          ],
        },
      ],
    ])('refuses a rowset with %s and saves nothing', async (_case, body, expected) => {
      const value = await token();
      const response = await sandbox.handle(...json('POST', ROWSET, body, value));
      expect(response).toEqual({ status: 400, headers: JSON_HEADERS, body: expected });
      expect(emulator.state().dataExtensions['TesseraProfiles']).toEqual([]);
    });

    it('refuses a new row that lacks a required column, and takes an update of a row that has it', async () => {
      emulator.configure({
        ...TEST_EMULATOR_CONFIG,
        dataExtensions: [
          {
            key: 'TesseraProfiles',
            primaryKeys: ['TesseraId'],
            columns: [
              { name: 'TesseraId', type: 'Text', maxLength: 254 },
              { name: 'EmailAddress', type: 'EmailAddress', required: true },
              { name: 'Gold', type: 'Boolean' },
            ],
          },
        ],
      });
      const value = await token();
      const refused = await sandbox.handle(
        ...json('POST', ROWSET, [{ keys: { TesseraId: 'C1' }, values: { Gold: true } }], value),
      );
      expect(refused.body).toMatchObject({
        additionalErrors: [
          restError('EmailAddress: The value for column [EmailAddress] is required.', 10000),
        ],
      });
      await sandbox.handle(
        ...json('POST', ROWSET, [{ keys: { TesseraId: 'C1' }, values: { EmailAddress: 'a@b.co' } }], value),
      );
      const update = await sandbox.handle(
        ...json('POST', ROWSET, [{ keys: { TesseraId: 'C1' }, values: { Gold: true } }], value),
      );
      expect(update.status).toBe(200);
      expect(emulator.state().dataExtensions['TesseraProfiles']).toEqual([
        { TesseraId: 'C1', EmailAddress: 'a@b.co', Gold: true },
      ]);
    });

    it('refuses an unknown data extension', async () => {
      const value = await token();
      const response = await sandbox.handle(...json('POST', '/hub/v1/dataevents/key:Nope/rowset', [], value));
      expect(response.body).toEqual(
        restError("Data extension with external key 'Nope' does not exist", 10000),
      );
    });

    it('refuses bodies over 5 MB with 413 in SFMC’s error format', async () => {
      const value = await token();
      const notes = 'x'.repeat(SFMC_LIMITS.requestBytes);
      const [method, path, headers, body] = json(
        'PUT',
        ASYNC_ROWS,
        { items: [{ TesseraId: 'C1', tags: notes }] },
        value,
      );
      const response = await sandbox.handle(method, path, headers, body);
      expect(response).toEqual({
        status: 413,
        headers: JSON_HEADERS,
        body: restError(
          `Request body is ${body.length} bytes; the largest accepted is ${SFMC_LIMITS.requestBytes} bytes`,
          0,
        ),
      });
      // The emulator refuses it itself too, for callers that reach it without the sandbox's check.
      expect(
        emulator.handle(
          {
            method: 'POST',
            path: ROWSET,
            query: new URLSearchParams(),
            headers: { ...headers, 'content-type': 'application/json' },
            rawBody: body,
          },
          { clock, rateLimit: () => undefined, limitsLifted: true },
        ).status,
      ).toBe(413);
    });

    it('refuses async requests of more than 32,000 rows', async () => {
      const value = await token();
      const items = Array.from({ length: 32_001 }, (_, i) => ({ TesseraId: `C${i}` }));
      const response = await sandbox.handle(...json('PUT', ASYNC_ROWS, { items }, value));
      expect(response).toEqual({
        status: 400,
        headers: JSON_HEADERS,
        body: restError('"items" holds 32001 rows; at most 32000 are accepted per request', 10001),
      });
    });

    it('keeps an async request Pending until its time has come, then Complete with an error per refused value', async () => {
      emulator = new SfmcEmulator({ config: TEST_EMULATOR_CONFIG, asyncCompletionMs: 5_000 });
      sandbox = new EspSandbox([emulator], { clock, limitsLifted: true });
      const value = await token();
      const accepted = await sandbox.handle(
        ...json(
          'PUT',
          ASYNC_ROWS,
          { items: [{ TesseraId: 'C1' }, { TesseraId: 'C2', EmailAddress: 'bad', Tier: 'gold' }] },
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
        count: 2,
        items: [
          {
            status: 'Error',
            errorCode: 'InvalidValue',
            message:
              "EmailAddress: The value for column [EmailAddress] is not a valid email address. Parse error [InvalidEmailAddress] (TesseraId 'C2')",
          },
          {
            status: 'Error',
            errorCode: 'InvalidColumn',
            message: "Tier: The data extension has no column [Tier]. (TesseraId 'C2')",
          },
        ],
      });
      expect(emulator.state().dataExtensions['TesseraProfiles']).toEqual([{ TesseraId: 'C1' }]);
    });

    it('names request paths with their ids replaced in the sandbox statistics', () => {
      expect(emulator.endpointTemplate('GET', '/data/v1/async/5b1e/status')).toBe(
        '/data/v1/async/{id}/status',
      );
      expect(emulator.endpointTemplate('POST', ROWSET)).toBe('/hub/v1/dataevents/key:{id}/rowset');
      expect(emulator.endpointTemplate('POST', '/v2/token')).toBeUndefined();
    });
  });
});
