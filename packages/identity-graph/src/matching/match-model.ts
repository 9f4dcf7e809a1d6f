/**
 * A Fellegi–Sunter match model. Each compared field falls into one level (exact, close, different, or missing
 * when either side lacks it). For a level, m is the probability of seeing it when the two profiles are the same
 * person and u when they are not; the level's weight is log2(m / u) — a Bayes factor in bits — and a pair's
 * score is the sum over fields, missing fields adding 0. Thresholds on that sum decide merge / review / apart.
 *
 * The score carries no prior: among a million members a random pair is the same person about once in 2^20, so
 * a score of 20 only brings the odds to even. The auto-merge threshold sits well above that.
 */

export type ComparisonLevel = 'exact' | 'close' | 'different' | 'missing';
export type AgreementLevel = Exclude<ComparisonLevel, 'missing'>;
export const AGREEMENT_LEVELS: readonly AgreementLevel[] = ['exact', 'close', 'different'];

/** Per-level probabilities in (0, 1); the m levels sum to 1, and so do the u levels. */
export interface ComparisonWeights {
  m: Record<AgreementLevel, number>;
  u: Record<AgreementLevel, number>;
}

export interface MatchModel {
  /** Recorded with every score, so a merge can be traced to the weights that made it. */
  version: string;
  comparisons: {
    firstName: ComparisonWeights;
    lastName: ComparisonWeights;
    postcode: ComparisonWeights;
    email: ComparisonWeights;
    phone: ComparisonWeights;
    dateOfBirth: ComparisonWeights;
  };
  /** Jaro–Winkler similarity ≥ this is 'close' (names). */
  closeThreshold: number;
  /** Total log2 weight ≥ this → 'match' (auto-merge). */
  upperThreshold: number;
  /** Total log2 weight < this → 'non-match'; in between → 'review'. */
  lowerThreshold: number;
  /** For an exact name agreement, u_exact becomes max(share of profiles with that name, minU). */
  termFrequency: { enabled: boolean; minU: number };
}

export type ComparedField = keyof MatchModel['comparisons'];
export const COMPARED_FIELDS: readonly ComparedField[] = [
  'firstName',
  'lastName',
  'postcode',
  'email',
  'phone',
  'dateOfBirth',
];

/**
 * Defaults for UK retail loyalty members. The m values follow the usual ranges in the record-linkage literature
 * and Splink's example models (exact agreement 0.8–0.9 for names and dates of birth); the u values are estimated
 * from UK name, postcode and birth-date distributions, rounded up for a retailer's members clustering around its
 * stores. Weights in bits are given beside each level.
 */
