// talisman ships no types; the reference carries our declarations to every project that compiles this file.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./talisman.d.ts" />
import jaroWinkler from 'talisman/metrics/jaro-winkler';
import {
  COMPARED_FIELDS,
  type ComparedField,
  type ComparisonLevel,
  DEFAULT_MATCH_MODEL,
  type MatchModel,
} from './match-model';
import { type MatchProfile, normalizeName, normalizePostcode, postcodeDistrict } from './match-profile';

export type NameField = 'firstName' | 'lastName';

export interface TermFrequencies {
  /** Share (0..1) of profiles with this normalized name, or undefined if the value was never seen. */
  frequency(field: NameField, normalizedValue: string): number | undefined;
}

export interface ComparisonResult {
  field: ComparedField;
  level: ComparisonLevel;
  /** log2(m / u) for the level; 0 when missing. */
  weight: number;
}

export interface PairScore {
  score: number;
  decision: 'match' | 'review' | 'non-match';
  comparisons: ComparisonResult[];
  modelVersion: string;
}

/**
 * Name frequencies over a population of profiles. The share is taken among the profiles that have the field,
 * so records without a first name do not make every first name look rarer.
 */
export function termFrequenciesFrom(profiles: MatchProfile[]): TermFrequencies {
  const counts: Record<NameField, Map<string, number>> = { firstName: new Map(), lastName: new Map() };
  const totals: Record<NameField, number> = { firstName: 0, lastName: 0 };
  for (const profile of profiles) {
    for (const field of ['firstName', 'lastName'] as const) {
      const name = normalizeName(profile[field]);
      if (name === '') continue;
      totals[field] += 1;
      counts[field].set(name, (counts[field].get(name) ?? 0) + 1);
    }
  }
  return {
    frequency(field, normalizedValue) {
      const count = counts[field].get(normalizedValue);
      return count === undefined ? undefined : count / totals[field];
    },
  };
}

/** Compares every field of the model, sums the weights and applies the thresholds. */
export function scorePair(
  a: MatchProfile,
  b: MatchProfile,
  model: MatchModel = DEFAULT_MATCH_MODEL,
  frequencies?: TermFrequencies,
): PairScore {
  const names = nameLevels(a, b, model.closeThreshold);
  const levels: Record<ComparedField, ComparisonLevel> = {
    firstName: names.firstName,
    lastName: names.lastName,
    postcode: postcodeLevel(a.postcode, b.postcode),
    email: emailLevel(a.emails, b.emails),
    phone: phoneLevel(a.phones, b.phones),
    dateOfBirth: dateOfBirthLevel(a.dateOfBirth, b.dateOfBirth),
  };

  const comparisons = COMPARED_FIELDS.map((field): ComparisonResult => {
    const level = levels[field];
    if (level === 'missing') return { field, level, weight: 0 };
    const { m, u } = model.comparisons[field];
    let uLevel = u[level];
    if (level === 'exact' && (field === 'firstName' || field === 'lastName')) {
      uLevel = termFrequencyU(model, frequencies, field, normalizeName(a[field])) ?? uLevel;
    }
    return { field, level, weight: Math.log2(m[level] / uLevel) };
  });

  const score = comparisons.reduce((total, comparison) => total + comparison.weight, 0);
  return {
    score,
    decision: score >= model.upperThreshold ? 'match' : score < model.lowerThreshold ? 'non-match' : 'review',
    comparisons,
    modelVersion: model.version,
  };
}

/**
 * Agreeing on a common name is weaker evidence than agreeing on a rare one, so an exact agreement uses the
 * name's own share as u — floored at minU so that a name seen once in a small population is not decisive.
 */
function termFrequencyU(
  model: MatchModel,
  frequencies: TermFrequencies | undefined,
  field: NameField,
  normalizedValue: string,
): number | undefined {
  if (!model.termFrequency.enabled || frequencies === undefined) return undefined;
  const share = frequencies.frequency(field, normalizedValue);
  return share === undefined ? undefined : Math.max(share, model.termFrequency.minU);
}

/**
 * First and last names compare field by field; when they match only crosswise (Wei Chen / Chen Wei) both count
 * as 'close': a swap is a common data-entry slip, but 'Owen Thomas' and 'Thomas Owen' can also be two people.
 */
