import { type ComparedField, DEFAULT_MATCH_MODEL, matchModel } from './match-model';
import type { MatchProfile } from './match-profile';
import { scorePair, type TermFrequencies, termFrequenciesFrom } from './pair-scoring';

const profile = (fields: Partial<MatchProfile> = {}): MatchProfile => ({
  customerId: 'c',
  emails: [],
  phones: [],
  ...fields,
});

const levelOf = (field: ComparedField, a: Partial<MatchProfile>, b: Partial<MatchProfile>) =>
  scorePair(profile(a), profile(b)).comparisons.find((comparison) => comparison.field === field)?.level;

const weightOf = (field: ComparedField, level: 'exact' | 'close' | 'different') => {
  const { m, u } = DEFAULT_MATCH_MODEL.comparisons[field];
  return Math.log2(m[level] / u[level]);
};

describe('scorePair comparison levels', () => {
  it.each([
    ['exact', 'Jonathan', 'Jonathan'],
    ['exact', 'Zoë', 'zoe'],
    ['close', 'Jonathan', 'Jonathon'],
    ['close', 'Michael', 'Micheal'],
    ['different', 'Robert', 'Bob'],
    ['different', 'Ellie', 'Evie'],
    ['missing', 'Jonathan', undefined],
    ['missing', '', 'Jonathan'],
  ])('first name: %s for %j / %j', (level, a, b) => {
    expect(levelOf('firstName', { firstName: a }, { firstName: b })).toBe(level);
  });

  it.each([
    ['exact', "O'Neill", 'ONeill'],
    ['exact', 'Smith-Jones', 'Smith Jones'],
    ['close', 'Smith', 'Smyth'],
    ['close', 'McDonald', 'Macdonald'],
    ['different', 'Hall', 'Turner'],
    ['missing', undefined, 'Hall'],
  ])('last name: %s for %j / %j', (level, a, b) => {
    expect(levelOf('lastName', { lastName: a }, { lastName: b })).toBe(level);
  });

  it('counts first and last names entered the wrong way round as close on both', () => {
    const comparisons = scorePair(
      profile({ firstName: 'Wei', lastName: 'Chen' }),
      profile({ firstName: 'Chen', lastName: 'Wei' }),
    ).comparisons;
    expect(comparisons.slice(0, 2).map(({ field, level }) => [field, level])).toEqual([
      ['firstName', 'close'],
      ['lastName', 'close'],
    ]);
  });

  it.each([
    ['exact', 'LS6 2AB', 'ls62ab'],
    ['close', 'B10 0AA', 'B10 9QR'],
    ['different', 'LS6 2AB', 'LS7 2AB'],
    ['different', '75001', '75002'],
    ['missing', 'LS6 2AB', undefined],
    ['missing', ' ', 'LS6 2AB'],
  ])('postcode: %s for %j / %j', (level, a, b) => {
    expect(levelOf('postcode', { postcode: a }, { postcode: b })).toBe(level);
  });

  it.each([
    ['exact', ['a@x.com', 'jane@gmail.com'], ['jane@gmail.com']],
    ['close', ['jane.doe@gmail.com'], ['jane.doe@outlook.com']],
    ['different', ['paul.jones@btinternet.com'], ['sarahjones@btinternet.com']],
    ['missing', [], ['jane@gmail.com']],
  ])('email: %s for %j / %j', (level, a, b) => {
    expect(levelOf('email', { emails: a }, { emails: b })).toBe(level);
  });

  it.each([
    ['exact', ['+447700900101'], ['+441134960000', '+447700900101']],
    ['close', ['+441134960123'], ['+441134960123']],
    ['close', ['+447700900123'], ['+447700900128']],
    ['close', ['+447700900123'], ['+447700900132']],
    ['different', ['+447700900123'], ['+447700900321']],
    ['different', ['+447700900123'], ['+4477009001234']],
    ['missing', ['+447700900123'], []],
  ])('phone: %s for %j / %j', (level, a, b) => {
    expect(levelOf('phone', { phones: a }, { phones: b })).toBe(level);
  });

  it.each([
    ['exact', '1987-04-11', '1987-04-11'],
    ['close', '1987-04-11', '1987-11-04'],
    ['close', '1968-02-19', '1969-02-19'],
    ['different', '1987-04-11', '1987-11-05'],
    ['different', '1958-11-23', '1986-03-05'],
    ['missing', '1987-04-11', undefined],
    ['missing', '11/04/1987', '1987-04-11'],
  ])('date of birth: %s for %j / %j', (level, a, b) => {
    expect(levelOf('dateOfBirth', { dateOfBirth: a }, { dateOfBirth: b })).toBe(level);
  });
});

