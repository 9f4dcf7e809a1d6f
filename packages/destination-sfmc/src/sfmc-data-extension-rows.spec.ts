import type { DestinationHarness, ProfileUpsert } from '@tessera/destination-kit';
import type { SfmcEmulatorConfig } from './emulator/sfmc-emulator-config';
import type { SfmcSettings } from './sfmc-settings';
import { FastForwardClock } from './testing/fast-forward-clock';
import {
  allViolations,
  emulatorOf,
  member,
  REQUEST_LINES,
  requestLinesOf,
  startSfmcHarness,
  TEST_EMULATOR_CONFIG,
} from './testing/sfmc-test-harness';

const {
  rowset: ROWSET,
  asyncRows: ASYNC_ROWS,
  asyncStatus: ASYNC_STATUS,
  asyncResults: ASYNC_RESULTS,
} = REQUEST_LINES;
const BAD_EMAIL = (key: string): string =>
  `EmailAddress: The value for column [EmailAddress] is not a valid email address. Parse error [InvalidEmailAddress]${key}`;

/** The test tenant with its profiles data extension changed by `change`. */
function tenantWith(
  change: (extension: SfmcEmulatorConfig['dataExtensions'][number]) => void,
): SfmcEmulatorConfig {
  const config = structuredClone(TEST_EMULATOR_CONFIG);
  change(config.dataExtensions[0] as SfmcEmulatorConfig['dataExtensions'][number]);
  return config;
}

