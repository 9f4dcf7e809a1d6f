import type { TransformRules } from './rule-compiler';

/**
 * A realistic brand rule set (10 mappings, 3 conditions, 2 segment rules): the example of the docs, the
 * tests' fixture and the rule set `npm run bench:transform` measures.
 */
export const EXAMPLE_BRAND_RULES: TransformRules = {
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
