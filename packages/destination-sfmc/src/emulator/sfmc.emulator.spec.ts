import { EspSandbox, ManualClock, type SandboxResponse } from '@tessera/destination-kit';
import { SFMC_API_VERSION } from '../api-version';
import { SfmcEmulator } from './sfmc.emulator';

const headers = {
  authorization: 'Bearer test-key',
  'x-api-version': SFMC_API_VERSION,
  'content-type': 'application/json',
};

const upsert = (
  body: unknown,
  sent: Record<string, string> = headers,
): [string, string, Record<string, string>, Buffer] => [
  'POST',
  '/sfmc/profiles/batch',
  sent,
  Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
];

const oneProfile = { profiles: [{ external_id: 'C1', email: 'ada@example.com', properties: {} }] };

describe('SfmcEmulator', () => {
  let emulator: SfmcEmulator;
  let sandbox: EspSandbox;
  let clock: ManualClock;

  beforeEach(() => {
    emulator = new SfmcEmulator();
    clock = new ManualClock(0);
    // Limits enforced (not lifted): the emulator's rate limit is under test.
    sandbox = new EspSandbox([emulator], { clock });
  });

  it("refuses a request without the API key with 401 in Sfmc's error shape", async () => {
    const response = await sandbox.handle(...upsert(oneProfile, { 'content-type': 'application/json' }));

    expect(response).toMatchObject({
      status: 401,
      body: { errors: [{ code: 'unauthorized', message: expect.stringContaining('API key') }] },
    });
  });

  it('refuses a request without the pinned API version with 400', async () => {
    const response = await sandbox.handle(...upsert(oneProfile, { ...headers, 'x-api-version': 'v0' }));

    expect(response.status).toBe(400);
    expect(messageOf(response)).toBe(`Unsupported x-api-version "v0"; supported: ${SFMC_API_VERSION}`);
  });

  it.each([
    ['not JSON', '{', 'Body must be JSON'],
    ['no profiles array', { people: [] }, 'Body must be an object with a "profiles" array'],
    ['an empty batch', { profiles: [] }, '"profiles" must hold 1 to 100 profiles (got 0)'],
    [
      'a missing external_id',
      { profiles: [{ properties: {} }] },
      'profiles[0].external_id must be a non-empty string',
    ],
    [
      'a bad email',
      { profiles: [{ external_id: 'C1', email: 'nope', properties: {} }] },
      'profiles[0].email must be an email address',
    ],
    ['missing properties', { profiles: [{ external_id: 'C1' }] }, 'profiles[0].properties must be an object'],
  ])('rejects a malformed body (%s) with 400 and a clear message', async (_case, body, message) => {
    const response = await sandbox.handle(...upsert(body));

    expect(response.status).toBe(400);
    expect(messageOf(response)).toBe(message);
    expect(emulator.state().profiles).toEqual([]);
  });

  it('stores the profiles it accepts and answers one result per profile', async () => {
    const response = await sandbox.handle(...upsert(oneProfile));

    expect(response).toMatchObject({ status: 200, body: { results: [{ external_id: 'C1', id: 'prof_1' }] } });
    expect(emulator.state()).toEqual({
      profiles: [{ id: 'prof_1', external_id: 'C1', email: 'ada@example.com', properties: {} }],
    });
  });

  it('enforces the rate limit with 429 and Retry-After', async () => {
    for (let call = 0; call < 10; call++) {
      expect((await sandbox.handle(...upsert(oneProfile))).status).toBe(200);
    }

    const throttled = await sandbox.handle(...upsert(oneProfile));

    expect(throttled.status).toBe(429);
    expect(throttled.headers?.['retry-after']).toBe('1');
    clock.advance(1000);
    expect((await sandbox.handle(...upsert(oneProfile))).status).toBe(200);
  });

  it('forgets everything on reset', async () => {
    await sandbox.handle(...upsert(oneProfile));

    emulator.reset();

    expect(emulator.state()).toEqual({ profiles: [] });
  });
});

function messageOf(response: SandboxResponse): string | undefined {
  return (response.body as { errors?: { message?: string }[] } | undefined)?.errors?.[0]?.message;
}
