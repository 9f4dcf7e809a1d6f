import { FilterError, matchesAll, parseProfileFilter } from './klaviyo-filter';

describe('parseProfileFilter', () => {
  it('parses equals, any, greater-than and less-than, nested in and() or comma-separated', () => {
    expect(parseProfileFilter("equals(email,'a@example.com')")).toEqual([
      { op: 'equals', field: 'email', value: 'a@example.com' },
    ]);
    expect(parseProfileFilter(`any(id,['A', "B"])`)).toEqual([
      { op: 'any', field: 'id', values: ['A', 'B'] },
    ]);
    expect(
      parseProfileFilter(
        "and(greater-than(updated,2026-01-01T00:00:00Z),less-than(created,'2026-02-01T00:00:00+00:00'))",
      ),
    ).toEqual([
      { op: 'greater-than', field: 'updated', at: Date.parse('2026-01-01T00:00:00Z') },
      { op: 'less-than', field: 'created', at: Date.parse('2026-02-01T00:00:00Z') },
    ]);
    expect(parseProfileFilter("equals(external_id,'C1'), equals(phone_number,'+33612345678')")).toHaveLength(
      2,
    );
    expect(parseProfileFilter("equals(external_id,'it\\'s')")).toEqual([
      { op: 'equals', field: 'external_id', value: "it's" },
    ]);
  });

  it.each([
    '',
    'equals(email)',
    "equals(email,'a'",
    'equals(email,a@example.com)',
    "equals(created,'2026-01-01')",
    'greater-than(email,2026-01-01T00:00:00Z)',
    'greater-than(updated,not-a-date)',
    "or(equals(email,'a'),equals(email,'b'))",
    "equals(email,'a') trailing",
    'any(email,[])',
  ])('refuses %s', (text) => {
    expect(() => parseProfileFilter(text)).toThrow(FilterError);
  });

  it('matches email case-insensitively and times strictly', () => {
    const profile = {
      id: 'P1',
      email: 'ada@example.com',
      phone_number: null,
      external_id: 'C1',
      created: '2026-01-01T00:00:00.000Z',
      updated: '2026-01-02T00:00:00.000Z',
    };
    expect(matchesAll(profile, parseProfileFilter("equals(email,'ADA@example.com')"))).toBe(true);
    expect(matchesAll(profile, parseProfileFilter("equals(phone_number,'+33612345678')"))).toBe(false);
    expect(matchesAll(profile, parseProfileFilter('greater-than(updated,2026-01-02T00:00:00Z)'))).toBe(false);
    expect(matchesAll(profile, parseProfileFilter('less-than(created,2026-01-01T00:00:01Z)'))).toBe(true);
  });
});
