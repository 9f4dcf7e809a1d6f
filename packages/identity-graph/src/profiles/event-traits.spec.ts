import { traitsFromEvent } from './event-traits';
import { applyTraits, emptyTraits } from './profile-traits';

describe('traitsFromEvent', () => {
  describe('profile.updated', () => {
    it('takes the profile attributes and leaves the identifiers out', () => {
      const traits = traitsFromEvent('profile.updated', {
        customer_id: 'C1',
        email: 'ana@example.com',
        member_id: 'SD1',
        brand: 'sports-direct',
        first_name: 'Ana',
        last_name: 'Silva',
        address: { line1: '1 High St', postcode: 'SW1A 1AA', country: 'GB' },
        preferred_channel: 'sms',
        locale: 'pt-PT',
        source_ids: { 'sports-direct': 'SD1', flannels: 'FL1' },
      });
      expect(traits).toEqual({
        first_name: 'Ana',
        last_name: 'Silva',
        address: { line1: '1 High St', postcode: 'SW1A 1AA', country: 'GB' },
        preferred_channel: 'sms',
        locale: 'pt-PT',
        source_ids: { 'sports-direct': 'SD1', flannels: 'FL1' },
      });
    });

    it('includes only the attributes the event carries', () => {
      const traits = traitsFromEvent('profile.updated', { email: 'ana@example.com', locale: 'en-GB' });
      expect(Object.keys(traits)).toEqual(['locale']);
      expect(traits).toEqual({ locale: 'en-GB' });
    });
  });

  it('points.updated: the new balance (not the delta) becomes points_balance', () => {
    expect(traitsFromEvent('points.updated', { customer_id: 'C1', delta: -50, new_balance: 1200 })).toEqual({
      points_balance: 1200,
    });
  });

  it('tier.changed: the new tier becomes loyalty_tier', () => {
    expect(
      traitsFromEvent('tier.changed', { customer_id: 'C1', tier: 'gold', previous_tier: 'silver' }),
    ).toEqual({
      loyalty_tier: 'gold',
    });
  });

  describe('transaction.created', () => {
    it('a purchase adds to the lifetime value and sets the purchase date (the day of occurred_at)', () => {
      expect(
        traitsFromEvent('transaction.created', {
          transaction_id: 'T1',
          amount: 49.99,
          currency: 'GBP',
          occurred_at: '2025-03-04T18:22:10Z',
        }),
      ).toEqual({ total_lifetime_value: 49.99, last_purchase_date: '2025-03-04' });
    });

    it('a return (negative amount) lowers the lifetime value and is not a purchase', () => {
      const traits = traitsFromEvent('transaction.created', {
        transaction_id: 'T2',
        amount: -20,
        currency: 'GBP',
        occurred_at: '2025-03-05T09:00:00Z',
      });
      expect(traits).toEqual({ total_lifetime_value: -20 });
      expect('last_purchase_date' in traits).toBe(false);
    });

    it('a zero amount is not a purchase', () => {
      const traits = traitsFromEvent('transaction.created', {
        transaction_id: 'T3',
        amount: 0,
        currency: 'GBP',
        occurred_at: '2025-03-05T09:00:00Z',
      });
      expect(traits).toEqual({ total_lifetime_value: 0 });
      expect('last_purchase_date' in traits).toBe(false);
    });

    it('a purchase without occurred_at has no purchase date', () => {
      const traits = traitsFromEvent('transaction.created', {
        transaction_id: 'T4',
        amount: 10,
        currency: 'GBP',
      });
      expect(traits).toEqual({ total_lifetime_value: 10 });
      expect('last_purchase_date' in traits).toBe(false);
    });

    it('reads an amount given as a numeric string as a number', () => {
      expect(
        traitsFromEvent('transaction.created', { transaction_id: 'T5', amount: '12.50', currency: 'GBP' }),
      ).toEqual({ total_lifetime_value: 12.5 });
    });

    it('a purchase followed by a return nets the lifetime value and keeps the purchase date', () => {
      const purchase = traitsFromEvent('transaction.created', {
        amount: 80,
        occurred_at: '2025-03-01T12:00:00Z',
      });
      const giveBack = traitsFromEvent('transaction.created', {
        amount: -30.1,
        occurred_at: '2025-03-09T12:00:00Z',
      });
      const state = applyTraits(
        applyTraits(emptyTraits(), purchase, new Date('2025-03-01T12:00:00Z')),
        giveBack,
        new Date('2025-03-09T12:00:00Z'),
      );
      expect(state.values).toEqual({ total_lifetime_value: 49.9, last_purchase_date: '2025-03-01' });
    });
  });

  it.each(['coupon.issued', 'consent.changed', 'membership.merged', 'points.captured', 'account.linked', ''])(
    '%p says nothing about the profile',
    (type) => {
      expect(
        traitsFromEvent(type, {
          customer_id: 'C1',
          first_name: 'Ana',
          tier: 'gold',
          new_balance: 5,
          amount: 10,
        }),
      ).toEqual({});
    },
  );
});