describe('SFMC destination: data extension rows', () => {
  let harness: DestinationHarness<SfmcSettings>;

  afterEach(async () => {
    const violations = allViolations(harness);
    await harness.close();
    expect(violations).toEqual([]);
  });

  describe('profiles and segments in the data extension', () => {
    it('upserts up to 50 rows synchronously, mapped and keyed by TesseraId', async () => {
      harness = await startSfmcHarness({ settings: { fieldMapping: { loyalty_tier: 'LoyaltyTier' } } });
      const items = Array.from({ length: 50 }, (_, i) =>
        member(
          i + 1,
          i === 0
            ? {
                phone: '+447700900123',
                attributes: {
                  last_name: 'Lovelace',
                  joined: new Date('2026-01-02T03:04:05Z'),
                  tags: ['a'],
                  gone: null,
                },
              }
            : {},
        ),
      );

      const results = await harness.run('upsertProfiles', items);

      expect(results).toHaveLength(50);
      expect(results.every((result) => result.status === 'ok')).toBe(true);
      expect(requestLinesOf(harness)).toEqual(['POST /v2/token', ROWSET]);
      const rows = emulatorOf(harness).state().dataExtensions['TesseraProfiles'] ?? [];
      expect(rows).toHaveLength(50);
      expect(rows[0]).toEqual({
        TesseraId: 'C00001',
        EmailAddress: 'member1@example.com',
        Phone: '+447700900123',
        LastName: 'Lovelace',
        joined: '2026-01-02T03:04:05.000Z',
        tags: '["a"]',
        gone: '',
      });
      expect(rows[1]).toEqual({
        TesseraId: 'C00002',
        EmailAddress: 'member2@example.com',
        FirstName: 'Ada2',
        LoyaltyTier: 'gold',
        points_balance: 20,
      });
    });

    it('coalesces updates of one customer in a batch: the highest version wins', async () => {
      harness = await startSfmcHarness();
      const results = await harness.run('updateAttributes', [
        member(1, { version: 3, attributes: { loyalty_tier: 'gold' } }),
        member(2),
        member(1, { version: 2, attributes: { loyalty_tier: 'silver', points_balance: 5 } }),
      ]);

      expect(results).toEqual([{ status: 'ok' }, { status: 'ok' }, { status: 'ok' }]);
      const body = harness.requests()[1]?.body as { keys: unknown; values: Record<string, unknown> }[];
      expect(body).toHaveLength(2);
      expect(body[0]).toEqual({
        keys: { TesseraId: 'C00001' },
        values: { EmailAddress: 'member1@example.com', loyalty_tier: 'gold', points_balance: 5 },
      });
    });

    it('goes asynchronous above 50 rows: 1,000 updates cost 4 requests including token and polling', async () => {
      const clock = new FastForwardClock();
      harness = await startSfmcHarness({ clock, emulator: { asyncCompletionMs: 1_500 } });
      const items = Array.from({ length: 1_000 }, (_, i) => member(i + 1));

      const results = await harness.run('upsertProfiles', items);

      expect(results.every((result) => result.status === 'ok')).toBe(true);
      expect(requestLinesOf(harness)).toEqual(['POST /v2/token', ASYNC_ROWS, ASYNC_STATUS, ASYNC_STATUS]);
      expect(harness.requests().length).toBeLessThanOrEqual(25);
      expect((harness.requests()[1]?.body as { items: unknown[] }).items).toHaveLength(1_000);
      expect(clock.sleeps).toEqual([1_000, 2_000]);
      expect(emulatorOf(harness).state().dataExtensions['TesseraProfiles']).toHaveLength(1_000);
    });

    it('51 rows go asynchronous; a row with a value SFMC refuses lands again without it', async () => {
      harness = await startSfmcHarness({ clock: new FastForwardClock() });
      const items = Array.from({ length: 51 }, (_, i) =>
        member(i + 1, i === 6 ? { email: 'not-an-email' } : {}),
      );

      const results = await harness.run('upsertProfiles', items);

      expect(requestLinesOf(harness)).toEqual([
        'POST /v2/token',
        ASYNC_ROWS,
        ASYNC_STATUS,
        ASYNC_RESULTS,
        ROWSET,
      ]);
      expect(results[6]).toEqual({
        status: 'ok',
        omittedFields: [{ field: 'email', reason: `SFMC: ${BAD_EMAIL(" (TesseraId 'C00007')")}` }],
      });
      expect(
        results.filter((result) => result.status === 'ok' && result.omittedFields === undefined),
      ).toHaveLength(50);
      const rows = emulatorOf(harness).state().dataExtensions['TesseraProfiles'] ?? [];
      expect(rows).toHaveLength(51);
      expect(rows.find((row) => row['TesseraId'] === 'C00007')).toEqual({
        TesseraId: 'C00007',
        FirstName: 'Ada7',
        loyalty_tier: 'gold',
        points_balance: 70,
      });
    });

    it('re-drives an async request through the rowset when its errors do not name their rows', async () => {
      harness = await startSfmcHarness({
        clock: new FastForwardClock(),
        emulator: { rowErrorsNameKey: false },
      });
      const items = Array.from({ length: 60 }, (_, i) => member(i + 1, i === 55 ? { email: 'nope' } : {}));

      const results = await harness.run('upsertProfiles', items);

      expect(results[55]).toEqual({
        status: 'ok',
        omittedFields: [{ field: 'email', reason: `SFMC: ${BAD_EMAIL('')}` }],
      });
      expect(results.filter((result) => result.status === 'ok')).toHaveLength(60);
      // Rowsets of 50 and 10; the 10 halve down to the refused row, which lands without its email.
      expect(requestLinesOf(harness).slice(0, 4)).toEqual([
        'POST /v2/token',
        ASYNC_ROWS,
        ASYNC_STATUS,
        ASYNC_RESULTS,
      ]);
      const rowsets = harness.requests().filter((request) => request.path.endsWith('/rowset'));
      expect(rowsets.map((request) => `${request.status}:${(request.body as unknown[]).length}`)).toEqual([
        '200:50',
        '400:10',
        '200:5',
        '400:5',
        '400:3',
        '400:2',
        '400:1',
        '200:1',
        '200:1',
        '200:1',
        '200:2',
      ]);
    });

    it('hands an async request back for a retry when it is not complete in time', async () => {
      harness = await startSfmcHarness({
        clock: new FastForwardClock(),
        settings: { asyncJobWaitMs: 5_000 },
        emulator: { asyncCompletionMs: 60_000 },
      });
      const results = await harness.run(
        'upsertProfiles',
        Array.from({ length: 60 }, (_, i) => member(i + 1)),
      );

      expect(results[0]).toEqual({
        status: 'retry',
        afterMs: 30_000,
        reason: expect.stringMatching(/^SFMC async request [0-9a-f-]+ was still Pending after 5000 ms$/),
      });
      expect(results.every((result) => result.status === 'retry')).toBe(true);
    });

    it('finds the row SFMC refuses in a synchronous batch and lands it without the refused value', async () => {
      harness = await startSfmcHarness();
      const results = await harness.run('upsertProfiles', [
        member(1),
        member(2, { email: 'nope' }),
        member(3),
      ]);

      expect(results).toEqual([
        { status: 'ok' },
        { status: 'ok', omittedFields: [{ field: 'email', reason: `SFMC: ${BAD_EMAIL('')}` }] },
        { status: 'ok' },
      ]);
      expect(
        harness
          .requests()
          .slice(1)
          .map(
            (request) =>
              `${request.status} ${(request.body as { keys: { TesseraId: string } }[]).map((row) => row.keys.TesseraId).join(',')}`,
          ),
      ).toEqual([
        '400 C00001,C00002,C00003',
        '400 C00001,C00002',
        '200 C00001',
        '400 C00002',
        '200 C00002',
        '200 C00003',
      ]);
      expect(emulatorOf(harness).state().dataExtensions['TesseraProfiles']?.[1]).toEqual({
        TesseraId: 'C00002',
        FirstName: 'Ada2',
        loyalty_tier: 'gold',
        points_balance: 20,
      });
    });

    it('leaves a column the data extension lacks out of every row at once, and says so per item', async () => {
      harness = await startSfmcHarness();
      const results = await harness.run('upsertProfiles', [
        member(1, { attributes: { nickname: 'Ada', loyalty_tier: 'gold' } }),
        member(2, { attributes: { loyalty_tier: 'silver' } }),
        member(3, { attributes: { nickname: 'Bo' } }),
      ]);

      const omitted = {
        status: 'ok',
        omittedFields: [
          { field: 'nickname', reason: 'SFMC: nickname: The data extension has no column [nickname].' },
        ],
      };
      expect(results).toEqual([omitted, { status: 'ok' }, omitted]);
      expect(requestLinesOf(harness)).toEqual(['POST /v2/token', ROWSET, ROWSET]);
      expect(emulatorOf(harness).state().dataExtensions['TesseraProfiles']).toHaveLength(3);
    });

    it('sends an async request again without a column no row could carry, then every row is ok', async () => {
      harness = await startSfmcHarness({ clock: new FastForwardClock() });
      const items = Array.from({ length: 60 }, (_, i) =>
        member(i + 1, { attributes: { nickname: `N${i}` } }),
      );

      const results = await harness.run('upsertProfiles', items);

      expect(requestLinesOf(harness)).toEqual([
        'POST /v2/token',
        ASYNC_ROWS,
        ASYNC_STATUS,
        ASYNC_RESULTS,
        ASYNC_ROWS,
        ASYNC_STATUS,
      ]);
      expect(results[59]).toEqual({
        status: 'ok',
        omittedFields: [
          {
            field: 'nickname',
            reason: "SFMC: nickname: The data extension has no column [nickname]. (TesseraId 'C00060')",
          },
        ],
      });
      expect(results.every((result) => result.status === 'ok')).toBe(true);
      expect(emulatorOf(harness).state().dataExtensions['TesseraProfiles']).toHaveLength(60);
    });

    it('skips members without email when the data extension requires one, and lands the others', async () => {
      harness = await startSfmcHarness({
        emulator: {
          config: tenantWith((extension) => {
            const email = extension.columns.find((column) => column.name === 'EmailAddress');
            if (email !== undefined) email.required = true;
          }),
        },
      });
      const noEmail: ProfileUpsert = {
        customerId: 'C00002',
        version: 1,
        attributes: { loyalty_tier: 'gold' },
      };

      const results = await harness.run('upsertProfiles', [member(1), noEmail, member(3)]);

      expect(results).toEqual([
        { status: 'ok' },
        {
          status: 'skipped',
          reason: 'The SFMC data extension requires EmailAddress and the member has no email address',
        },
        { status: 'ok' },
      ]);
      expect(
        emulatorOf(harness)
          .state()
          .dataExtensions['TesseraProfiles']?.map((row) => row['TesseraId']),
      ).toEqual(['C00001', 'C00003']);
    });

    it('rejects an attribute that cannot be a column name without sending it', async () => {
      harness = await startSfmcHarness();
      const results = await harness.run('upsertProfiles', [
        member(1, { attributes: { 'points-balance': 3 } }),
        member(2),
      ]);

      expect(results[0]).toEqual({
        status: 'rejected',
        reason:
          'Attribute "points-balance" maps to "points-balance", which is not a usable data extension column (map it in fieldMapping)',
      });
      expect(results[1]).toEqual({ status: 'ok' });
    });

    it('sets and clears segment columns, mapped or named after the segment', async () => {
      harness = await startSfmcHarness({ settings: { segmentColumns: { 'gold-tier': 'SegmentGoldTier' } } });
      expect(
        await harness.run('addToSegment', [
          { customerId: 'C1', segment: 'gold-tier' },
          { customerId: 'C1', segment: 'Lapsed' },
          { customerId: 'C2', segment: 'gold-tier', email: 'bob@example.com' },
          { customerId: 'C3', segment: 'no-column-for-me' },
          { customerId: 'C1', segment: 'Platinum' },
        ]),
      ).toEqual([
        { status: 'ok' },
        { status: 'ok' },
        { status: 'ok' },
        {
          status: 'rejected',
          reason: 'Segment "no-column-for-me" has no usable data extension column (map it in segmentColumns)',
        },
        // The data extension has no Platinum column: that membership cannot land, the others do.
        { status: 'rejected', reason: 'SFMC: Platinum: The data extension has no column [Platinum].' },
      ]);
      await harness.run('removeFromSegment', [{ customerId: 'C1', segment: 'Lapsed' }]);

      expect(emulatorOf(harness).state().dataExtensions['TesseraProfiles']).toEqual([
        { TesseraId: 'C1', SegmentGoldTier: true, Lapsed: false },
        { TesseraId: 'C2', SegmentGoldTier: true, EmailAddress: 'bob@example.com' },
      ]);
    });

    it('reads rows back with fetchProfiles, SFMC lower-casing the column names', async () => {
      harness = await startSfmcHarness();
      await harness.run('upsertProfiles', [member(1, { phone: '+447700900123' })]);
      harness.clearRequests();

      const results = await harness.run('fetchProfiles', [
        { customerId: 'C00001' },
        { customerId: "O'Brien" },
      ]);

      expect(results).toEqual([
        {
          status: 'ok',
          externalId: 'C00001',
          profile: {
            externalId: 'C00001',
            customerId: 'C00001',
            email: 'member1@example.com',
            phone: '+447700900123',
            attributes: { firstname: 'Ada1', loyalty_tier: 'gold', points_balance: '10' },
          },
        },
        { status: 'ok' },
      ]);
      expect(decodeURIComponent(harness.requests()[1]?.path ?? '')).toContain(
        "$filter=TesseraId+eq+'O''Brien'",
      );
    });
  });
});
