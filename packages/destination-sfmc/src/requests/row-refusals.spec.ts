import { RejectedError } from '@tessera/destination-kit';
import { columnRefusalOf, rowsetErrorMessages, rowsetRejectionReason } from './row-refusals';
import { singleRowVerdict } from './rowset-upsert.request';
import type { RowDraft } from './data-extension-row';

describe('SFMC row refusals', () => {
  it.each([
    [
      'EmailAddress: The value for column [EmailAddress] is not a valid email address. Parse error [InvalidEmailAddress]',
      { column: 'EmailAddress', kind: 'invalid-value' },
    ],
    ['Tier: The data extension has no column [Tier].', { column: 'Tier', kind: 'unknown-column' }],
    [
      'EmailAddress: The value for column [EmailAddress] is required.',
      { column: 'EmailAddress', kind: 'required' },
    ],
    ["Bad value for [Points] (TesseraId 'C1')", { column: 'Points', kind: 'invalid-value' }],
  ])('reads the column and the kind of %j', (message, expected) => {
    expect(columnRefusalOf(message)).toEqual({ ...expected, message });
  });

  it.each([
    ["Primary key 'subscriberkey' does not exist."],
    ['Unable to save rows'],
    ['[A] and [B] are bad'],
  ])('finds no single column in %j', (message) => {
    expect(columnRefusalOf(message)).toBeUndefined();
  });

  it("carries the rowset's additionalErrors into the rejection, and reads none from a body without them", () => {
    const error = new RejectedError('HTTP 400: Unable to save rows', {
      status: 400,
      body: JSON.stringify({ message: 'Unable to save rows', additionalErrors: [{ message: 'Bad email' }] }),
    });
    expect(rowsetErrorMessages(error)).toEqual(['Bad email']);
    expect(rowsetRejectionReason(error)).toBe('HTTP 400: Unable to save rows: Bad email');
    const plain = new RejectedError('HTTP 400', { status: 400, body: 'not json' });
    expect(rowsetErrorMessages(plain)).toEqual([]);
    expect(rowsetRejectionReason(plain)).toBe('HTTP 400');
  });

  describe('the verdict on a row refused alone', () => {
    const draft = (): RowDraft => ({
      row: { TesseraId: 'C1', Tier: 'gold', EmailAddress: 'nope' },
      sources: { Tier: 'loyalty_tier', EmailAddress: 'email' },
      omitted: [],
    });
    const refusal = (message: string) =>
      columnRefusalOf(message) ?? { column: '', kind: 'invalid-value' as const, message };

    it('sends it again without the refused value', () => {
      const row = draft();
      expect(
        singleRowVerdict(
          row,
          [refusal('EmailAddress: The value for column [EmailAddress] is not a valid email address.')],
          'rejected',
        ),
      ).toBe('again');
      expect(row.row).toEqual({ TesseraId: 'C1', Tier: 'gold' });
      expect(row.omitted).toEqual([
        {
          column: 'EmailAddress',
          field: 'email',
          reason: 'SFMC: EmailAddress: The value for column [EmailAddress] is not a valid email address.',
        },
      ]);
    });

    it('skips a member without email when the data extension requires one', () => {
      const row: RowDraft = {
        row: { TesseraId: 'C1', Tier: 'gold' },
        sources: { Tier: 'loyalty_tier' },
        omitted: [],
      };
      expect(
        singleRowVerdict(
          row,
          [refusal('EmailAddress: The value for column [EmailAddress] is required.')],
          'x',
        ),
      ).toEqual({
        status: 'skipped',
        reason: 'The SFMC data extension requires EmailAddress and the member has no email address',
      });
    });

    it('rejects it when the required column is one SFMC refused the value of, or an attribute', () => {
      const row = draft();
      singleRowVerdict(
        row,
        [refusal('EmailAddress: The value for column [EmailAddress] is not a valid email address.')],
        'x',
      );
      expect(
        singleRowVerdict(
          row,
          [refusal('EmailAddress: The value for column [EmailAddress] is required.')],
          'x',
        ),
      ).toEqual({
        status: 'rejected',
        reason:
          'SFMC requires EmailAddress, and refused its value: SFMC: EmailAddress: The value for column [EmailAddress] is not a valid email address.',
      });
      expect(
        singleRowVerdict(
          draft(),
          [refusal('Points: The value for column [Points] is required.')],
          'HTTP 400',
        ),
      ).toEqual({ status: 'rejected', reason: 'HTTP 400' });
    });

    it('rejects it when SFMC names no column it carries, or the primary key', () => {
      expect(singleRowVerdict(draft(), [], 'HTTP 400: Unable to save rows')).toEqual({
        status: 'rejected',
        reason: 'HTTP 400: Unable to save rows',
      });
      expect(
        singleRowVerdict(
          draft(),
          [refusal('TesseraId: The value for column [TesseraId] is longer than its maximum length of 254.')],
          'too long',
        ),
      ).toEqual({ status: 'rejected', reason: 'too long' });
    });
  });
});
