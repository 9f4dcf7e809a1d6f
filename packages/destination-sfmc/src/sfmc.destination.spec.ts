import { AuthError, DestinationHarness, type ProfileUpsert } from '@tessera/destination-kit';
import { sfmcPackage } from './index';
import { SFMC_API_VERSION } from './api-version';
import { sfmcDestination, type SfmcSettings } from './sfmc.destination';
import { SfmcEmulator } from './emulator/sfmc.emulator';

const profile = (n: number): ProfileUpsert => ({
  customerId: `C${n}`,
  version: 1,
  email: `member${n}@example.com`,
  attributes: { tier: 'gold', points: n * 10 },
});

describe('sfmcDestination', () => {
  let emulator: SfmcEmulator;
  let harness: DestinationHarness<SfmcSettings>;

  beforeEach(async () => {
    emulator = new SfmcEmulator();
    harness = await DestinationHarness.start({
      definition: sfmcDestination,
      emulator,
      settings: { apiKey: 'test-key' },
    });
  });

  afterEach(() => harness.close());

  it('upserts profiles into Sfmc, one request per batch', async () => {
    const items = Array.from({ length: 150 }, (_, index) => profile(index + 1));

    const results = await harness.run('upsertProfiles', items);

    expect(results).toHaveLength(150);
    expect(results[0]).toEqual({ status: 'ok', externalId: 'prof_1' });
    expect(results.every((result) => result.status === 'ok')).toBe(true);
    expect(harness.requests().map((request) => [request.method, request.path, request.status])).toEqual([
      ['POST', '/profiles/batch', 200],
      ['POST', '/profiles/batch', 200],
    ]);
    expect(harness.requests()[0]?.headers).toMatchObject({
      authorization: 'Bearer test-key',
      'x-api-version': SFMC_API_VERSION,
    });
    const stored = emulator.state().profiles;
    expect(stored).toHaveLength(150);
    expect(stored[0]).toEqual({
      id: 'prof_1',
      external_id: 'C1',
      email: 'member1@example.com',
      properties: { tier: 'gold', points: 10 },
    });
  });

  it('updates a profile it already holds, merging its properties', async () => {
    await harness.run('upsertProfiles', [profile(1)]);
    await harness.run('upsertProfiles', [{ ...profile(1), attributes: { points: 99 } }]);

    expect(emulator.state().profiles).toEqual([
      {
        id: 'prof_1',
        external_id: 'C1',
        email: 'member1@example.com',
        properties: { tier: 'gold', points: 99 },
      },
    ]);
  });

  it('rejects only the profile Sfmc refuses with 400; the rest of the batch lands', async () => {
    const results = await harness.run('upsertProfiles', [
      profile(1),
      { ...profile(2), customerId: '' },
      profile(3),
    ]);

    expect(results).toEqual([
      { status: 'ok', externalId: 'prof_1' },
      { status: 'rejected', reason: 'HTTP 400: profiles[0].external_id must be a non-empty string' },
      { status: 'ok', externalId: 'prof_2' },
    ]);
    expect(emulator.state().profiles.map((stored) => stored.external_id)).toEqual(['C1', 'C3']);
  });

  it('retries every item after the Retry-After of a 429', async () => {
    harness.sandbox.injectFault(emulator.esp, { kind: 'rate-limit', retryAfterSeconds: 30 });

    const results = await harness.run('upsertProfiles', [profile(1), profile(2)]);

    expect(results).toEqual([
      expect.objectContaining({ status: 'retry', afterMs: 30_000 }),
      expect.objectContaining({ status: 'retry', afterMs: 30_000 }),
    ]);
    expect(emulator.state().profiles).toEqual([]);
  });

  it('retries every item on a 5xx', async () => {
    harness.sandbox.injectFault(emulator.esp, { kind: 'server-error', status: 503 });

    expect(await harness.run('upsertProfiles', [profile(1)])).toEqual([
      { status: 'retry', afterMs: 1000, reason: 'HTTP 503: Injected server error (sandbox fault)' },
    ]);
  });

  it('throws an AuthError on 401 so the pipeline pauses the destination', async () => {
    harness.sandbox.injectFault(emulator.esp, { kind: 'unauthorized' });

    const error = await harness.run('upsertProfiles', [profile(1)]).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).message).toBe(
      'HTTP 401: credentials refused: Injected authentication failure (sandbox fault)',
    );
  });

  it('tests the connection with an authenticated ping', async () => {
    await harness.runner.testConnection();

    expect(harness.requests().map((request) => `${request.method} ${request.path}`)).toEqual(['GET /ping']);
  });

  it('is packaged with its emulator for the registry', () => {
    expect(sfmcPackage.definition).toBe(sfmcDestination);
    expect(sfmcPackage.createEmulator()).toBeInstanceOf(SfmcEmulator);
  });
});
