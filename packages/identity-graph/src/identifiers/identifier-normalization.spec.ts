import {
  isPlaceholder,
  normalizeEmail,
  normalizeIdentifiers,
  normalizeLoyaltyCard,
  normalizeOpaqueId,
  normalizePhone,
} from './identifier-normalization';
import type { RawIdentifiers } from './identifier-types';
import { identityConfig } from './identity-config';

const GB = { defaultCountry: 'GB' };

describe('normalizeEmail', () => {
  it.each([
    [' User@Example.COM ', 'user@example.com'],
    // No provider-specific rewriting: dots and plus tags are part of the address.
    ['First.Last+Offers@Gmail.com', 'first.last+offers@gmail.com'],
    ['Jose\u0301@Example.com', 'jos\u00e9@example.com'],
    ["o'brien@mail.example.co.uk", "o'brien@mail.example.co.uk"],
  ])('normalizes %j to %j', (input, expected) => {
    expect(normalizeEmail(input)).toEqual({ ok: true, value: expected });
  });

  it.each([
    'user',
    'user@',
    '@example.com',
    'user@example',
    'user@@example.com',
    'a@b@example.com',
    'user name@example.com',
    'user@example..com',
    'user@.example.com',
    'user@example.com.',
    'user@exa\u0000mple.com',
  ])('refuses %j as not an email address', (input) => {
    expect(normalizeEmail(input)).toEqual({ ok: false, reason: 'not an email address' });
  });

  it('accepts 254 characters and refuses 255', () => {
    const domain = `${'d'.repeat(60)}.${'e'.repeat(60)}.${'f'.repeat(60)}.com`; // 185 characters
    const address = (length: number) => `${'a'.repeat(length - domain.length - 1)}@${domain}`;
    expect(normalizeEmail(address(254))).toEqual({ ok: true, value: address(254) });
    expect(normalizeEmail(address(255))).toEqual({
      ok: false,
      reason: 'email address longer than 254 characters',
    });
  });
});

