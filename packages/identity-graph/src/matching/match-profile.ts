// talisman ships no types; the reference carries our declarations to every project that compiles this file.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./talisman.d.ts" />
import doubleMetaphone from 'talisman/phonetics/double-metaphone';

/** The fields of a profile that probabilistic matching compares. */
export interface MatchProfile {
  customerId: string;
  firstName?: string;
  lastName?: string;
  /** UK-style or any; normalized here (uppercase, no spaces). */
  postcode?: string;
  /** Already normalized (lowercase). */
  emails: string[];
  /** Already E.164. */
  phones: string[];
  /** YYYY-MM-DD */
  dateOfBirth?: string;
}

/**
 * Lowercase ASCII letters only: accents are folded (Zoë → zoe) and spaces, hyphens and apostrophes dropped
 * (O'Neill → oneill, Smith-Jones → smithjones), because forms and tills write the same name all these ways.
 */
export function normalizeName(value: string | undefined): string {
  if (value === undefined) return '';
  return value
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z]/g, '');
}

/** Uppercase with spaces and punctuation removed, so 'ls6 2ab', 'LS62AB' and 'LS6-2AB' agree. */
export function normalizePostcode(value: string): string {
  return value.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

/** Double Metaphone primary code of the normalized name; '' for an empty name. */
export function phoneticKey(name: string): string {
  const normalized = normalizeName(name);
  return normalized === '' ? '' : doubleMetaphone(normalized)[0];
}

const UK_POSTCODE = /^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$/;

/** The outward code (district) of a normalized UK postcode — 'LS6' for 'LS62AB' — or undefined if not UK-shaped. */
export function postcodeDistrict(normalizedPostcode: string): string | undefined {
  return UK_POSTCODE.exec(normalizedPostcode)?.[1];
}