describe('scorePair weights', () => {
  const full: Partial<MatchProfile> = {
    firstName: 'Laura',
    lastName: 'Bennett',
    postcode: 'BS7 8QR',
    emails: ['laura.bennett@gmail.com'],
    phones: ['+447700900107'],
    dateOfBirth: '1987-04-11',
  };

  it('weights each level log2(m / u) and sums the fields', () => {
    const score = scorePair(profile(full), profile(full));
    const fields: ComparedField[] = ['firstName', 'lastName', 'postcode', 'email', 'phone', 'dateOfBirth'];
    expect(score.comparisons.map(({ field, level }) => [field, level])).toEqual(
      fields.map((field) => [field, 'exact']),
    );
    for (const comparison of score.comparisons) {
      expect(comparison.weight).toBeCloseTo(weightOf(comparison.field, 'exact'), 10);
    }
    expect(score.score).toBeCloseTo(
      fields.reduce((total, field) => total + weightOf(field, 'exact'), 0),
      10,
    );
    expect(score).toMatchObject({ decision: 'match', modelVersion: 'fs-2026-11-1' });
  });

  it('documents the default weights in bits', () => {
    expect(weightOf('firstName', 'exact')).toBeCloseTo(6.41, 2);
    expect(weightOf('lastName', 'exact')).toBeCloseTo(8.16, 2);
    expect(weightOf('postcode', 'exact')).toBeCloseTo(12.05, 2);
    expect(weightOf('dateOfBirth', 'different')).toBeCloseTo(-4.06, 2);
  });

  it('gives close and different levels their own weights: agreement adds, disagreement subtracts', () => {
    const typo = scorePair(
      profile({ firstName: 'Jonathan', dateOfBirth: '1987-04-11' }),
      profile({ firstName: 'Jonathon', dateOfBirth: '1987-11-04' }),
    );
    expect(typo.comparisons[0].weight).toBeCloseTo(weightOf('firstName', 'close'), 10);
    expect(typo.comparisons[5].weight).toBeCloseTo(weightOf('dateOfBirth', 'close'), 10);
    const apart = scorePair(profile({ postcode: 'LS6 2AB' }), profile({ postcode: 'CF10 5BT' }));
    expect(apart.comparisons[2].weight).toBeCloseTo(weightOf('postcode', 'different'), 10);
    expect(weightOf('postcode', 'different')).toBeLessThan(0);
  });

  it('counts a missing field as 0, so one sparse record neither helps nor hurts', () => {
    const sparse = scorePair(profile(full), profile({ firstName: 'Laura', lastName: 'Bennett' }));
    expect(sparse.comparisons.filter((comparison) => comparison.level === 'missing')).toEqual([
      { field: 'postcode', level: 'missing', weight: 0 },
      { field: 'email', level: 'missing', weight: 0 },
      { field: 'phone', level: 'missing', weight: 0 },
      { field: 'dateOfBirth', level: 'missing', weight: 0 },
    ]);
    expect(sparse.score).toBeCloseTo(weightOf('firstName', 'exact') + weightOf('lastName', 'exact'), 10);
    expect(scorePair(profile(), profile()).score).toBe(0);
  });

  it('decides by the thresholds: at the upper one a match, below the lower one apart', () => {
    const a = profile({ firstName: 'Laura', lastName: 'Bennett' });
    const score = scorePair(a, a).score;
    const decide = (upperThreshold: number, lowerThreshold: number) =>
      scorePair(a, a, matchModel({ upperThreshold, lowerThreshold })).decision;
    expect(decide(score, score - 1)).toBe('match');
    expect(decide(score + 1, score)).toBe('review');
    expect(decide(score + 2, score + 1)).toBe('non-match');
  });
});

describe('term-frequency adjustment', () => {
  const frequencies: TermFrequencies = {
    frequency: (field, value) =>
      field === 'lastName'
        ? ({ smith: 0.011, featherstonehaugh: 0.000001 } as Record<string, number>)[value]
        : undefined,
  };
  const lastNameWeight = (a: string, b: string, model = DEFAULT_MATCH_MODEL, table = frequencies) =>
    scorePair(profile({ lastName: a }), profile({ lastName: b }), model, table).comparisons[1].weight;
  const { m, u } = DEFAULT_MATCH_MODEL.comparisons.lastName;

  it('makes agreeing on a common surname count less than agreeing on a rare one', () => {
    const smith = lastNameWeight('Smith', 'SMITH');
    const rare = lastNameWeight('Featherstonehaugh', 'Featherstonehaugh');
    expect(smith).toBeCloseTo(Math.log2(m.exact / 0.011), 10);
    expect(rare).toBeCloseTo(Math.log2(m.exact / DEFAULT_MATCH_MODEL.termFrequency.minU), 10);
    expect(smith).toBeLessThan(rare);
    const withoutFrequencies = scorePair(profile({ lastName: 'Smith' }), profile({ lastName: 'Smith' }));
    expect(smith).toBeLessThan(withoutFrequencies.comparisons[1].weight);
  });

  it('keeps the model u for unknown names, non-exact levels and when disabled', () => {
    expect(lastNameWeight('Bennett', 'Bennett')).toBeCloseTo(Math.log2(m.exact / u.exact), 10);
    expect(lastNameWeight('Smith', 'Smyth')).toBeCloseTo(Math.log2(m.close / u.close), 10);
    const disabled = matchModel({ termFrequency: { enabled: false } });
    expect(lastNameWeight('Smith', 'Smith', disabled)).toBeCloseTo(Math.log2(m.exact / u.exact), 10);
  });

  it('measures shares among the profiles that have the field', () => {
    const table = termFrequenciesFrom([
      profile({ firstName: 'John', lastName: 'Smith' }),
      profile({ firstName: 'Jöhn', lastName: 'Smyth' }),
      profile({ lastName: 'SMITH' }),
      profile({ firstName: 'Karen', lastName: 'Jones' }),
    ]);
    expect(table.frequency('lastName', 'smith')).toBe(0.5);
    expect(table.frequency('lastName', 'jones')).toBe(0.25);
    expect(table.frequency('firstName', 'john')).toBeCloseTo(2 / 3, 10);
    expect(table.frequency('firstName', 'smith')).toBeUndefined();
    expect(termFrequenciesFrom([]).frequency('lastName', 'smith')).toBeUndefined();
  });
});