export const DEFAULT_MATCH_MODEL: MatchModel = deepFreeze({
  version: 'fs-2026-11-1',
  comparisons: {
    firstName: {
      // m: typos are 'close' (Jonathon), nicknames and initials 'different' (Bob, J).
      m: { exact: 0.85, close: 0.08, different: 0.07 }, // +6.4, +2.0, -3.8
      // u exact: sum of squared UK first-name shares ≈ 1% (the commonest names are 2–3% each).
      // u close: distinct names within Jaro–Winkler 0.88 (Jon/John, Daniel/Danielle).
      u: { exact: 0.01, close: 0.02, different: 0.97 },
    },
    lastName: {
      // m: surnames change on marriage more often than first names do, hence the larger 'different'.
      m: { exact: 0.86, close: 0.05, different: 0.09 }, // +8.2, +2.8, -3.5
      // u exact: sum of squared UK surname shares ≈ 0.3% (Smith 1.1%, Jones 0.8%).
      u: { exact: 0.003, close: 0.007, different: 0.99 },
    },
    postcode: {
      // m: about one UK household in ten moves each year, so records go stale; 'close' is a move within the
      // same district (same outward code).
      m: { exact: 0.85, close: 0.07, different: 0.08 }, // +12.0, +2.8, -3.6
      // u exact: a postcode holds ~40 people of 67M, raised to 1 in 5,000 because members cluster near stores.
      // u close: ~2,900 districts, likewise concentrated.
      u: { exact: 0.0002, close: 0.01, different: 0.9898 },
    },
    email: {
      // m: members keep several addresses, and a pair sharing one is normally linked deterministically before
      // scoring, so agreement is far from certain. 'close' is the same local part at another provider.
      m: { exact: 0.55, close: 0.1, different: 0.35 }, // +12.4, +7.6, -1.5
      // u: addresses are nearly unique; family addresses (thesmiths@…) keep u exact above 1e-4.
      u: { exact: 0.0001, close: 0.0005, different: 0.9994 },
    },
    phone: {
      // m: as for email. 'close' is a shared UK landline or a number one keystroke off.
      m: { exact: 0.55, close: 0.1, different: 0.35 }, // +11.4, +3.3, -1.5
      // u exact: mobiles are personal, but a parent's number is sometimes given: 1 in 5,000.
      // u close: a landline belongs to the household, so within a block (same postcode and surname) it is
      // shared by relatives as often as by the same person; u is set for that, not for random pairs.
      u: { exact: 0.0002, close: 0.01, different: 0.9898 },
    },
    dateOfBirth: {
      // m: wrong or placeholder dates are common on till sign-ups; 'close' is day and month swapped or one
      // digit off.
      m: { exact: 0.88, close: 0.06, different: 0.06 }, // +12.1, +4.9, -4.1
      // u exact: 1 / (365 × ~60 birth years) ≈ 5e-5, raised to 2e-4 for 1 January placeholders and the age
      // profile of a member base. u close: a date has a few dozen one-keystroke or swapped neighbours.
      u: { exact: 0.0002, close: 0.002, different: 0.9978 },
    },
  },
  // Jaro–Winkler 0.88 takes Jonathon/Jonathan (0.95) and Smyth/Smith (0.89) but not Ellie/Evie (0.81).
  closeThreshold: 0.88,
  // Set on the labelled fixture (labelled-pairs.fixture.ts, evaluated without term frequencies). The highest
  // non-match there is twins sharing a landline (31.8: same surname, postcode and birth date), so auto-merge
  // starts 2 bits above it; every true match there scores at least 19.8 (surname typo, new mobile, nothing
  // else), so review starts just below. A false merge mixes two people's points and personal data, so
  // everything in between goes to a person.
  upperThreshold: 34,
  lowerThreshold: 18,
  // minU caps a rare name's weight at log2(0.86 / 0.0005) ≈ 10.7 bits: a name seen once in a small import is not
  // proof of identity.
  termFrequency: { enabled: true, minU: 0.0005 },
});

/** A configuration error; the message starts with the setting's path, e.g. `matching.upperThreshold: …`. */
export class MatchModelError extends Error {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = 'MatchModelError';
  }
}

export interface ComparisonOverrides {
  m?: Partial<Record<AgreementLevel, number>>;
  u?: Partial<Record<AgreementLevel, number>>;
}

/** Any part of a model; nested objects merge key by key into the defaults. */
export interface MatchModelOverrides {
  version?: string;
  comparisons?: { [F in ComparedField]?: ComparisonOverrides };
  closeThreshold?: number;
  upperThreshold?: number;
  lowerThreshold?: number;
  termFrequency?: Partial<MatchModel['termFrequency']>;
}

const MODEL_SETTINGS = [
  'version',
  'comparisons',
  'closeThreshold',
  'upperThreshold',
  'lowerThreshold',
  'termFrequency',
];
const PROBABILITY_SUM_TOLERANCE = 1e-6;

/**
 * The default model with overrides merged in (nested objects merge per key), validated. Overrides usually come
 * from configuration, so every value is checked at run time, unknown keys included.
 */
