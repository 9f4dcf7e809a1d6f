import { normalizeName, normalizePostcode, phoneticKey, postcodeDistrict } from './match-profile';

describe('normalizePostcode', () => {
  it.each([
    ['LS6 2AB', 'LS62AB'],
    ['ls6 2ab', 'LS62AB'],
    [' sw1a  1aa ', 'SW1A1AA'],
    ['LS6-2AB', 'LS62AB'],
    ['75001', '75001'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(normalizePostcode(input)).toBe(expected);
  });
});

describe('postcodeDistrict', () => {
  it('is the outward code of a UK postcode and undefined for anything else', () => {
    expect(postcodeDistrict('LS62AB')).toBe('LS6');
    expect(postcodeDistrict('SW1A1AA')).toBe('SW1A');
    expect(postcodeDistrict('M145TP')).toBe('M14');
    expect(postcodeDistrict('75001')).toBeUndefined();
  });
});

describe('normalizeName', () => {
  it('keeps lowercase letters only, folding accents', () => {
    expect(normalizeName('Zoë')).toBe('zoe');
    expect(normalizeName("O'Neill")).toBe('oneill');
    expect(normalizeName('Smith-Jones')).toBe('smithjones');
    expect(normalizeName(' J. ')).toBe('j');
    expect(normalizeName(undefined)).toBe('');
  });
});

describe('phoneticKey', () => {
  it('gives spelling variants of a surname the same key', () => {
    expect(phoneticKey('Smith')).toBe('SM0');
    expect(phoneticKey('Smyth')).toBe(phoneticKey('Smith'));
    expect(phoneticKey('McDonald')).toBe(phoneticKey('Macdonald'));
    expect(phoneticKey('Jones')).not.toBe(phoneticKey('Smith'));
  });

  it('normalizes before encoding and is empty for an empty name', () => {
    expect(phoneticKey(' SMITH ')).toBe('SM0');
    expect(phoneticKey("O'Neill")).toBe(phoneticKey('ONeill'));
    expect(phoneticKey('')).toBe('');
    expect(phoneticKey(" '- ")).toBe('');
  });
});
