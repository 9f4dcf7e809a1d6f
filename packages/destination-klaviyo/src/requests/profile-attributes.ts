import type { ProfileUpsert } from '@tessera/destination-kit';
import type { KlaviyoSettings } from '../klaviyo-settings';

/** The attributes of a Klaviyo profile resource, as profile-import and bulk import jobs take them. */
export interface KlaviyoProfileAttributes {
  email?: string;
  phone_number?: string;
  external_id: string;
  first_name?: string;
  last_name?: string;
  locale?: string;
  location?: Record<string, string>;
  properties?: Record<string, unknown>;
}

/** Tessera attributes that land on Klaviyo's standard fields rather than in `properties`. */
const STANDARD_ATTRIBUTES = new Set(['first_name', 'last_name', 'locale', 'address', 'email', 'phone']);

/** Tessera's postal address fields → Klaviyo's location fields. */
const LOCATION_FIELDS: Record<string, string> = {
  line1: 'address1',
  line2: 'address2',
  city: 'city',
  region: 'region',
  postcode: 'zip',
  country: 'country',
};

/**
 * Maps a Tessera profile onto Klaviyo's profile attributes: the customer id is Klaviyo's `external_id`, names
 * and address go to the standard fields, everything else to custom `properties` under the brand's mapping.
 */
export function klaviyoProfileAttributes(
  item: ProfileUpsert,
  settings: KlaviyoSettings,
): KlaviyoProfileAttributes {
  const attributes: KlaviyoProfileAttributes = { external_id: item.customerId };
  if (item.email !== undefined) attributes.email = item.email;
  if (item.phone !== undefined) attributes.phone_number = item.phone;
  const values = item.attributes;
  for (const field of ['first_name', 'last_name', 'locale'] as const) {
    const value = values[field];
    if (typeof value === 'string' && value !== '') attributes[field] = value;
  }
  const address = values['address'];
  if (typeof address === 'object' && address !== null) {
    const location: Record<string, string> = {};
    for (const [from, to] of Object.entries(LOCATION_FIELDS)) {
      const value = (address as Record<string, unknown>)[from];
      if (typeof value === 'string' && value !== '') location[to] = value;
    }
    if (Object.keys(location).length > 0) attributes.location = location;
  }
  const properties: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    if (STANDARD_ATTRIBUTES.has(name) || value === undefined) continue;
    properties[settings.propertyMapping[name] ?? name] = value;
  }
  if (Object.keys(properties).length > 0) attributes.properties = properties;
  return attributes;
}
