import { ChangeOnlyWrites } from './change-only-writes';

const hash = (attribute: string, value: unknown) => `${attribute}=${JSON.stringify(value)}`;
const known = new Map([
  [
    'C1',
    {
      externalId: 'esp-1',
      attributes: { tier: hash('tier', 'gold'), $email: hash('$email', 'a@example.com') },
      memberships: { VIP: true },
      subscriptions: {},
    },
  ],
]);
const update = (email: string, tier: string) => ({
  customerId: 'C1',
  version: 2,
  email,
  attributes: { tier },
});

describe('ChangeOnlyWrites', () => {
  it('keeps the email where the ESP keys profiles by it, and leaves an unchanged one out where it keys by customer id', () => {
    const byEmail = new ChangeOnlyWrites(known, hash).planProfile(update('a@example.com', 'silver'), false);
    const byCustomer = new ChangeOnlyWrites(known, hash, true).planProfile(
      update('a@example.com', 'silver'),
      false,
    );
    expect(byEmail.send).toEqual({ ...update('a@example.com', 'silver'), externalId: 'esp-1' });
    expect(byCustomer.send).toEqual({
      customerId: 'C1',
      version: 2,
      externalId: 'esp-1',
      attributes: { tier: 'silver' },
    });
  });

  it('sends a changed email even where profiles are keyed by customer id, and nothing when nothing changed', () => {
    const writes = new ChangeOnlyWrites(known, hash, true);
    expect(writes.planProfile(update('b@example.com', 'gold'), false).send).toEqual({
      customerId: 'C1',
      version: 2,
      externalId: 'esp-1',
      email: 'b@example.com',
      attributes: {},
    });
    expect(writes.planProfile(update('a@example.com', 'gold'), false).send).toBeUndefined();
    expect(writes.planProfile(update('a@example.com', 'gold'), true).send).toEqual({
      ...update('a@example.com', 'gold'),
      externalId: 'esp-1',
    });
  });

  it('needs a membership change only when it differs from what the ESP holds, or when forced', () => {
    const writes = new ChangeOnlyWrites(known, hash);
    expect(writes.needsMembership({ customerId: 'C1', segment: 'VIP' }, true, false)).toBe(false);
    expect(writes.needsMembership({ customerId: 'C1', segment: 'VIP' }, false, false)).toBe(true);
    expect(writes.needsMembership({ customerId: 'C1', segment: 'Other' }, false, false)).toBe(true);
    expect(writes.needsMembership({ customerId: 'C1', segment: 'VIP' }, true, true)).toBe(true);
  });
});