function nameLevels(
  a: MatchProfile,
  b: MatchProfile,
  closeThreshold: number,
): Record<NameField, ComparisonLevel> {
  const aFirst = normalizeName(a.firstName);
  const aLast = normalizeName(a.lastName);
  const bFirst = normalizeName(b.firstName);
  const bLast = normalizeName(b.lastName);
  const swapped = aFirst !== '' && aLast !== '' && aFirst !== aLast && aFirst === bLast && aLast === bFirst;
  if (swapped) return { firstName: 'close', lastName: 'close' };
  return {
    firstName: nameLevel(aFirst, bFirst, closeThreshold),
    lastName: nameLevel(aLast, bLast, closeThreshold),
  };
}

function nameLevel(a: string, b: string, closeThreshold: number): ComparisonLevel {
  if (a === '' || b === '') return 'missing';
  if (a === b) return 'exact';
  return jaroWinkler(a, b) >= closeThreshold ? 'close' : 'different';
}

/** 'close' is the same UK district (outward code): a move across town keeps it. */
function postcodeLevel(a: string | undefined, b: string | undefined): ComparisonLevel {
  const first = normalizePostcode(a ?? '');
  const second = normalizePostcode(b ?? '');
  if (first === '' || second === '') return 'missing';
  if (first === second) return 'exact';
  const district = postcodeDistrict(first);
  return district !== undefined && district === postcodeDistrict(second) ? 'close' : 'different';
}

/**
 * Emails compare as sets: 'exact' if any address is shared, 'close' if a local part is shared at different
 * providers (jane.doe@gmail.com / jane.doe@outlook.com), which people keep when they change provider.
 */
function emailLevel(a: string[], b: string[]): ComparisonLevel {
  if (a.length === 0 || b.length === 0) return 'missing';
  if (a.some((email) => b.includes(email))) return 'exact';
  const localParts = new Set(a.map(emailLocalPart).filter((local) => local !== ''));
  return b.some((email) => localParts.has(emailLocalPart(email))) ? 'close' : 'different';
}

function emailLocalPart(email: string): string {
  const at = email.lastIndexOf('@');
  return at <= 0 ? '' : email.slice(0, at);
}

/**
 * Phones compare as sets. A shared number is 'exact' unless it is a UK landline or organisation number (+441,
 * +442, +443), which the whole household answers: that is 'close', like a number one keystroke off (one digit
 * changed or two neighbouring digits swapped).
 */
function phoneLevel(a: string[], b: string[]): ComparisonLevel {
  if (a.length === 0 || b.length === 0) return 'missing';
  const shared = a.filter((phone) => b.includes(phone));
  if (shared.some((phone) => !isUkLandline(phone))) return 'exact';
  if (shared.length > 0) return 'close';
  return a.some((first) => b.some((second) => oneKeystrokeApart(first, second))) ? 'close' : 'different';
}

function isUkLandline(phone: string): boolean {
  return /^\+44[123]/.test(phone);
}

/**
 * Date of birth: 'close' when day and month are swapped (a US-style entry) or the dates are one keystroke
 * apart (1984 / 1985). A value that is not YYYY-MM-DD counts as missing.
 */
function dateOfBirthLevel(a: string | undefined, b: string | undefined): ComparisonLevel {
  const first = parseDate(a);
  const second = parseDate(b);
  if (first === undefined || second === undefined) return 'missing';
  if (first.digits === second.digits) return 'exact';
  const dayMonthSwapped =
    first.year === second.year && first.month === second.day && first.day === second.month;
  return dayMonthSwapped || oneKeystrokeApart(first.digits, second.digits) ? 'close' : 'different';
}

function parseDate(
  value: string | undefined,
): { year: string; month: string; day: string; digits: string } | undefined {
  const parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value?.trim() ?? '');
  if (parts === null) return undefined;
  const [, year, month, day] = parts;
  return { year, month, day, digits: `${year}${month}${day}` };
}

/** Same length and either exactly one character different or two adjacent characters swapped. */
function oneKeystrokeApart(a: string, b: string): boolean {
  if (a.length !== b.length || a === b) return false;
  const differences: number[] = [];
  for (let i = 0; i < a.length && differences.length <= 2; i++) {
    if (a[i] !== b[i]) differences.push(i);
  }
  if (differences.length === 1) return true;
  const [first, second] = differences;
  return differences.length === 2 && second === first + 1 && a[first] === b[second] && a[second] === b[first];
}
