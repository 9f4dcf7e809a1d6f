import fc from 'fast-check';
import { eventCatalog } from '@tessera/events';
import {
  applyTraits,
  emptyTraits,
  mergeTraits,
  partitionTraits,
  PROFILE_TRAITS,
  type TraitState,
  type TraitValues,
} from './profile-traits';

const at = (iso: string) => new Date(iso);
const JAN = at('2025-01-01T10:00:00.000Z');
const FEB = at('2025-02-01T10:00:00.000Z');
const MAR = at('2025-03-01T10:00:00.000Z');

type Update = { values: TraitValues; time: Date };
const applyAll = (updates: Update[], state: TraitState = emptyTraits()) =>
  updates.reduce((current, update) => applyTraits(current, update.values, update.time), state);

describe('PROFILE_TRAITS', () => {
  it('declares the policy of every field', () => {
    const policies = Object.fromEntries(
      Object.entries(PROFILE_TRAITS).map(([name, trait]) => [name, trait.policy]),
    );
    expect(policies).toEqual({
      first_name: 'latest',
      last_name: 'latest',
      address: 'latest',
      date_of_birth: 'latest',
      loyalty_tier: 'latest',
      points_balance: 'latest',
      preferred_channel: 'latest',
      locale: 'latest',
      last_purchase_date: 'max',
      total_lifetime_value: 'sum',
      source_ids: 'by-brand',
    });
  });
});

describe('applyTraits', () => {
  describe("'latest'", () => {
    it('keeps the newer value when an older event arrives later', () => {
      const newerFirst = applyAll([
        { values: { loyalty_tier: 'gold', points_balance: 900 }, time: FEB },
        { values: { loyalty_tier: 'silver', points_balance: 100 }, time: JAN },
      ]);
      expect(newerFirst).toEqual({
        values: { loyalty_tier: 'gold', points_balance: 900 },
        times: { loyalty_tier: FEB.toISOString(), points_balance: FEB.toISOString() },
      });
    });

    it('gives the same state whichever order the two events arrive in', () => {
      const older = { values: { loyalty_tier: 'silver', locale: 'en-GB' }, time: JAN };
      const newer = { values: { loyalty_tier: 'gold' }, time: FEB };

      const inOrder = applyAll([older, newer]);

      expect(inOrder).toEqual(applyAll([newer, older]));
      // Each field follows its own time: the older event still supplies the field the newer one lacks.
      expect(inOrder.values).toEqual({ loyalty_tier: 'gold', locale: 'en-GB' });
      expect(inOrder.times).toEqual({ loyalty_tier: FEB.toISOString(), locale: JAN.toISOString() });
    });

    it('replaces a value with a newer one', () => {
      const state = applyAll([
        { values: { first_name: 'Ana' }, time: JAN },
        { values: { first_name: 'Anna' }, time: MAR },
      ]);
      expect(state.values.first_name).toBe('Anna');
      expect(state.times.first_name).toBe(MAR.toISOString());
    });
  });

  describe("'max'", () => {
    it('keeps the latest purchase date whichever order the dates arrive in', () => {
      const recent = { values: { last_purchase_date: '2025-03-04' }, time: JAN };
      const old = { values: { last_purchase_date: '2024-11-30' }, time: MAR };

      const state = applyAll([recent, old]);

      expect(state.values.last_purchase_date).toBe('2025-03-04');
      // The time is the newest event that spoke about the field.
      expect(state.times.last_purchase_date).toBe(MAR.toISOString());
      expect(applyAll([old, recent])).toEqual(state);
    });
  });

  describe("'sum'", () => {
    it('adds amounts, returns (negative amounts) included', () => {
      const state = applyAll([
        { values: { total_lifetime_value: 120 }, time: JAN },
        { values: { total_lifetime_value: -45.5 }, time: FEB },
        { values: { total_lifetime_value: 10.25 }, time: MAR },
      ]);
      expect(state.values.total_lifetime_value).toBe(84.75);
      expect(state.times.total_lifetime_value).toBe(MAR.toISOString());
    });

    it('lets returns take the total below zero', () => {
      const state = applyAll([{ values: { total_lifetime_value: -19.99 }, time: JAN }]);
      expect(state.values.total_lifetime_value).toBe(-19.99);
    });

    it('rounds to the cent: 0.1 + 0.2 is 0.3', () => {
      const state = applyAll([
        { values: { total_lifetime_value: 0.1 }, time: JAN },
        { values: { total_lifetime_value: 0.2 }, time: FEB },
      ]);
      expect(state.values.total_lifetime_value).toBe(0.3);
    });

    it('does not drift over many small amounts', () => {
      const updates = Array.from({ length: 1000 }, (_, n) => ({
        values: { total_lifetime_value: 0.1 },
        time: new Date(JAN.getTime() + n * 60_000),
      }));
      expect(applyAll(updates).values.total_lifetime_value).toBe(100);
    });
  });

  describe("'by-brand'", () => {
    it('keeps the newest id per brand, with a time per entry', () => {
      const state = applyAll([
        { values: { source_ids: { 'sports-direct': 'SD-NEW' } }, time: FEB },
        { values: { source_ids: { 'sports-direct': 'SD-OLD', flannels: 'FL-1' } }, time: JAN },
        { values: { source_ids: { evans: 'EV-9' } }, time: MAR },
      ]);
      expect(state).toEqual({
        values: { source_ids: { 'sports-direct': 'SD-NEW', flannels: 'FL-1', evans: 'EV-9' } },
        times: {
          'source_ids.sports-direct': FEB.toISOString(),
          'source_ids.flannels': JAN.toISOString(),
          'source_ids.evans': MAR.toISOString(),
        },
      });
    });

    it('ignores an empty map, whatever the order of arrival (a case the property test found)', () => {
      const older = { values: { loyalty_tier: 'platinum', source_ids: {} }, time: JAN };
      const newer = { values: { loyalty_tier: 'gold' }, time: FEB };
      const expected = { values: { loyalty_tier: 'gold' }, times: { loyalty_tier: FEB.toISOString() } };
      expect(applyAll([older, newer])).toEqual(expected);
      expect(applyAll([newer, older])).toEqual(expected);
    });
  });

  it('skips undefined values and names that are not profile traits', () => {
    const state = applyTraits(
      emptyTraits(),
      { locale: undefined, favourite_colour: 'teal', points_balance: 5 } as TraitValues,
      JAN,
    );
    expect(state).toEqual({ values: { points_balance: 5 }, times: { points_balance: JAN.toISOString() } });
  });

  it('returns a new state and leaves the one it was given unchanged', () => {
    const before = applyTraits(emptyTraits(), { loyalty_tier: 'silver', source_ids: { group: 'G1' } }, JAN);
    const snapshot = JSON.parse(JSON.stringify(before)) as TraitState;

    const after = applyTraits(before, { loyalty_tier: 'gold', source_ids: { group: 'G2' } }, FEB);

    expect(before).toEqual(snapshot);
    expect(after.values).toEqual({ loyalty_tier: 'gold', source_ids: { group: 'G2' } });
  });
});

