import type { CatalogEvent, EventDataMap, EventType } from '@tessera/events';
import type { TransformInput, UnifiedProfile } from '../transform-contract';
import { EXAMPLE_BRAND_RULES } from './example-rules';
import type { TransformRules } from './rule-compiler';

/** Test fixtures: the example brand rule set and inputs. */
export const BRAND_RULES: TransformRules = EXAMPLE_BRAND_RULES;

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