describe('normalizePhone', () => {
  it.each([
    ['07700 900123', 'GB', '+447700900123'],
    ['+1 (415) 555-2671', 'GB', '+14155552671'],
    ['(415) 555-2671', 'US', '+14155552671'],
    [' 020 7946 0018 ', 'GB', '+442079460018'],
    ['07911 123456', 'gb', '+447911123456'],
    // 00 reads as '+' even where the international prefix is something else (011 in the US).
    ['0044 7911 123456', 'US', '+447911123456'],
    ['+33 6 12 34 56 78', 'GB', '+33612345678'],
    // A number with a country code needs no usable default country.
    ['+44 7911 123456', 'XX', '+447911123456'],
    // The extension is not part of the line's identity.
    ['07911 123456 ext. 12', 'GB', '+447911123456'],
  ])('normalizes %j with default country %s to %s', (input, country, expected) => {
    expect(normalizePhone(input, country)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['0', 'GB', 'invalid phone number (TOO_SHORT) for default country GB'],
    ['abc', 'GB', 'invalid phone number (NOT_A_NUMBER) for default country GB'],
    ['call 07911 123456', 'GB', 'invalid phone number (NOT_A_NUMBER) for default country GB'],
    ['1234567890123456789', 'GB', 'invalid phone number (TOO_LONG) for default country GB'],
    ['+999 1234 5678', 'GB', 'invalid phone number (INVALID_COUNTRY) for default country GB'],
    ['07911 123456', 'XX', 'invalid phone number (INVALID_COUNTRY) for default country XX'],
    // Just past Ofcom's drama range, in a block that is not allocated.
    ['07700 901000', 'GB', 'not a valid number for GB'],
    ['555-0100', 'US', 'not a valid number for US'],
    ['+44 7700 901000', 'US', 'not a valid number for +44'],
    ['+1 555 555 0100', 'GB', 'not a valid number for +1'],
  ])('refuses %j with default country %s: %s', (input, country, reason) => {
    expect(normalizePhone(input, country)).toEqual({ ok: false, reason });
  });
});

describe('normalizeLoyaltyCard', () => {
  it.each([
    ['6330 0012-3456', '633000123456'],
    [' ab-12 cd ', 'AB12CD'],
    ['6330\u20130012', '63300012'],
    ['A1B2', 'A1B2'],
    ['9'.repeat(40), '9'.repeat(40)],
  ])('normalizes %j to %j', (input, expected) => {
    expect(normalizeLoyaltyCard(input)).toEqual({ ok: true, value: expected });
  });

  it.each(['123', '12-3', '9'.repeat(41), '6330/0012', '6330.0012', '\u00c91234', ''])(
    'refuses %j',
    (input) => {
      expect(normalizeLoyaltyCard(input)).toEqual({
        ok: false,
        reason: 'not a loyalty card number (4 to 40 letters and digits)',
      });
    },
  );
});

describe('normalizeOpaqueId', () => {
  it.each([
    ['  C123456 ', 'C123456'],
    // Case is kept: ids are compared exactly.
    ['ab-Cd 12', 'ab-Cd 12'],
    ['Jose\u0301', 'Jos\u00e9'],
    ['x'.repeat(200), 'x'.repeat(200)],
    ['\u{1F600}'.repeat(200), '\u{1F600}'.repeat(200)],
  ])('normalizes %j to %j', (input, expected) => {
    expect(normalizeOpaqueId(input)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ['', 'empty value'],
    ['   ', 'empty value'],
    ['x'.repeat(201), 'longer than 200 characters'],
    ['C12\u00003', 'contains control characters'],
    ['C12\n3', 'contains control characters'],
  ])('refuses %j: %s', (input, reason) => {
    expect(normalizeOpaqueId(input)).toEqual({ ok: false, reason });
  });
});

describe('isPlaceholder', () => {
  it.each([
    '',
    'null',
    'NULL',
    'undefined',
    'nil',
    'None',
    'n/a',
    'N/A',
    'na',
    'anonymous',
    'Guest',
    'unknown',
    'TEST',
    '0',
    '-1',
    '00000000',
    '0000',
    '000000000000',
  ])('refuses %j for every type', (value) => {
    for (const type of ['customer_id', 'member', 'loyalty_card', 'device_id', 'anonymous_id'] as const) {
      expect(isPlaceholder(type, value)).toBe(`placeholder value "${value}"`);
    }
  });

  it.each(['C123456', 'test-1', 'guest42', '0001', '10', 'nan'])('accepts %j', (value) => {
    expect(isPlaceholder('customer_id', value)).toBeUndefined();
  });

  it.each([
    'noemail@example.com',
    'no-email@shop.example',
    'no_email@example.com',
    'noreply@example.com',
    'no-reply@example.com',
    'donotreply@example.com',
    'do-not-reply@example.com',
    'test@test.com',
    'email@email.com',
    'a@a.com',
    'none@none.com',
    'null@null.com',
    'jane@noemail.com',
    'jane@no-email.com',
    'jane@test.com',
  ])('refuses the placeholder address %j', (email) => {
    expect(isPlaceholder('email', email)).toBe(`placeholder value "${email}"`);
  });

  it.each([
    'user@example.com',
    'test@example.com',
    'noreply.team@example.com',
    'none@example.com',
    'b@a.com',
    'jane@test.com.example',
  ])('accepts the address %j', (email) => {
    expect(isPlaceholder('email', email)).toBeUndefined();
  });

  it.each([
    ['+447777777777', 'every national digit the same'],
    ['+11111111111', 'every national digit the same'],
    ['+441234567890', 'the national number 1234567890'],
    ['+390123456789', 'the national number 0123456789'],
  ])('refuses the phone %s (%s)', (phone) => {
    expect(isPlaceholder('phone', phone)).toBe(`placeholder value "${phone}"`);
  });

  it.each(['+447911123456', '+447777777778', '+14155552671'])('accepts the phone %s', (phone) => {
    expect(isPlaceholder('phone', phone)).toBeUndefined();
  });

  it("refuses a type's configured blocklist, case-insensitively, and only for that type", () => {
    const config = identityConfig({ types: { customer_id: { blocklist: ['WALKIN'] } } });
    expect(isPlaceholder('customer_id', 'walkin', config)).toBe('placeholder value "walkin"');
    expect(isPlaceholder('customer_id', 'WALKIN', config)).toBe('placeholder value "WALKIN"');
    expect(isPlaceholder('device_id', 'WALKIN', config)).toBeUndefined();
    expect(isPlaceholder('customer_id', 'WALKIN')).toBeUndefined();
  });
});

describe('normalizeIdentifiers', () => {
  it("keeps the loyalty platform example's customer id and email and ignores its other fields", () => {
    const data = { customer_id: 'C123456', email: 'User@Example.com ', delta: 120, new_balance: 1840 };
    expect(normalizeIdentifiers(data, GB)).toEqual({
      identifiers: [
        { type: 'customer_id', scope: '', value: 'C123456' },
        { type: 'email', scope: '', value: 'user@example.com' },
      ],
      dropped: [],
    });
  });

  it('maps every identifier field, strongest first', () => {
    const raw: RawIdentifiers = {
      anonymous_id: ' anon-1 ',
      device_id: 'device-9',
      phone: '07911 123456',
      email: 'Ana@Example.com',
      loyalty_card: '6330 0012 3456',
      member_id: 'SD123',
      brand: 'sports-direct',
      source_ids: { flannels: 'FL9' },
      customer_id: 'C1',
    };
    expect(normalizeIdentifiers(raw, GB).identifiers).toEqual([
      { type: 'customer_id', scope: '', value: 'C1' },
      { type: 'member', scope: 'flannels', value: 'FL9' },
      { type: 'member', scope: 'sports-direct', value: 'SD123' },
      { type: 'loyalty_card', scope: '', value: '633000123456' },
      { type: 'email', scope: '', value: 'ana@example.com' },
      { type: 'phone', scope: '', value: '+447911123456' },
      { type: 'device_id', scope: '', value: 'device-9' },
      { type: 'anonymous_id', scope: '', value: 'anon-1' },
    ]);
  });

  it("reads a phone without a country code as the brand's", () => {
    expect(normalizeIdentifiers({ phone: '(415) 555-2671' }, { defaultCountry: 'US' }).identifiers).toEqual([
      { type: 'phone', scope: '', value: '+14155552671' },
    ]);
  });

  it("scopes a member_id by the data's brand, else by the context's, else drops it", () => {
    const member = (raw: RawIdentifiers, brand?: string) =>
      normalizeIdentifiers(raw, { defaultCountry: 'GB', brand });
    expect(member({ member_id: 'M1', brand: 'flannels' }, 'sports-direct').identifiers).toEqual([
      { type: 'member', scope: 'flannels', value: 'M1' },
    ]);
    expect(member({ member_id: 'M1' }, 'sports-direct').identifiers).toEqual([
      { type: 'member', scope: 'sports-direct', value: 'M1' },
    ]);
    expect(member({ member_id: 'M1', brand: '  ' })).toEqual({
      identifiers: [],
      dropped: [{ type: 'member', field: 'member_id', reason: 'member_id needs a brand' }],
    });
  });

  it('turns each source id into a member identifier of its brand', () => {
    const result = normalizeIdentifiers(
      { source_ids: { 'sports-direct': 'SD123', flannels: ' FL9 ', usc: 'null' } },
      GB,
    );
    expect(result).toEqual({
      identifiers: [
        { type: 'member', scope: 'flannels', value: 'FL9' },
        { type: 'member', scope: 'sports-direct', value: 'SD123' },
      ],
      dropped: [{ type: 'member', field: 'source_ids.usc', reason: 'placeholder value "null"' }],
    });
    expect(normalizeIdentifiers({ source_ids: { ' ': 'X1' } }, GB)).toEqual({
      identifiers: [],
      dropped: [{ type: 'member', field: 'source_ids. ', reason: 'source_ids key is not a brand' }],
    });
  });

  it('keeps one of each type, scope and value, and orders equal priorities by value', () => {
    const raw: RawIdentifiers = {
      member_id: 'SD123',
      brand: 'Sports-Direct',
      source_ids: { 'sports-direct': 'SD123', flannels: 'SD123', usc: 'A9' },
    };
    expect(normalizeIdentifiers(raw, GB).identifiers).toEqual([
      { type: 'member', scope: 'usc', value: 'A9' },
      { type: 'member', scope: 'flannels', value: 'SD123' },
      { type: 'member', scope: 'sports-direct', value: 'SD123' },
    ]);
  });

  it('orders by the configured priorities', () => {
    const config = identityConfig({ types: { phone: { priority: 5 } } });
    const raw: RawIdentifiers = { customer_id: 'C1', phone: '+447911123456' };
    expect(normalizeIdentifiers(raw, GB, config).identifiers.map((id) => id.type)).toEqual([
      'phone',
      'customer_id',
    ]);
  });

  it('drops every unusable value with its field and reason, and never throws', () => {
    const raw = {
      customer_id: 123456,
      email: 'not-an-email',
      phone: '7',
      loyalty_card: '12',
      device_id: 'x'.repeat(201),
      anonymous_id: 'Guest',
      source_ids: 'SD123',
    } as unknown as RawIdentifiers;
    expect(normalizeIdentifiers(raw, GB)).toEqual({
      identifiers: [],
      dropped: [
        { type: 'member', field: 'source_ids', reason: 'source_ids is not an object of brand → member id' },
        { type: 'customer_id', field: 'customer_id', reason: 'expected a string, got number' },
        {
          type: 'loyalty_card',
          field: 'loyalty_card',
          reason: 'not a loyalty card number (4 to 40 letters and digits)',
        },
        { type: 'email', field: 'email', reason: 'not an email address' },
        { type: 'phone', field: 'phone', reason: 'invalid phone number (TOO_SHORT) for default country GB' },
        { type: 'device_id', field: 'device_id', reason: 'longer than 200 characters' },
        { type: 'anonymous_id', field: 'anonymous_id', reason: 'placeholder value "Guest"' },
      ],
    });
  });

  it('reports a placeholder as such even when it is not a well-formed value of the type', () => {
    expect(
      normalizeIdentifiers({ email: ' N/A ', phone: '0000000000', customer_id: '' }, GB).dropped,
    ).toEqual([
      { type: 'customer_id', field: 'customer_id', reason: 'placeholder value ""' },
      { type: 'email', field: 'email', reason: 'placeholder value "N/A"' },
      { type: 'phone', field: 'phone', reason: 'placeholder value "0000000000"' },
    ]);
  });

  it('drops placeholders found only after normalization, and configured blocklist values', () => {
    const config = identityConfig({ types: { phone: { blocklist: ['+44 20 7946 0018'] } } });
    const raw: RawIdentifiers = { email: ' Test@Test.com', phone: '020 7946 0018', device_id: 'd1' };
    expect(normalizeIdentifiers(raw, GB, config)).toEqual({
      identifiers: [{ type: 'device_id', scope: '', value: 'd1' }],
      dropped: [
        { type: 'email', field: 'email', reason: 'placeholder value "test@test.com"' },
        { type: 'phone', field: 'phone', reason: 'placeholder value "+442079460018"' },
      ],
    });
    expect(normalizeIdentifiers({ phone: '07777 777777' }, GB).dropped).toEqual([
      { type: 'phone', field: 'phone', reason: 'placeholder value "+447777777777"' },
    ]);
  });

  it('ignores absent and null fields', () => {
    const raw = { customer_id: undefined, email: null, member_id: null } as unknown as RawIdentifiers;
    expect(normalizeIdentifiers(raw, GB)).toEqual({ identifiers: [], dropped: [] });
  });
});
