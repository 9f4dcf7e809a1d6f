import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { RuleSetError } from '@tessera/transform';
import { RuleBook } from '../src';

const VIP = {
  conditions: ['has(profile.email)'],
  mappings: { loyalty_tier: 'profile.?loyalty_tier.orValue("Member")' },
  segments: [{ segment: 'VIP', when: 'profile.?loyalty_tier.orValue("") in ["Gold", "Platinum"]' }],
};

// Medium tier: the real PostgreSQL on loopback and PGlite.
describe.each(STORE_DRIVERS)('RuleBook on %s', (driver) => {
  let store: Store;
  let book: RuleBook;
  let clock: Date;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    clock = new Date('2026-11-23T10:00:00Z');
    book = new RuleBook(store, () => clock);
  });

  afterEach(() => store.close());

  it('saves checked rules as numbered versions and serves the latest', async () => {
    const first = await book.save('sd-klaviyo', { brand: 'sd', rules: VIP, savedBy: 'marketer@sd.example' });
    expect(first.saved).toEqual({
      destinationId: 'sd-klaviyo',
      version: 1,
      brand: 'sd',
      rules: VIP,
      savedAt: clock,
      savedBy: 'marketer@sd.example',
    });
    clock = new Date('2026-11-23T11:00:00Z');
    const narrower = {
      ...VIP,
      segments: [{ segment: 'VIP', when: 'profile.?loyalty_tier.orValue("") == "Platinum"' }],
    };
    await book.save('sd-klaviyo', { brand: 'sd', rules: narrower, savedBy: 'lead@sd.example' });
    await book.save('sd-braze', { brand: 'sd', rules: VIP, savedBy: 'marketer@sd.example' });
    expect((await book.current('sd-klaviyo'))?.rules).toEqual(narrower);
    expect((await book.history('sd-klaviyo')).map((saved) => [saved.version, saved.savedBy])).toEqual([
      [2, 'lead@sd.example'],
      [1, 'marketer@sd.example'],
    ]);
    expect(await book.current('sd-mailchimp')).toBeUndefined();
  });

  it('refuses rules that do not compile, with every problem, and writes nothing', async () => {
    await book.save('sd-klaviyo', { brand: 'sd', rules: VIP, savedBy: 'marketer@sd.example' });
    const error = await book
      .save('sd-klaviyo', {
        brand: 'sd',
        rules: { conditions: ['profile.loyalty_teir == "Gold"'], mappings: { tier: '"Gold" +' } },
        savedBy: 'marketer@sd.example',
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RuleSetError);
    expect((error as RuleSetError).errors.map((problem) => problem.path)).toEqual([
      'conditions[0]',
      'mappings.tier',
    ]);
    expect((await book.history('sd-klaviyo')).map((saved) => saved.version)).toEqual([1]);
  });

  it('gives concurrent saves distinct versions', async () => {
    await Promise.all(
      ['a', 'b', 'c'].map((who) => book.save('sd-klaviyo', { brand: 'sd', rules: VIP, savedBy: who })),
    );
    expect((await book.history('sd-klaviyo')).map((saved) => saved.version)).toEqual([3, 2, 1]);
  });
});
