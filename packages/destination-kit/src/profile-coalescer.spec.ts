import fc from 'fast-check';
import type { ProfileUpsert } from './destination-definition';
import { coalesceProfileUpdates } from './profile-coalescer';

describe('coalesceProfileUpdates', () => {
  it('keeps the latest version and merges attributes newest over oldest', () => {
    const { profiles, outputIndex } = coalesceProfileUpdates([
      { customerId: 'c1', version: 2, email: 'new@x.io', attributes: { tier: 'gold', points: 20 } },
      { customerId: 'c2', version: 1, attributes: { tier: 'silver' } },
      {
        customerId: 'c1',
        version: 1,
        email: 'old@x.io',
        phone: '+100',
        attributes: { tier: 'bronze', city: 'Oslo' },
      },
    ]);
    expect(profiles).toEqual([
      {
        customerId: 'c1',
        version: 2,
        email: 'new@x.io',
        phone: '+100',
        attributes: { tier: 'gold', points: 20, city: 'Oslo' },
      },
      { customerId: 'c2', version: 1, attributes: { tier: 'silver' } },
    ]);
    expect(outputIndex).toEqual([0, 1, 0]);
  });

  it('breaks version ties by input order (the later wins)', () => {
    const { profiles } = coalesceProfileUpdates([
      { customerId: 'c1', version: 3, attributes: { tier: 'first' } },
      { customerId: 'c1', version: 3, attributes: { tier: 'second' } },
    ]);
    expect(profiles[0].attributes).toEqual({ tier: 'second' });
  });

  it('keeps the guest flag and the ESP id of the newest update that carries them', () => {
    const { profiles } = coalesceProfileUpdates([
      { customerId: 'G1', version: 1, guest: true, attributes: { viewed: 'boots' } },
      { customerId: 'G1', version: 2, externalId: 'esp-9', attributes: {} },
      { customerId: 'G1', version: 3, guest: false, attributes: { tier: 'silver' } },
    ]);
    expect(profiles).toEqual([
      {
        customerId: 'G1',
        version: 3,
        guest: false,
        externalId: 'esp-9',
        attributes: { viewed: 'boots', tier: 'silver' },
      },
    ]);
    expect(
      coalesceProfileUpdates([{ customerId: 'G2', version: 1, guest: true, attributes: {} }]).profiles[0]
        ?.guest,
    ).toBe(true);
  });

  it('does not mutate its input', () => {
    const input: ProfileUpsert[] = [
      { customerId: 'c1', version: 1, attributes: { a: 1 } },
      { customerId: 'c1', version: 2, attributes: { b: 2 } },
    ];
    const copy = structuredClone(input);
    coalesceProfileUpdates(input);
    expect(input).toEqual(copy);
  });

  const update = fc.record({
    customerId: fc.constantFrom('a', 'b', 'c', 'd'),
    version: fc.integer({ min: 0, max: 5 }),
    attributes: fc.dictionary(fc.constantFrom('x', 'y', 'z'), fc.integer()),
  });

  it('outputs one entry per distinct customer with the max version, and fans back every input', () => {
    fc.assert(
      fc.property(fc.array(update, { maxLength: 30 }), (updates) => {
        const { profiles, outputIndex } = coalesceProfileUpdates(updates);
        const customers = new Set(updates.map((u) => u.customerId));
        expect(profiles).toHaveLength(customers.size);
        expect(new Set(profiles.map((p) => p.customerId))).toEqual(customers);
        expect(outputIndex).toHaveLength(updates.length);
        updates.forEach((u, i) => {
          const target = profiles[outputIndex[i]];
          expect(target.customerId).toBe(u.customerId);
          expect(target.version).toBe(
            Math.max(...updates.filter((o) => o.customerId === u.customerId).map((o) => o.version)),
          );
          for (const key of Object.keys(u.attributes)) expect(target.attributes).toHaveProperty(key);
        });
      }),
    );
  });

  it('gives every attribute the value of the newest update that set it', () => {
    fc.assert(
      fc.property(fc.array(update, { maxLength: 30 }), (updates) => {
        const { profiles, outputIndex } = coalesceProfileUpdates(updates);
        profiles.forEach((profile, slot) => {
          const mine = updates.map((u, i) => ({ u, i })).filter(({ i }) => outputIndex[i] === slot);
          for (const [key, value] of Object.entries(profile.attributes)) {
            const setters = mine.filter(({ u }) => key in u.attributes);
            const newest = setters.reduce((best, cur) => (cur.u.version >= best.u.version ? cur : best));
            expect(value).toBe(newest.u.attributes[key]);
          }
        });
      }),
    );
  });
});