describe('mergeTraits', () => {
  const historyA: Update[] = [
    {
      values: {
        first_name: 'Ana',
        loyalty_tier: 'silver',
        last_purchase_date: '2025-01-20',
        total_lifetime_value: 100.1,
        source_ids: { 'sports-direct': 'SD1' },
      },
      time: JAN,
    },
    { values: { points_balance: 300, total_lifetime_value: -20.05 }, time: MAR },
  ];
  const historyB: Update[] = [
    {
      values: {
        first_name: 'Anna',
        loyalty_tier: 'gold',
        last_purchase_date: '2024-12-24',
        total_lifetime_value: 0.2,
        source_ids: { 'sports-direct': 'SD1-B', flannels: 'FL7' },
        locale: 'en-GB',
      },
      time: FEB,
    },
  ];
  const a = applyAll(historyA);
  const b = applyAll(historyB);

  it('combines field by field: latest wins, the greatest date, amounts add, per-brand newest', () => {
    expect(mergeTraits(a, b).values).toEqual({
      first_name: 'Anna',
      loyalty_tier: 'gold',
      points_balance: 300,
      locale: 'en-GB',
      last_purchase_date: '2025-01-20',
      total_lifetime_value: 80.25,
      source_ids: { 'sports-direct': 'SD1-B', flannels: 'FL7' },
    });
  });

  it('gives the same values whichever profile is the winner', () => {
    expect(mergeTraits(b, a).values).toEqual(mergeTraits(a, b).values);
    expect(mergeTraits(b, a).times).toEqual(mergeTraits(a, b).times);
  });

  it('equals applying both histories to one profile', () => {
    const together = applyAll([...historyA, ...historyB]);
    expect(mergeTraits(a, b)).toEqual(together);
    expect(mergeTraits(b, a)).toEqual(applyAll([...historyB, ...historyA]));
  });

  it('keeps a profile unchanged when merged with an empty one', () => {
    expect(mergeTraits(a, emptyTraits())).toEqual(a);
    expect(mergeTraits(emptyTraits(), a)).toEqual(a);
    expect(mergeTraits(emptyTraits(), emptyTraits())).toEqual(emptyTraits());
  });
});

