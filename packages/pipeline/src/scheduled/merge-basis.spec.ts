import { mergeBasisOf } from './merge-basis';

describe('mergeBasisOf', () => {
  it.each([
    [['event'], 'deterministic'],
    [['link'], 'deterministic'],
    [['bulk'], 'deterministic'],
    [['manual'], 'human'],
    [['review'], 'human'],
    [['probabilistic'], 'probabilistic'],
  ] as const)('%j → %s', (kinds, basis) => {
    expect(mergeBasisOf(kinds)).toBe(basis);
  });

  it('takes the strongest evidence when several edges made the join', () => {
    expect(mergeBasisOf(['probabilistic', 'review'])).toBe('human');
    expect(mergeBasisOf(['probabilistic', 'review', 'event'])).toBe('deterministic');
  });

  it('calls a re-key (no edge crossed) deterministic', () => {
    expect(mergeBasisOf([])).toBe('deterministic');
  });

  it('never calls an unknown edge kind certain', () => {
    expect(mergeBasisOf(['telepathy'])).toBe('probabilistic');
    expect(mergeBasisOf(['', 'EVENT'])).toBe('probabilistic');
  });
});