export function matchModel(overrides: MatchModelOverrides = {}): MatchModel {
  const root = 'matching';
  expectObject(overrides, root);
  rejectUnknownKeys(overrides, MODEL_SETTINGS, root, 'is not a model setting');
  const defaults = DEFAULT_MATCH_MODEL;

  const version = overrides.version ?? defaults.version;
  if (typeof version !== 'string' || version.trim() === '') {
    throw new MatchModelError(`${root}.version`, 'must be a non-empty string');
  }

  const comparisonOverrides = overrides.comparisons ?? {};
  expectObject(comparisonOverrides, `${root}.comparisons`);
  rejectUnknownKeys(comparisonOverrides, COMPARED_FIELDS, `${root}.comparisons`, 'is not a compared field');
  const comparisons = {} as MatchModel['comparisons'];
  for (const field of COMPARED_FIELDS) {
    comparisons[field] = comparisonWeights(
      defaults.comparisons[field],
      comparisonOverrides[field] ?? {},
      `${root}.comparisons.${field}`,
    );
  }

  const closeThreshold = overrides.closeThreshold ?? defaults.closeThreshold;
  if (!isFiniteNumber(closeThreshold) || closeThreshold <= 0 || closeThreshold > 1) {
    throw new MatchModelError(`${root}.closeThreshold`, 'must be a number greater than 0 and at most 1');
  }
  const upperThreshold = overrides.upperThreshold ?? defaults.upperThreshold;
  if (!isFiniteNumber(upperThreshold)) {
    throw new MatchModelError(`${root}.upperThreshold`, 'must be a finite number');
  }
  const lowerThreshold = overrides.lowerThreshold ?? defaults.lowerThreshold;
  if (!isFiniteNumber(lowerThreshold)) {
    throw new MatchModelError(`${root}.lowerThreshold`, 'must be a finite number');
  }
  if (upperThreshold <= lowerThreshold) {
    throw new MatchModelError(`${root}.upperThreshold`, 'must be greater than lowerThreshold');
  }

  const termFrequencyOverrides = overrides.termFrequency ?? {};
  expectObject(termFrequencyOverrides, `${root}.termFrequency`);
  rejectUnknownKeys(termFrequencyOverrides, ['enabled', 'minU'], `${root}.termFrequency`, 'is not a setting');
  const termFrequency = { ...defaults.termFrequency, ...termFrequencyOverrides };
  if (typeof termFrequency.enabled !== 'boolean') {
    throw new MatchModelError(`${root}.termFrequency.enabled`, 'must be true or false');
  }
  if (!isProbability(termFrequency.minU)) {
    throw new MatchModelError(
      `${root}.termFrequency.minU`,
      'must be a probability between 0 and 1 (exclusive)',
    );
  }

  return deepFreeze({
    version,
    comparisons,
    closeThreshold,
    upperThreshold,
    lowerThreshold,
    termFrequency,
  });
}

function comparisonWeights(
  defaults: ComparisonWeights,
  overrides: ComparisonOverrides,
  path: string,
): ComparisonWeights {
  expectObject(overrides, path);
  rejectUnknownKeys(overrides, ['m', 'u'], path, 'is not m or u');
  const weights = {
    m: levelProbabilities(defaults.m, overrides.m ?? {}, `${path}.m`),
    u: levelProbabilities(defaults.u, overrides.u ?? {}, `${path}.u`),
  };
  // With m and u swapped, agreement would count against a match — the likeliest slip when editing weights.
  if (weights.m.exact <= weights.u.exact) {
    throw new MatchModelError(path, 'm.exact must be greater than u.exact');
  }
  return weights;
}

function levelProbabilities(
  defaults: Record<AgreementLevel, number>,
  overrides: Partial<Record<AgreementLevel, number>>,
  path: string,
): Record<AgreementLevel, number> {
  expectObject(overrides, path);
  rejectUnknownKeys(overrides, AGREEMENT_LEVELS, path, `is not a level (${AGREEMENT_LEVELS.join(', ')})`);
  const merged = { ...defaults, ...overrides };
  for (const level of AGREEMENT_LEVELS) {
    if (!isProbability(merged[level])) {
      throw new MatchModelError(`${path}.${level}`, 'must be a probability between 0 and 1 (exclusive)');
    }
  }
  // Levels are exhaustive and exclusive, so an override of one level has to move another with it.
  const sum = AGREEMENT_LEVELS.reduce((total, level) => total + merged[level], 0);
  if (Math.abs(sum - 1) > PROBABILITY_SUM_TOLERANCE) {
    throw new MatchModelError(path, `levels must sum to 1, got ${Number(sum.toFixed(6))}`);
  }
  return merged;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isProbability(value: unknown): value is number {
  return isFiniteNumber(value) && value > 0 && value < 1;
}

function expectObject(value: unknown, path: string): asserts value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MatchModelError(path, 'must be an object');
  }
}

function rejectUnknownKeys(value: object, known: readonly string[], path: string, detail: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new MatchModelError(`${path}.${key}`, detail);
  }
}

// Models are shared and versioned: a caller editing one in place would change scores under the same version.
function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) deepFreeze(child);
  }
  return Object.freeze(value);
}
