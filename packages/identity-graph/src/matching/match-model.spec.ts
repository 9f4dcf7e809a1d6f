import { DEFAULT_MATCH_MODEL, MatchModelError, type MatchModelOverrides, matchModel } from './match-model';

const errorOf = (overrides: unknown): MatchModelError => {
  try {
    matchModel(overrides as MatchModelOverrides);
  } catch (error) {
    if (error instanceof MatchModelError) return error;
    throw error;
  }
  throw new Error('expected a MatchModelError');
};

describe('DEFAULT_MATCH_MODEL', () => {
  it('is a valid model whose level probabilities sum to 1', () => {
    expect(matchModel()).toEqual(DEFAULT_MATCH_MODEL);
    for (const { m, u } of Object.values(DEFAULT_MATCH_MODEL.comparisons)) {
      expect(m.exact + m.close + m.different).toBeCloseTo(1, 9);
      expect(u.exact + u.close + u.different).toBeCloseTo(1, 9);
    }
  });

  it('cannot be changed in place', () => {
    expect(Object.isFrozen(DEFAULT_MATCH_MODEL.comparisons.email.m)).toBe(true);
    expect(() => {
      (DEFAULT_MATCH_MODEL as { upperThreshold: number }).upperThreshold = 0;
    }).toThrow(TypeError);
  });
});

describe('matchModel', () => {
  it('merges overrides key by key into the defaults', () => {
    const model = matchModel({
      version: 'fs-test-1',
      upperThreshold: 40,
      comparisons: { postcode: { u: { exact: 0.001, close: 0.01, different: 0.989 } } },
      termFrequency: { minU: 0.001 },
    });
    expect(model.version).toBe('fs-test-1');
    expect(model.upperThreshold).toBe(40);
    expect(model.lowerThreshold).toBe(DEFAULT_MATCH_MODEL.lowerThreshold);
    expect(model.comparisons.postcode).toEqual({
      m: DEFAULT_MATCH_MODEL.comparisons.postcode.m,
      u: { exact: 0.001, close: 0.01, different: 0.989 },
    });
    expect(model.comparisons.email).toEqual(DEFAULT_MATCH_MODEL.comparisons.email);
    expect(model.termFrequency).toEqual({ enabled: true, minU: 0.001 });
    expect(DEFAULT_MATCH_MODEL.upperThreshold).not.toBe(40);
  });

  it.each<[string, unknown, string, string]>([
    [
      'thresholds in the wrong order',
      { upperThreshold: 10, lowerThreshold: 10 },
      'matching.upperThreshold',
      'matching.upperThreshold: must be greater than lowerThreshold',
    ],
    [
      'a threshold that is not a number',
      { lowerThreshold: Number.NaN },
      'matching.lowerThreshold',
      'matching.lowerThreshold: must be a finite number',
    ],
    [
      'a probability of 1',
      {
        comparisons: { email: { m: { exact: 1, close: 0, different: 0 } } },
      },
      'matching.comparisons.email.m.exact',
      'matching.comparisons.email.m.exact: must be a probability between 0 and 1 (exclusive)',
    ],
    [
      'levels that do not sum to 1',
      { comparisons: { firstName: { m: { exact: 0.9 } } } },
      'matching.comparisons.firstName.m',
      'matching.comparisons.firstName.m: levels must sum to 1, got 1.05',
    ],
    [
      'm and u swapped',
      {
        comparisons: {
          postcode: {
            m: { exact: 0.0002, close: 0.01, different: 0.9898 },
            u: { exact: 0.85, close: 0.07, different: 0.08 },
          },
        },
      },
      'matching.comparisons.postcode',
      'matching.comparisons.postcode: m.exact must be greater than u.exact',
    ],
    [
      'an unknown field',
      { comparisons: { middleName: {} } },
      'matching.comparisons.middleName',
      'matching.comparisons.middleName: is not a compared field',
    ],
    [
      'an unknown level',
      { comparisons: { phone: { u: { partial: 0.1 } } } },
      'matching.comparisons.phone.u.partial',
      'matching.comparisons.phone.u.partial: is not a level (exact, close, different)',
    ],
    [
      'a misspelt setting',
      { upperTreshold: 30 },
      'matching.upperTreshold',
      'matching.upperTreshold: is not a model setting',
    ],
    [
      'an empty version',
      { version: ' ' },
      'matching.version',
      'matching.version: must be a non-empty string',
    ],
    [
      'a close threshold above 1',
      { closeThreshold: 1.2 },
      'matching.closeThreshold',
      'matching.closeThreshold: must be a number greater than 0 and at most 1',
    ],
    [
      'a term-frequency floor of 0',
      { termFrequency: { minU: 0 } },
      'matching.termFrequency.minU',
      'matching.termFrequency.minU: must be a probability between 0 and 1 (exclusive)',
    ],
    [
      'a term-frequency switch that is not a boolean',
      { termFrequency: { enabled: 'yes' } },
      'matching.termFrequency.enabled',
      'matching.termFrequency.enabled: must be true or false',
    ],
    [
      'comparisons that are not an object',
      { comparisons: [] },
      'matching.comparisons',
      'matching.comparisons: must be an object',
    ],
  ])('rejects %s, naming the path', (_case, overrides, path, message) => {
    const error = errorOf(overrides);
    expect(error.message).toBe(message);
    expect(error.path).toBe(path);
  });
});
