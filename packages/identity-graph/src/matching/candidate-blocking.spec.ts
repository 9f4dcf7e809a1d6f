import { blockingKeys, candidatePairs } from './candidate-blocking';
import type { MatchProfile } from './match-profile';

const profile = (customerId: string, fields: Partial<MatchProfile> = {}): MatchProfile => ({
  customerId,
  emails: [],
  phones: [],
  ...fields,
});

describe('blockingKeys', () => {
  it('keys on the normalized postcode and the sound of the surname, and of the first name for swaps', () => {
    expect(
      blockingKeys(profile('c1', { firstName: 'John', lastName: 'Smith', postcode: 'ls6 2ab' })),
    ).toEqual(['pc:LS62AB|ln:SM0', 'pc:LS62AB|ln:JN']);
    expect(blockingKeys(profile('c2', { lastName: 'Smyth', postcode: 'LS6 2AB' }))).toEqual([
      'pc:LS62AB|ln:SM0',
    ]);
  });

  it('has no key without a postcode or a last name', () => {
    expect(blockingKeys(profile('c1', { firstName: 'John', lastName: 'Smith' }))).toEqual([]);
    expect(blockingKeys(profile('c1', { firstName: 'John', lastName: 'Smith', postcode: '  ' }))).toEqual([]);
    expect(blockingKeys(profile('c1', { firstName: 'John', postcode: 'LS6 2AB' }))).toEqual([]);
    expect(blockingKeys(profile('c1', { firstName: 'John', lastName: "'", postcode: 'LS6 2AB' }))).toEqual(
      [],
    );
  });

  it('does not repeat a key when both names sound alike', () => {
    expect(
      blockingKeys(profile('c1', { firstName: 'Thomas', lastName: 'Thomas', postcode: 'SY23 1DL' })),
    ).toEqual(['pc:SY231DL|ln:TMS']);
  });
});

describe('candidatePairs', () => {
  const johnSmith = profile('c1', { firstName: 'John', lastName: 'Smith', postcode: 'LS6 2AB' });
  const johnSmyth = profile('c2', { firstName: 'John', lastName: 'Smyth', postcode: 'ls62ab' });
  const smithElsewhere = profile('c3', { firstName: 'John', lastName: 'Smith', postcode: 'LS7 1AA' });
  const karenJones = profile('c4', { firstName: 'Karen', lastName: 'Jones', postcode: 'LS6 2AB' });
  const noPostcode = profile('c5', { firstName: 'John', lastName: 'Smith' });
  const lindaSmith = profile('c6', { firstName: 'Linda', lastName: 'Smith', postcode: 'LS6 2AB' });
  const swapped = profile('c7', { firstName: 'Jones', lastName: 'Karen', postcode: 'LS6 2AB' });
  const profiles = [johnSmith, johnSmyth, smithElsewhere, karenJones, noPostcode, lindaSmith, swapped];

  const ids = (pairs: Array<[MatchProfile, MatchProfile]>) =>
    pairs.map(([a, b]) => `${a.customerId}-${b.customerId}`);

  it('pairs profiles only within a block, each unordered pair once, in input order', () => {
    // c1/c2 share two keys (Smith/Smyth and John) and still appear once.
    expect(ids(candidatePairs(profiles))).toEqual(['c1-c2', 'c1-c6', 'c2-c6', 'c4-c7']);
  });

  it('is deterministic and follows the input order', () => {
    expect(ids(candidatePairs(profiles))).toEqual(ids(candidatePairs(profiles)));
    expect(ids(candidatePairs([...profiles].reverse()))).toEqual(['c7-c4', 'c6-c2', 'c6-c1', 'c2-c1']);
  });

  it('never pairs a profile with itself, even when it is listed twice', () => {
    expect(ids(candidatePairs([johnSmith, johnSmith, { ...johnSmith }]))).toEqual([]);
    expect(candidatePairs([])).toEqual([]);
  });

  it('only returns pairs that share a blocking key', () => {
    for (const [a, b] of candidatePairs(profiles)) {
      expect(blockingKeys(a).some((key) => blockingKeys(b).includes(key))).toBe(true);
    }
  });
});
