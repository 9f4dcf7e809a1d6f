import type { CatalogEvent, EventDataMap, EventType } from '@tessera/events';
import type { TransformInput, UnifiedProfile } from '../transform-contract';
import type { TransformRules } from './rule-compiler';

/** Test and benchmark fixtures: a realistic brand rule set and inputs. */
export const BRAND_RULES: TransformRules = {
  conditions: [
    'has(profile.email)',
    'profile.?marketing_consent.email.orValue("withdrawn") == "granted"',
    'event.type in ["points.updated", "tier.changed", "profile.updated"]',
  ],
  mappings: {
    first_name: 'profile.?first_name.orValue("")',
    last_name: 'profile.?last_name.orValue("")',
    loyalty_tier: 'profile.?loyalty_tier.orValue("Member")',
    points_balance: 'profile.?points_balance.orValue(0)',
    points_to_next_tier:
      'profile.?points_balance.orValue(0) >= 5000 ? 0 : 5000 - profile.?points_balance.orValue(0)',
    lifetime_value: 'profile.?total_lifetime_value.orValue(0.0)',
    city: 'profile.?address.city.orValue(brand.defaultCountry)',
    brand_name: 'brand.name',
    last_event: 'event.type',
    synced_at: 'now',
  },
  segments: [
    { segment: 'VIP', when: 'profile.?loyalty_tier.orValue("") in ["Silver", "Gold", "Platinum"]' },
    {
      segment: 'Win-back',
      when: 'has(profile.points_updated_at) && daysSince(profile.points_updated_at) >= 90',
    },
  ],
};

export const PROFILE: UnifiedProfile = {
  customer_id: 'cus_123',
  version: 42,
  email: 'ana@example.com',
  phone: '+33612345678',
  first_name: 'Ana',
  last_name: 'Lopez',
  address: { city: 'Lyon', country: 'FR' },
  loyalty_tier: 'Gold',
  points_balance: 3200,
  points_updated_at: '2024-05-20T10:00:00Z',
  total_lifetime_value: 1280.5,
  marketing_consent: { email: 'granted' },
};

export const NOW = '2024-06-01T00:00:00Z';

export function event<T extends EventType>(type: T, data: EventDataMap[T], id = 'evt_1'): CatalogEvent {
  return { specversion: '1.0', id, source: 'loyalty-platform', type, time: NOW, data } as CatalogEvent;
}

export function inputFor(eventValue: CatalogEvent, profile: UnifiedProfile = PROFILE): TransformInput {
  return {
    event: eventValue,
    profile,
    brand: { id: 'maison', name: 'Maison', defaultCountry: 'FR' },
    destination: { id: 'sd-klaviyo', type: 'klaviyo' },
    now: NOW,
  };
}
