import type { EmulatorTools, SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import { KlaviyoEmulator } from '../emulator';
import {
  emulatorOf,
  type KlaviyoHarness,
  member,
  requestLines,
  startHarness,
} from '../klaviyo-destination-test-support';
import { MAX_FAILED_POLLS } from './profile-upsert.request';

const BULK = 'POST /api/profile-bulk-import-jobs';
/** The emulator numbers its jobs: the first one of a fresh emulator. */
const FIRST_JOB = '01J00000000000000000000001';

const members = (n: number) => Array.from({ length: n }, (_, i) => member(i + 1));

describe('Klaviyo upserts through bulk import jobs', () => {
  let harness: KlaviyoHarness;

  afterEach(async () => {
    const violations = harness.violations();
    await harness.close();
    expect(violations).toEqual([]);
  });

  it('counts a job Klaviyo accepted as delivered when it is not done in time: sent once, every item ok', async () => {
    harness = await startHarness({ bulkJobWaitMs: 300 }, { emulator: { jobCompletionMs: 60_000 } });
    const results = await harness.run('upsertProfiles', members(20));
    expect(results).toEqual(members(20).map(() => ({ status: 'ok' })));
    const lines = requestLines(harness);
    expect(lines[0]).toBe(BULK);
    expect(lines.filter((line) => line === BULK)).toHaveLength(1);
    expect(lines.slice(1).every((line) => line === `GET /api/profile-bulk-import-jobs/${FIRST_JOB}`)).toBe(
      true,
    );
    expect(emulatorOf(harness).state().jobs).toHaveLength(1);
  });

  it('a 429 storm on the status endpoint sends the import exactly once, and its items are ok', async () => {
    harness = await startHarness({ bulkJobWaitMs: 10_000 });
    harness.sandbox.injectFault('klaviyo', {
      kind: 'rate-limit',
      pathPrefix: '/api/profile-bulk-import-jobs/',
      retryAfterSeconds: 0,
      times: 1_000,
    });
    const results = await harness.run('upsertProfiles', members(25));
    expect(results).toEqual(members(25).map(() => ({ status: 'ok' })));
    expect(
      harness.requests().map((request) => [`${request.method} ${request.path}`, request.status]),
    ).toEqual([
      [BULK, 202],
      ...Array.from({ length: MAX_FAILED_POLLS }, () => [
        `GET /api/profile-bulk-import-jobs/${FIRST_JOB}`,
        429,
      ]),
    ]);
    // Klaviyo imports the job on its side all the same.
    harness.sandbox.clearFaults();
    emulatorOf(harness).completeJobs();
    expect(emulatorOf(harness).state().jobs).toEqual([
      expect.objectContaining({ id: FIRST_JOB, status: 'complete', completed_count: 25 }),
    ]);
  });

  it('keeps polling through a throttled poll or two and still reports the import errors', async () => {
    harness = await startHarness({ bulkJobWaitMs: 10_000 });
    harness.sandbox.injectFault('klaviyo', {
      kind: 'rate-limit',
      pathPrefix: '/api/profile-bulk-import-jobs/',
      retryAfterSeconds: 0,
      times: MAX_FAILED_POLLS - 1,
    });
    const items = members(20);
    items[4] = member(5, { email: 'not-an-email' });
    const results = await harness.run('upsertProfiles', items);
    expect(results.map((result) => result.status)).toEqual(
      items.map((_, index) => (index === 4 ? 'rejected' : 'ok')),
    );
    expect(requestLines(harness)).toEqual([
      BULK,
      ...Array.from({ length: MAX_FAILED_POLLS }, () => `GET /api/profile-bulk-import-jobs/${FIRST_JOB}`),
      `GET /api/profile-bulk-import-jobs/${FIRST_JOB}/import-errors`,
    ]);
  });

  it('reports the items as delivered when the import errors cannot be read, without sending the job again', async () => {
    harness = await startHarness();
    harness.sandbox.injectFault('klaviyo', {
      kind: 'server-error',
      status: 503,
      pathPrefix: `/api/profile-bulk-import-jobs/${FIRST_JOB}/import-errors`,
    });
    const items = members(20);
    items[4] = member(5, { email: 'not-an-email' });
    const results = await harness.run('upsertProfiles', items);
    expect(results).toEqual(items.map(() => ({ status: 'ok' })));
    expect(requestLines(harness).filter((line) => line === BULK)).toHaveLength(1);
  });

  it('keeps a failure after an accepted job with the items it concerns: the accepted job is not sent again', async () => {
    // Profiles of ~60 KB: 100 of them need two jobs (a job's payload stays under 5 MB).
    class SecondJobUnavailable extends KlaviyoEmulator {
      private jobsSeen = 0;
      override async handle(request: SandboxRequest, tools: EmulatorTools): Promise<SandboxResponse> {
        if (
          request.method === 'POST' &&
          request.path === '/api/profile-bulk-import-jobs' &&
          ++this.jobsSeen === 2
        )
          return this.errorResponse(503, 'Service unavailable.');
        return super.handle(request, tools);
      }
    }
    harness = await startHarness({}, { emulator: new SecondJobUnavailable() });
    const items = members(100).map((item) => ({
      ...item,
      attributes: { ...item.attributes, bio: 'x'.repeat(60_000) },
    }));
    const results = await harness.run('upsertProfiles', items);
    const firstJob = emulatorOf(harness).state().jobs[0]?.total_count ?? 0;
    expect(firstJob).toBeGreaterThan(50);
    expect(firstJob).toBeLessThan(100);
    expect(results.slice(0, firstJob)).toEqual(items.slice(0, firstJob).map(() => ({ status: 'ok' })));
    expect(results.slice(firstJob)).toEqual(
      items.slice(firstJob).map(() => ({
        status: 'retry',
        afterMs: 1_000,
        reason: expect.stringMatching(/^HTTP 503/),
      })),
    );
    expect(requestLines(harness).filter((line) => line === BULK)).toHaveLength(2);
  });

  describe('a field Klaviyo refuses', () => {
    const PHONE_REASON = (phone: string) =>
      `Invalid phone number format (Example of a valid format: +12345678901): '${phone}'.`;

    it('is left out and the profile sent again through profile-import, the ok result naming it', async () => {
      harness = await startHarness();
      const results = await harness.run('upsertProfiles', [
        member(1, { phone: '0612345678' }),
        member(2, { phone: '+33612345678' }),
      ]);
      const first = emulatorOf(harness).findProfile({ externalId: 'C00001' });
      expect(results).toEqual([
        {
          status: 'ok',
          externalId: first?.id,
          omittedFields: [{ field: 'phone_number', reason: PHONE_REASON('0612345678') }],
        },
        { status: 'ok', externalId: emulatorOf(harness).findProfile({ externalId: 'C00002' })?.id },
      ]);
      expect(first?.attributes).toMatchObject({
        email: 'member1@example.com',
        phone_number: null,
        first_name: 'Ada1',
        properties: { 'Loyalty Tier': 'gold', points_balance: 10 },
      });
      expect(harness.requests().map((request) => [request.method, request.status])).toEqual([
        ['POST', 400],
        ['POST', 201],
        ['POST', 201],
      ]);
      expect(harness.requests()[1]?.body).toEqual({
        data: {
          type: 'profile',
          attributes: {
            external_id: 'C00001',
            email: 'member1@example.com',
            first_name: 'Ada1',
            properties: { 'Loyalty Tier': 'gold', points_balance: 10 },
          },
        },
      });
    });

    it('sends the profiles of a job again in a second job when there are many of them', async () => {
      harness = await startHarness();
      const items = members(60).map((item, index) =>
        index % 2 === 0 ? { ...item, phone: `12345${index}` } : item,
      );
      const results = await harness.run('upsertProfiles', items);
      results.forEach((result, index) => {
        expect(result).toEqual(
          index % 2 === 0
            ? {
                status: 'ok',
                omittedFields: [{ field: 'phone_number', reason: PHONE_REASON(`12345${index}`) }],
              }
            : { status: 'ok' },
        );
      });
      expect(requestLines(harness).filter((line) => line === BULK)).toHaveLength(2);
      const second = harness.requests().filter((request) => request.method === 'POST')[1]?.body as {
        data: { attributes: { profiles: { data: Array<{ attributes: Record<string, unknown> }> } } };
      };
      expect(second.data.attributes.profiles.data).toHaveLength(30);
      expect(
        second.data.attributes.profiles.data.some((profile) => 'phone_number' in profile.attributes),
      ).toBe(false);
      expect(emulatorOf(harness).state().profiles).toHaveLength(60);
    });

    it('is never the email or the customer id: without them the profile is not the member’s, so it is rejected', async () => {
      harness = await startHarness();
      const results = await harness.run('upsertProfiles', [member(1, { email: 'nope', phone: '12345' })]);
      expect(results).toEqual([{ status: 'rejected', reason: "HTTP 400: Invalid email address 'nope'." }]);
      expect(harness.requests()).toHaveLength(1);
    });
  });

  it('rejects a profile over Klaviyo’s 100 KB before sending anything for it', async () => {
    harness = await startHarness();
    const big = member(2, { attributes: { bio: 'x'.repeat(100 * 1024) } });
    const results = await harness.run('upsertProfiles', [member(1), big]);
    expect(results).toEqual([
      { status: 'ok', externalId: expect.any(String) },
      {
        status: 'rejected',
        reason: expect.stringMatching(
          /^Klaviyo takes at most 102400 bytes per profile; this one is \d+ bytes$/,
        ),
      },
    ]);
    expect(requestLines(harness)).toEqual(['POST /api/profile-import']);
  });
});
