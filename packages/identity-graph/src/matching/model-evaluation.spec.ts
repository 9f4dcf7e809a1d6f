import { LABELLED_PAIRS } from './labelled-pairs.fixture';
import type { MatchProfile } from './match-profile';
import { evaluateModel, formatEvaluation, type LabelledPair, type ModelEvaluation } from './model-evaluation';

const profile = (customerId: string, fields: Partial<MatchProfile> = {}): MatchProfile => ({
  customerId,
  emails: [],
  phones: [],
  ...fields,
});

describe('evaluateModel', () => {
  const laura = profile('a', {
    firstName: 'Laura',
    lastName: 'Bennett',
    postcode: 'BS7 8QR',
    phones: ['+447700900107'],
    dateOfBirth: '1987-04-11',
  });
  const pair = (label: LabelledPair['label'], b: Partial<MatchProfile>, note: string): LabelledPair => ({
    a: laura,
    b: profile('b', b),
    label,
    note,
  });
  const tiny: LabelledPair[] = [
    pair('match', { ...laura }, 'everything agrees'),
    pair('non-match', { ...laura }, 'mislabelled copy'),
    pair('match', { firstName: 'Laura', lastName: 'Bennett', postcode: 'CF10 5BT' }, 'names only, elsewhere'),
    pair('match', { firstName: 'Laura', lastName: 'Bennett', postcode: 'BS7 8QR' }, 'names and postcode'),
    pair('non-match', { firstName: 'Tariq', lastName: 'Aziz', postcode: 'LS6 2AB' }, 'nothing in common'),
  ];

  it('counts only match decisions as positive predictions, and review separately', () => {
    const evaluation = evaluateModel(tiny);
    expect(evaluation.byPair.map(({ decision }) => decision)).toEqual([
      'match',
      'match',
      'non-match',
      'review',
      'non-match',
    ]);
    expect(evaluation).toMatchObject({
      autoMerged: 2,
      reviewed: 1,
      unmatched: 2,
      truePositives: 1,
      falsePositives: 1,
      falseNegatives: 2,
      precision: 0.5,
      recall: 1 / 3,
      recallWithReview: 2 / 3,
    });
    expect(evaluation.byPair[3]).toEqual({
      note: 'names and postcode',
      label: 'match',
      decision: 'review',
      score: expect.any(Number),
    });
  });

  it('reports 1 for precision and recall when there is nothing to get wrong', () => {
    expect(evaluateModel([])).toMatchObject({ precision: 1, recall: 1, recallWithReview: 1, autoMerged: 0 });
  });
});

describe('formatEvaluation', () => {
  it('writes a summary line and a markdown table of the pairs', () => {
    const evaluation: ModelEvaluation = {
      precision: 1,
      recall: 0.5,
      recallWithReview: 1,
      autoMerged: 1,
      reviewed: 1,
      unmatched: 1,
      truePositives: 1,
      falsePositives: 0,
      falseNegatives: 1,
      byPair: [
        { note: 'same mobile', label: 'match', decision: 'match', score: 40.04 },
        { note: 'Bob | Robert', label: 'match', decision: 'review', score: 27.01 },
        { note: 'twins', label: 'non-match', decision: 'non-match', score: -3.25 },
      ],
    };
    expect(formatEvaluation(evaluation)).toBe(
      [
        'Auto-merge precision 1.00, recall 0.50 (1.00 counting review); 1 auto-merged, 1 to review, 1 left apart.',
        '',
        '| # | Label | Decision | Score | Note |',
        '| ---: | --- | --- | ---: | --- |',
        '| 1 | match | match | 40.0 | same mobile |',
        '| 2 | match | review | 27.0 | Bob \\| Robert |',
        '| 3 | non-match | non-match | -3.3 | twins |',
      ].join('\n'),
    );
  });
});

describe('the labelled fixture', () => {
  it('has at least 40 realistic pairs of both labels, each with a note and distinct customers', () => {
    expect(LABELLED_PAIRS.length).toBeGreaterThanOrEqual(40);
    expect(LABELLED_PAIRS.filter(({ label }) => label === 'match').length).toBeGreaterThanOrEqual(15);
    expect(LABELLED_PAIRS.filter(({ label }) => label === 'non-match').length).toBeGreaterThanOrEqual(15);
    expect(LABELLED_PAIRS.every(({ note }) => note.trim() !== '')).toBe(true);
    const customerIds = LABELLED_PAIRS.flatMap(({ a, b }) => [a.customerId, b.customerId]);
    expect(new Set(customerIds).size).toBe(customerIds.length);
  });

  // Evaluated without term frequencies: the fixture's own name shares say nothing about a member base.
  it('never auto-merges two different people, and sends at least 90% of true matches to merge or review', () => {
    const evaluation = evaluateModel(LABELLED_PAIRS);
    process.stdout.write(`\n${formatEvaluation(evaluation)}\n\n`);
    expect(evaluation.falsePositives).toBe(0);
    expect(evaluation.precision).toBe(1);
    expect(evaluation.recallWithReview).toBeGreaterThanOrEqual(0.9);
    expect(evaluation.autoMerged).toBeGreaterThan(0);
  });
});
