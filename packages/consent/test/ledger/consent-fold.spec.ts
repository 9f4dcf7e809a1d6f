import fc from 'fast-check';
import type { ConsentEntry } from '../../src/consent-contract';
import {
  foldConsent,
  REGRANT_REPLAYED_PROOF,
  REGRANT_WITHOUT_PROOF,
  replayConsent,
  type FoldableEntry,
} from '../../src/ledger';
import { emailKey, entry, minutes } from './ledger-fixture';

const ANA = emailKey('ana@example.com');

describe('foldConsent', () => {
  it('is undefined without entries', () => {
    expect(foldConsent([])).toBeUndefined();
  });

  it('lets a later entry override an earlier one, in whatever order they are listed', () => {
    const grant = { ...entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'g' }), id: 1 };
    const withdraw = { ...entry({ key: ANA, decision: 'withdrawn', at: 5, dedupeKey: 'w' }), id: 2 };
    const expected = {
      subject: { type: 'email', key: ANA },
      scope: { brand: 'sd', channel: 'email', purpose: 'marketing' },
      decision: 'withdrawn',
      legalBasis: 'consent',
      capturedAt: minutes(5),
      ledgerId: 2,
    };
    expect(foldConsent([grant, withdraw])).toEqual(expected);
    expect(foldConsent([withdraw, grant])).toEqual(expected);
  });

  it('lets a withdrawal beat a grant captured at the same time', () => {
    const grant = entry({ key: ANA, decision: 'granted', at: 3, dedupeKey: 'z-grant', proofRef: 'p1' });
    const withdraw = entry({ key: ANA, decision: 'withdrawn', at: 3, dedupeKey: 'a-withdraw' });
    expect(foldConsent([grant, withdraw])?.decision).toBe('withdrawn');
    expect(foldConsent([withdraw, grant])?.decision).toBe('withdrawn');
  });

  it('refuses a re-grant without proof, and one replaying an earlier grant’s proof', () => {
    const history = [
      entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'g1', proofRef: 'doi-1' }),
      entry({ key: ANA, decision: 'withdrawn', at: 2, dedupeKey: 'w1' }),
      entry({ key: ANA, decision: 'granted', at: 3, dedupeKey: 'g2' }),
      entry({ key: ANA, decision: 'granted', at: 4, dedupeKey: 'g3', proofRef: 'doi-1' }),
    ];
    const replay = replayConsent(history);
    expect(replay.state?.decision).toBe('withdrawn');
    expect(replay.refused.map(({ entry: refused, reason }) => [refused.dedupeKey, reason])).toEqual([
      ['g2', REGRANT_WITHOUT_PROOF],
      ['g3', REGRANT_REPLAYED_PROOF],
    ]);
    const fresh = entry({ key: ANA, decision: 'granted', at: 5, dedupeKey: 'g4', proofRef: 'doi-2' });
    expect(replayConsent([...history, fresh])).toMatchObject({
      state: { decision: 'granted', capturedAt: minutes(5) },
    });
  });

  it('does not ask a grant that follows a grant for new proof', () => {
    const state = foldConsent([
      entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'g1' }),
      entry({ key: ANA, decision: 'granted', at: 2, dedupeKey: 'g2', legalBasis: 'soft_opt_in' }),
    ]);
    expect(state).toMatchObject({ decision: 'granted', legalBasis: 'soft_opt_in' });
  });

  it('refuses to fold entries of different scopes together', () => {
    expect(() =>
      foldConsent([
        entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'a' }),
        entry({ key: ANA, decision: 'granted', at: 1, dedupeKey: 'b', brand: 'other' }),
      ]),
    ).toThrow(/more than one contact point and scope/);
  });

  // (a) Same state for any permutation: few distinct times, so many entries share one.
  it('gives the same state for any order of the entries (property)', () => {
    const spec = fc.record({
      decision: fc.constantFrom<'granted' | 'withdrawn'>('granted', 'withdrawn'),
      at: fc.integer({ min: 0, max: 3 }),
      proofRef: fc.option(fc.constantFrom('p1', 'p2', 'p3'), { nil: undefined }),
      legalBasis: fc.constantFrom<'consent' | 'soft_opt_in'>('consent', 'soft_opt_in'),
    });
    const histories = fc.array(spec, { minLength: 1, maxLength: 12 }).map((specs) =>
      specs.map((value, index): FoldableEntry => ({
        ...entry({ key: ANA, dedupeKey: `d${index}`, ...value }),
        id: index + 1,
      })),
    );
    const permuted = histories.chain((history) =>
      fc.tuple(fc.constant(history), fc.shuffledSubarray(history, { minLength: history.length })),
    );
    const refusedKeys = (refused: { entry: ConsentEntry }[]) =>
      refused.map((item) => item.entry.dedupeKey).sort();
    fc.assert(
      fc.property(permuted, ([history, shuffled]) => {
        const expected = replayConsent(history);
        const actual = replayConsent(shuffled);
        expect(actual.state).toEqual(expected.state);
        expect(refusedKeys(actual.refused)).toEqual(refusedKeys(expected.refused));
      }),
      { numRuns: 500 },
    );
  });
});
