import { SFMC_LIMITS } from '../sfmc-endpoints';
import { asyncRowsBody, attributeRowErrors } from './async-rows.request';
import {
  chunkDrafts,
  columnValue,
  type DataExtensionRow,
  mergeDrafts,
  omitColumn,
  profileRow,
  type RowDraft,
  rowsetBody,
  segmentRow,
} from './data-extension-row';

const settings = { fieldMapping: { first_name: 'GivenName' }, segmentColumns: { vip: 'IsVip' } };

const draftOf = (row: DataExtensionRow): RowDraft => ({ row, sources: {}, omitted: [] });

describe('data extension rows', () => {
  it('maps a profile to a row, remembering the field behind each column: mapping wins, dates become ISO', () => {
    expect(
      profileRow(
        {
          customerId: 'C1',
          version: 1,
          email: 'ada@example.com',
          attributes: {
            first_name: 'Ada',
            last_name: 'Lovelace',
            born: new Date('1815-12-10T00:00:00Z'),
            skip: undefined,
          },
        },
        settings,
      ),
    ).toEqual({
      draft: {
        row: {
          TesseraId: 'C1',
          EmailAddress: 'ada@example.com',
          GivenName: 'Ada',
          LastName: 'Lovelace',
          born: '1815-12-10T00:00:00.000Z',
        },
        sources: {
          EmailAddress: 'email',
          GivenName: 'first_name',
          LastName: 'last_name',
          born: 'born',
        },
        omitted: [],
      },
    });
  });

  it('refuses an attribute that would overwrite the primary key', () => {
    expect(
      profileRow({ customerId: 'C1', version: 1, attributes: { TesseraId: 'C2' } }, { fieldMapping: {} }),
    ).toEqual({
      problem:
        'Attribute "TesseraId" maps to "TesseraId", which is not a usable data extension column (map it in fieldMapping)',
    });
  });

  it('maps segment membership to its boolean column', () => {
    expect(segmentRow({ customerId: 'C1', segment: 'vip' }, settings, false)).toEqual({
      draft: { row: { TesseraId: 'C1', IsVip: false }, sources: { IsVip: 'segment:vip' }, omitted: [] },
    });
  });

  it('turns values into column values', () => {
    expect([columnValue(null), columnValue({ a: 1 }), columnValue(3), columnValue(undefined)]).toEqual([
      '',
      '{"a":1}',
      3,
      undefined,
    ]);
  });

  it('merges drafts of one customer, later values winning, and says where each went', () => {
    const merged = mergeDrafts([
      draftOf({ TesseraId: 'C1', A: true }),
      draftOf({ TesseraId: 'C2', A: true }),
      draftOf({ TesseraId: 'C1', A: false, B: true }),
    ]);
    expect(merged.drafts.map((draft) => draft.row)).toEqual([
      { TesseraId: 'C1', A: false, B: true },
      { TesseraId: 'C2', A: true },
    ]);
    expect(merged.outputIndex).toEqual([0, 1, 0]);
  });

  it('leaves a refused column out and records it against its field, never the primary key', () => {
    const draft: RowDraft = {
      row: { TesseraId: 'C1', Tier: 'gold' },
      sources: { Tier: 'loyalty_tier' },
      omitted: [],
    };
    omitColumn(draft, 'Tier', 'SFMC: no such column');
    omitColumn(draft, 'TesseraId', 'never');
    expect(draft).toEqual({
      row: { TesseraId: 'C1' },
      sources: { Tier: 'loyalty_tier' },
      omitted: [{ column: 'Tier', field: 'loyalty_tier', reason: 'SFMC: no such column' }],
    });
  });

  it('splits the key from the values for the synchronous rowset', () => {
    expect(rowsetBody([{ TesseraId: 'C1', EmailAddress: 'a@b.co' }])).toEqual([
      { keys: { TesseraId: 'C1' }, values: { EmailAddress: 'a@b.co' } },
    ]);
  });

  it('cuts rowsets at 50 rows and at 5 MB', () => {
    const small = Array.from({ length: 101 }, (_, i) => draftOf({ TesseraId: `C${i}` }));
    const cut = (drafts: RowDraft[]): number[] =>
      chunkDrafts(drafts, SFMC_LIMITS.syncRowsPerRequest, SFMC_LIMITS.requestBytes, rowsetBody).map(
        (chunk) => chunk.length,
      );
    expect(cut(small)).toEqual([50, 50, 1]);
    const wide = Array.from({ length: 5 }, (_, i) =>
      draftOf({ TesseraId: `C${i}`, Notes: 'x'.repeat(1_500_000) }),
    );
    expect(cut(wide)).toEqual([3, 2]);
  });

  it('cuts async requests at 32,000 rows and at 5 MB, counting the bytes exactly as sent', () => {
    const cut = (drafts: RowDraft[]): RowDraft[][] =>
      chunkDrafts(drafts, SFMC_LIMITS.asyncRowsPerRequest, SFMC_LIMITS.requestBytes, asyncRowsBody);
    const small = Array.from({ length: 32_001 }, (_, i) => draftOf({ TesseraId: `C${i}` }));
    expect(cut(small).map((chunk) => chunk.length)).toEqual([32_000, 1]);
    // 2,000 rows of about 2.6 kB each: 5 MB holds 1,9xx of them, and each request stays under the cap.
    const wide = Array.from({ length: 2_000 }, (_, i) =>
      draftOf({ TesseraId: `C${i}`, Notes: 'é'.repeat(1_300) }),
    );
    const chunks = cut(wide);
    expect(chunks.map((chunk) => chunk.length).reduce((a, b) => a + b)).toBe(2_000);
    expect(chunks).toHaveLength(2);
    for (const chunk of chunks) {
      const bytes = Buffer.byteLength(JSON.stringify(asyncRowsBody(chunk.map((draft) => draft.row))));
      expect(bytes).toBeLessThanOrEqual(SFMC_LIMITS.requestBytes);
    }
    const first = chunks[0] as RowDraft[];
    const oneMore = [...first, wide[first.length] as RowDraft].map((draft) => draft.row);
    expect(Buffer.byteLength(JSON.stringify(asyncRowsBody(oneMore)))).toBeGreaterThan(
      SFMC_LIMITS.requestBytes,
    );
  });

  it('ties async errors to rows by the TesseraId they quote, or gives up when one names no row', () => {
    const rows: DataExtensionRow[] = [{ TesseraId: 'C1' }, { TesseraId: 'C10' }];
    expect(
      attributeRowErrors(rows, {
        count: 2,
        items: [
          { status: 'Error', errorCode: 'InvalidValue', message: "Bad value (TesseraId 'C10')" },
          { status: 'Error', errorCode: 'InvalidColumn', message: "No column (TesseraId 'C10')" },
        ],
      }),
    ).toEqual([
      [],
      [
        { errorCode: 'InvalidValue', message: "Bad value (TesseraId 'C10')" },
        { errorCode: 'InvalidColumn', message: "No column (TesseraId 'C10')" },
      ],
    ]);
    expect(
      attributeRowErrors(rows, {
        count: 1,
        items: [{ status: 'Error', message: 'Violation of PRIMARY KEY' }],
      }),
    ).toBeUndefined();
    expect(attributeRowErrors(rows, { count: 2, items: [] })).toBeUndefined();
  });
});
