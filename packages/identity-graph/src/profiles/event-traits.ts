import type { TraitValues } from './profile-traits';

type EventData = Record<string, unknown>;

/** What an event of the catalog says about the member's profile, as trait values. */
export function traitsFromEvent(type: string, data: EventData): TraitValues {
  switch (type) {
    case 'profile.updated':
      return pick(data, ['first_name', 'last_name', 'address', 'preferred_channel', 'locale', 'source_ids']);
    case 'points.updated':
      return { points_balance: data.new_balance };
    case 'tier.changed':
      return { loyalty_tier: data.tier };
    case 'transaction.created': {
      const amount = Number(data.amount);
      const traits: TraitValues = { total_lifetime_value: amount };
      // A return (negative amount) lowers the lifetime value but is not a purchase.
      if (amount > 0 && typeof data.occurred_at === 'string') {
        traits.last_purchase_date = data.occurred_at.slice(0, 10);
      }
      return traits;
    }
    default:
      return {};
  }
}

function pick(data: EventData, names: string[]): TraitValues {
  const traits: Record<string, unknown> = {};
  for (const name of names) if (data[name] !== undefined) traits[name] = data[name];
  return traits as TraitValues;
}
