import { RejectedError } from '@tessera/destination-kit';
import {
  asyncChunks,
  attributeRowErrors,
  columnValue,
  type DataExtensionRow,
  mergeRows,
  profileRow,
  rowsetBody,
  segmentRow,
  withRowsetDetail,
} from './data-extension-rows.request';

const settings = { fieldMapping: { first_name: 'GivenName' }, segmentColumns: { vip: 'IsVip' } };

describe('data extension rows', () => {
  it('maps a profile to a row: mapping wins over the standard columns, dates become ISO', () => {
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
      row: {
        TesseraId: 'C1',
        EmailAddress: 'ada@example.com',
        GivenName: 'Ada',
        LastName: 'Lovelace',
        born: '1815-12-10T00:00:00.000Z',
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
      row: { TesseraId: 'C1', IsVip: false },
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

  it('merges rows of one customer, later values winning, and says where each went', () => {
    expect(
      mergeRows([
        { TesseraId: 'C1', A: true },
        { TesseraId: 'C2', A: true },
        { TesseraId: 'C1', A: false, B: true },
      ]),
    ).toEqual({
      rows: [
        { TesseraId: 'C1', A: false, B: true },
        { TesseraId: 'C2', A: true },
      ],
      outputIndex: [0, 1, 0],
    });
  });

  it('splits the key from the values for the synchronous rowset', () => {
    expect(rowsetBody([{ TesseraId: 'C1', EmailAddress: 'a@b.co' }])).toEqual([
      { keys: { TesseraId: 'C1' }, values: { EmailAddress: 'a@b.co' } },
    ]);
  });

  it('cuts async requests at 32,000 rows and at 4 MB', () => {
    const small = Array.from({ length: 32_001 }, (_, i): DataExtensionRow => ({ TesseraId: `C${i}` }));
    expect(asyncChunks(small).map((chunk) => chunk.length)).toEqual([32_000, 1]);
    const wide = Array.from({ length: 3 }, (_, i): DataExtensionRow => ({
      TesseraId: `C${i}`,
      Notes: 'x'.repeat(1_500_000),
    }));
    expect(asyncChunks(wide).map((chunk) => chunk.length)).toEqual([2, 1]);
  });

  it('ties async errors to rows by the TesseraId they quote, or gives up when one names no row', () => {
    const rows: DataExtensionRow[] = [{ TesseraId: 'C1' }, { TesseraId: 'C10' }];
    expect(
      attributeRowErrors(rows, {
        count: 1,
        items: [{ status: 'Error', errorCode: 'InvalidValue', message: "Bad value (TesseraId 'C10')" }],
      }),
    ).toEqual([
      { status: 'ok' },
      { status: 'rejected', reason: "SFMC: InvalidValue: Bad value (TesseraId 'C10')" },
    ]);
    expect(
      attributeRowErrors(rows, {
        count: 1,
        items: [{ status: 'Error', message: 'Violation of PRIMARY KEY' }],
      }),
    ).toBeUndefined();
    expect(attributeRowErrors(rows, { count: 2, items: [] })).toBeUndefined();
  });

  it("carries the rowset's additionalErrors into the rejection", () => {
    const error = new RejectedError('HTTP 400: Unable to save rows', {
      status: 400,
      body: JSON.stringify({ message: 'Unable to save rows', additionalErrors: [{ message: 'Bad email' }] }),
    });
    expect((withRowsetDetail(error) as RejectedError).message).toBe(
      'HTTP 400: Unable to save rows: Bad email',
    );
    const plain = new RejectedError('HTTP 400', { status: 400, body: 'not json' });
    expect(withRowsetDetail(plain)).toBe(plain);
  });
});
