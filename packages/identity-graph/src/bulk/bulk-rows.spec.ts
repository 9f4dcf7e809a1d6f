import { sizeHistogram, starPairs, validateBulkRow, validateBulkRows } from './bulk-rows';

const NOW = new Date('2026-01-01T00:00:00Z');
const HASH = 'AB'.repeat(32);
const row = (overrides: Record<string, unknown> = {}) => ({
  ref: 'r1',
  identifiers: [{ type: 'customer_id', sha256: HASH }],
  consent: { reference: 'consent-1', capturedAt: '2025-12-01T00:00:00Z' },
  ...overrides,
});
const reasonOf = (input: unknown) => {
  const result = validateBulkRow(input, 0, NOW);
  return result.ok ? undefined : result.reason;
};

describe('validateBulkRow', () => {
  it('accepts a row, lowercasing hashes and brand scopes and dropping repeated identifiers', () => {
    const result = validateBulkRow(
      row({
        identifiers: [
          { type: 'member', scope: ' Sports-Direct ', sha256: HASH },
          { type: 'member', scope: 'sports-direct', sha256: HASH.toLowerCase() },
          { type: 'email', sha256: HASH },
        ],
      }),
      4,
      NOW,
    );
    expect(result).toEqual({
      ok: true,
      row: {
        row: 4,
        ref: 'r1',
        identifiers: [
          { type: 'member', scope: 'sports-direct', sha256: HASH.toLowerCase() },
          { type: 'email', scope: '', sha256: HASH.toLowerCase() },
        ],
        consent: { reference: 'consent-1', capturedAt: new Date('2025-12-01T00:00:00Z') },
      },
    });
  });

  it.each([
    [row({ consent: undefined }), 'no consent: every row needs consent.reference and consent.capturedAt'],
    [
      row({ consent: { reference: ' ', capturedAt: '2025-12-01' } }),
      'no consent: every row needs consent.reference and consent.capturedAt',
    ],
    [row({ consent: { reference: 'c', capturedAt: 'yesterday' } }), 'consent.capturedAt is not a date'],
    [
      row({ consent: { reference: 'c', capturedAt: '2026-02-01T00:00:00Z' } }),
      'consent.capturedAt is in the future',
    ],
    [row({ identifiers: [] }), 'no identifiers'],
    [
      row({ identifiers: [{ type: 'passport', sha256: HASH }] }),
      'identifier 1: unknown identifier type "passport"',
    ],
    [
      row({ identifiers: [{ type: 'member', sha256: HASH }] }),
      'identifier 1: a member identifier needs its brand as scope',
    ],
    [
      row({ identifiers: [{ type: 'email', scope: 'x', sha256: HASH }] }),
      'identifier 1: only member identifiers carry a scope',
    ],
    [
      row({ identifiers: [{ type: 'email', sha256: 'ana@example.com' }] }),
      'identifier 1: sha256 is not 64 hex digits',
    ],
    [row({ ref: '' }), 'no ref'],
    ['text', 'not an object'],
  ])('refuses %j: %s', (input, reason) => {
    expect(reasonOf(input)).toBe(reason);
  });
});

describe('validateBulkRows', () => {
  it('refuses a ref used twice and reports rows by position when they have no ref', () => {
    const { valid, rejected } = validateBulkRows([row(), row(), 42], NOW);
    expect(valid.map((entry) => entry.row)).toEqual([0]);
    expect(rejected).toEqual([
      { row: 1, ref: 'r1', reason: 'duplicate ref' },
      { row: 2, ref: '#3', reason: 'not an object' },
    ]);
  });
});

describe('starPairs and sizeHistogram', () => {
  it('links every identifier to the first', () => {
    expect(starPairs([7, 3, 9])).toEqual([
      [7, 3],
      [7, 9],
    ]);
    expect(starPairs([7])).toEqual([]);
  });

  it('counts profiles by size', () => {
    expect(sizeHistogram([3, 2, 3, 10])).toEqual({ '2': 1, '3': 2, '10': 1 });
    expect(sizeHistogram([])).toEqual({});
  });
});
