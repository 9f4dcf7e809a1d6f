import { type MatchProfile, normalizePostcode, phoneticKey } from './match-profile';

/**
 * Keys that put a profile in a block; two profiles are candidates iff they share a key. The block is the
 * postcode plus the sound of the surname, so spelling variants (Smith/Smyth) meet while the number of pairs to
 * score stays near the size of a household. A second key uses the sound of the first name, so a member whose
 * names were entered the wrong way round (Wei Chen / Chen Wei) still meets their other record.
 * No key — [] — without a postcode or a last name: such profiles are too vague to pair with anyone.
 */
export function blockingKeys(profile: MatchProfile): string[] {
  const postcode = normalizePostcode(profile.postcode ?? '');
  const lastNameKey = phoneticKey(profile.lastName ?? '');
  if (postcode === '' || lastNameKey === '') return [];
  const keys = [`pc:${postcode}|ln:${lastNameKey}`];
  const firstNameKey = phoneticKey(profile.firstName ?? '');
  if (firstNameKey !== '' && firstNameKey !== lastNameKey) keys.push(`pc:${postcode}|ln:${firstNameKey}`);
  return keys;
}

/**
 * Every unordered pair of profiles sharing a blocking key, once, ordered by the profiles' positions in the
 * input. Entries with the same customerId are one profile and never paired.
 */
export function candidatePairs(profiles: MatchProfile[]): Array<[MatchProfile, MatchProfile]> {
  const blocks = new Map<string, number[]>();
  profiles.forEach((profile, index) => {
    for (const key of blockingKeys(profile)) {
      const block = blocks.get(key);
      if (block === undefined) blocks.set(key, [index]);
      else block.push(index);
    }
  });

  // A pair can share several keys (both names alike); keying by positions keeps it once.
  const pairIndexes = new Map<string, [number, number]>();
  for (const block of blocks.values()) {
    for (let i = 0; i < block.length; i++) {
      for (let j = i + 1; j < block.length; j++) {
        const first = block[i];
        const second = block[j];
        if (profiles[first].customerId === profiles[second].customerId) continue;
        pairIndexes.set(`${first},${second}`, [first, second]);
      }
    }
  }
  return [...pairIndexes.values()]
    .sort(([a1, a2], [b1, b2]) => a1 - b1 || a2 - b2)
    .map(([first, second]) => [profiles[first], profiles[second]]);
}