describe('partitionTraits', () => {
  it('puts names, address and date of birth in pii and everything else in plain', () => {
    const values: TraitValues = {
      first_name: 'Ana',
      last_name: 'Silva',
      address: { line1: '1 High St', postcode: 'SW1A 1AA' },
      date_of_birth: '1990-04-01',
      loyalty_tier: 'gold',
      points_balance: 10,
      preferred_channel: 'email',
      locale: 'en-GB',
      last_purchase_date: '2025-03-01',
      total_lifetime_value: 12.5,
      source_ids: { group: 'G1' },
    };
    expect(partitionTraits(values)).toEqual({
      pii: {
        first_name: 'Ana',
        last_name: 'Silva',
        address: { line1: '1 High St', postcode: 'SW1A 1AA' },
        date_of_birth: '1990-04-01',
      },
      plain: {
        loyalty_tier: 'gold',
        points_balance: 10,
        preferred_channel: 'email',
        locale: 'en-GB',
        last_purchase_date: '2025-03-01',
        total_lifetime_value: 12.5,
        source_ids: { group: 'G1' },
      },
    });
  });

  it('agrees with the pii flag of PROFILE_TRAITS', () => {
    const piiNames = Object.entries(PROFILE_TRAITS)
      .filter(([, trait]) => trait.pii)
      .map(([name]) => name);
    expect(piiNames.sort()).toEqual(['address', 'date_of_birth', 'first_name', 'last_name']);
  });

  it('names the same kind of personal data as the catalog marks on the event fields the traits come from', () => {
    const marked = new Map(
      eventCatalog()
        .entry('profile.updated')
        .personalData.map((field) => [field.pointer, field.kind]),
    );
    for (const name of [
      'first_name',
      'last_name',
      'address',
      'locale',
      'preferred_channel',
      'source_ids',
    ] as const) {
      expect([name, PROFILE_TRAITS[name].pii]).toEqual([name, marked.get(`/data/${name}`) ?? false]);
    }
  });
});

describe('order independence (property)', () => {
  const update = fc.record(
    {
      loyalty_tier: fc.constantFrom('bronze', 'silver', 'gold', 'platinum'),
      points_balance: fc.integer({ min: 0, max: 100_000 }),
      first_name: fc.constantFrom('Ana', 'Anna', 'Bruno'),
      last_purchase_date: fc
        .integer({ min: 0, max: 2000 })
        .map((days) => new Date(Date.UTC(2020, 0, 1) + days * 86_400_000).toISOString().slice(0, 10)),
      // Whole cents, as money arrives.
      total_lifetime_value: fc.integer({ min: -50_000, max: 50_000 }).map((cents) => cents / 100),
      source_ids: fc.dictionary(
        fc.constantFrom('group', 'sports-direct', 'flannels'),
        fc.constantFrom('X1', 'X2', 'X3'),
        {
          maxKeys: 2,
        },
      ),
    },
    { requiredKeys: [] },
  );
  /** Updates with distinct event times (equal times have no defined winner). */
  const histories = fc.array(update, { minLength: 1, maxLength: 12 }).chain((values) =>
    fc
      .uniqueArray(fc.integer({ min: 0, max: 1_000_000 }), {
        minLength: values.length,
        maxLength: values.length,
      })
      .map((minutes) =>
        values.map((value, index) => ({
          values: value,
          time: new Date(JAN.getTime() + minutes[index] * 60_000),
        })),
      ),
  );
  const reordered = histories.chain((list) =>
    fc.tuple(
      fc.constant(list),
      fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }),
    ),
  );

  it("applying the same updates in any order gives the same 'latest', 'max' and 'sum' values", () => {
    fc.assert(
      fc.property(reordered, ([list, shuffled]) => {
        const state = applyAll(list);
        expect(applyAll(shuffled)).toEqual(state);

        const byTime = [...list].sort((x, y) => x.time.getTime() - y.time.getTime());
        const newest = (name: 'loyalty_tier' | 'points_balance' | 'first_name') =>
          byTime.filter((entry) => entry.values[name] !== undefined).at(-1)?.values[name];
        expect(state.values.loyalty_tier).toBe(newest('loyalty_tier'));
        expect(state.values.points_balance).toBe(newest('points_balance'));
        expect(state.values.first_name).toBe(newest('first_name'));
        const dates = list.flatMap((entry) => entry.values.last_purchase_date ?? []).sort();
        expect(state.values.last_purchase_date).toBe(dates.at(-1));
        const amounts = list.flatMap((entry) => entry.values.total_lifetime_value ?? []);
        const cents = amounts.reduce((total, amount) => total + Math.round(amount * 100), 0);
        expect(state.values.total_lifetime_value).toBe(amounts.length === 0 ? undefined : cents / 100);
      }),
      { numRuns: 300 },
    );
  });

  it('merging two profiles equals applying both histories to one, whichever side wins', () => {
    fc.assert(
      fc.property(histories, fc.nat(), (list, cut) => {
        const split = cut % (list.length + 1);
        const [left, right] = [applyAll(list.slice(0, split)), applyAll(list.slice(split))];
        const together = applyAll(list);
        expect(mergeTraits(left, right)).toEqual(together);
        expect(mergeTraits(right, left)).toEqual(together);
      }),
      { numRuns: 300 },
    );
  });
});
