import type { DestinationHttpClient, RemoteProfile } from '@tessera/destination-kit';
import { KLAVIYO_ENDPOINTS, KLAVIYO_LIMITS } from '../klaviyo-endpoints';

/** A Klaviyo profile resource as `GET /api/profiles` returns it (the fields this destination reads). */
export interface KlaviyoProfileResource {
  type: 'profile';
  id: string;
  attributes: {
    email?: string | null;
    phone_number?: string | null;
    external_id?: string | null;
    first_name?: string | null;
    last_name?: string | null;
    properties?: Record<string, unknown>;
    updated?: string;
    subscriptions?: {
      email?: {
        marketing?: {
          consent?: string;
          consent_timestamp?: string;
          suppression?: { reason?: string; timestamp?: string }[];
        };
      };
      sms?: { marketing?: { consent?: string; consent_timestamp?: string } };
    };
  };
}

interface ProfilesPage {
  data: KlaviyoProfileResource[];
  links?: { next?: string | null };
}

export interface ProfileQueryOptions {
  /** Also read the subscriptions (`additional-fields[profile]=subscriptions`). */
  subscriptions?: boolean;
  /** Only these attributes (a sparse fieldset, `fields[profile]=…`): a lookup of ids needs few. */
  fields?: readonly string[];
}

/** Quotes a value for a Klaviyo filter expression (double quotes, backslash escapes). */
export function filterValue(value: string): string {
  return JSON.stringify(value);
}

/** `any(field,["a","b"])`, or `equals(field,"a")` for one value. */
export function anyOf(field: string, values: readonly string[]): string {
  if (values.length === 1) return `equals(${field},${filterValue(values[0] ?? '')})`;
  return `any(${field},[${values.map(filterValue).join(',')}])`;
}

/**
 * Reads every page of `GET /api/profiles` for `filter`. Klaviyo's `links.next` is an absolute URL on its own
 * host; only its `page[cursor]` is taken, so that the request stays on the configured base URL (the sandbox).
 */
export async function queryProfiles(
  http: DestinationHttpClient,
  filter: string,
  options: ProfileQueryOptions = {},
): Promise<KlaviyoProfileResource[]> {
  const profiles: KlaviyoProfileResource[] = [];
  let cursor: string | undefined;
  do {
    const page = await http.get<ProfilesPage>(KLAVIYO_ENDPOINTS.profiles.path, {
      query: {
        filter,
        'page[size]': KLAVIYO_LIMITS.profilesPageSize,
        'page[cursor]': cursor,
        'additional-fields[profile]': options.subscriptions === true ? 'subscriptions' : undefined,
        'fields[profile]': options.fields?.join(','),
      },
    });
    profiles.push(...(page.body?.data ?? []));
    cursor = nextCursor(page.body?.links?.next);
  } while (cursor !== undefined);
  return profiles;
}

/** The `page[cursor]` of a JSON:API `links.next` (Klaviyo's absolute URL), or undefined at the last page. */
export function nextCursor(next: string | null | undefined): string | undefined {
  if (typeof next !== 'string' || next === '') return undefined;
  const cursor = new URL(next, 'https://a.klaviyo.com').searchParams.get('page[cursor]');
  return cursor === null || cursor === '' ? undefined : cursor;
}

/** Looks up Klaviyo profiles by Tessera customer id (Klaviyo's `external_id`), 100 ids per request. */
export async function profilesByCustomerId(
  http: DestinationHttpClient,
  customerIds: readonly string[],
  options: { subscriptions?: boolean } = {},
): Promise<Map<string, KlaviyoProfileResource>> {
  const found = new Map<string, KlaviyoProfileResource>();
  for (const profile of await profilesBy(http, 'external_id', customerIds, options)) {
    const customerId = profile.attributes.external_id;
    if (typeof customerId === 'string') found.set(customerId, profile);
  }
  return found;
}

/**
 * Every profile whose `field` is one of `values`: `any(field,[…])` with as many values as one page holds
 * (`page[size]` is at most 100 and an identifier matches one profile), so 100 values cost one request.
 */
export async function profilesBy(
  http: DestinationHttpClient,
  field: 'email' | 'external_id',
  values: readonly string[],
  options: ProfileQueryOptions = {},
): Promise<KlaviyoProfileResource[]> {
  const unique = [...new Set(values)];
  const profiles: KlaviyoProfileResource[] = [];
  for (let start = 0; start < unique.length; start += KLAVIYO_LIMITS.profilesPageSize) {
    const chunk = unique.slice(start, start + KLAVIYO_LIMITS.profilesPageSize);
    profiles.push(...(await queryProfiles(http, anyOf(field, chunk), options)));
  }
  return profiles;
}

const CONSENT: Record<string, 'subscribed' | 'unsubscribed' | 'never_subscribed'> = {
  SUBSCRIBED: 'subscribed',
  UNSUBSCRIBED: 'unsubscribed',
  NEVER_SUBSCRIBED: 'never_subscribed',
};

/** Klaviyo's profile resource in the kit's neutral shape (for reconciliation). */
export function toRemoteProfile(resource: KlaviyoProfileResource): RemoteProfile {
  const { attributes } = resource;
  const remote: RemoteProfile = { externalId: resource.id, attributes: { ...(attributes.properties ?? {}) } };
  if (typeof attributes.external_id === 'string') remote.customerId = attributes.external_id;
  if (typeof attributes.email === 'string') remote.email = attributes.email;
  if (typeof attributes.phone_number === 'string') remote.phone = attributes.phone_number;
  if (typeof attributes.first_name === 'string') remote.attributes['first_name'] = attributes.first_name;
  if (typeof attributes.last_name === 'string') remote.attributes['last_name'] = attributes.last_name;
  if (typeof attributes.updated === 'string') remote.updatedAt = attributes.updated;
  const email = attributes.subscriptions?.email?.marketing;
  const sms = attributes.subscriptions?.sms?.marketing;
  const subscriptions: RemoteProfile['subscriptions'] = {};
  const emailConsent = email?.consent === undefined ? undefined : CONSENT[email.consent];
  const smsConsent = sms?.consent === undefined ? undefined : CONSENT[sms.consent];
  if (emailConsent !== undefined) subscriptions.email = emailConsent;
  if (smsConsent !== undefined) subscriptions.sms = smsConsent;
  if (Object.keys(subscriptions).length > 0) remote.subscriptions = subscriptions;
  if (attributes.subscriptions !== undefined) remote.suppressed = (email?.suppression ?? []).length > 0;
  return remote;
}
