import type {
  BatchResult,
  DestinationHttpClient,
  ItemResult,
  ProfileUpsert,
  SegmentMembership,
} from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS, GUEST_ALIAS_LABEL, SEGMENTS_ATTRIBUTE } from '../braze-endpoints';

/*
 * POST /users/track: profile attributes and segment membership. Pure builders plus one `track` call; the
 * destination batches at most 75 items, one attribute object per item, so Braze's `errors[].index` points
 * straight back at the item.
 */

/** A Braze user alias: the guest's Tessera customer id under the `tessera_customer_id` label. */
export interface BrazeUserAlias {
  alias_name: string;
  alias_label: string;
}

/**
 * One object of the `attributes` array: an identifier plus standard and custom attributes. Members are keyed
 * by `external_id`; guests by a user alias, with `_update_existing_only: false` so that Braze creates the
 * alias-only user on first sight.
 */
export type BrazeAttributes = (
  { external_id: string } | { user_alias: BrazeUserAlias; _update_existing_only: false }
) &
  Record<string, unknown>;

export interface UsersTrackBody {
  attributes: BrazeAttributes[];
}

/** A non-fatal error of a 2xx answer: the object at `index` of `input_array` was not processed. */
export interface UsersTrackError {
  type: string;
  input_array: string;
  index: number;
}

export interface UsersTrackResponse {
  message?: string;
  attributes_processed?: number;
  errors?: UsersTrackError[];
}

/** Identifiers Braze reads from the object itself: a profile's custom attributes may not override them. */
const RESERVED = new Set([
  'external_id',
  'user_alias',
  'braze_id',
  'email',
  'phone',
  '_update_existing_only',
]);

/** The identifier of a profile: its external id (the Tessera customer id), or its alias while a guest. */
export function brazeIdentifier(
  item: Pick<ProfileUpsert, 'customerId' | 'guest'>,
): { external_id: string } | { user_alias: BrazeUserAlias; _update_existing_only: false } {
  return item.guest === true
    ? {
        user_alias: { alias_name: item.customerId, alias_label: GUEST_ALIAS_LABEL },
        _update_existing_only: false,
      }
    : { external_id: item.customerId };
}

/**
 * The attribute object of one profile, keyed by `brazeIdentifier`; undefined when it has nothing to write.
 * Braze bills every attribute it is sent (email and phone included; the external id and alias are free), and
 * the pipeline hands over only attributes that changed: a profile with no attribute, email or phone would
 * only create an empty user, so it sends nothing.
 */
export function upsertAttributeObject(item: ProfileUpsert): BrazeAttributes | undefined {
  const custom = Object.fromEntries(
    Object.entries(item.attributes).filter(([key, value]) => !RESERVED.has(key) && value !== undefined),
  );
  const contact = {
    ...(item.email === undefined ? {} : { email: item.email }),
    ...(item.phone === undefined ? {} : { phone: item.phone }),
  };
  if (Object.keys(custom).length === 0 && Object.keys(contact).length === 0) return undefined;
  return { ...custom, ...brazeIdentifier(item), ...contact };
}

/** One attribute object per profile that has something to write. */
export function buildUpsertAttributes(items: ProfileUpsert[]): UsersTrackBody {
  return {
    attributes: items
      .map(upsertAttributeObject)
      .filter((object): object is BrazeAttributes => object !== undefined),
  };
}

/** upsertProfiles / updateAttributes: one /users/track for the profiles with something to write (none: no request). */
export async function upsertProfiles(
  http: DestinationHttpClient,
  items: ProfileUpsert[],
): Promise<BatchResult> {
  const objects = items.map(upsertAttributeObject);
  const sent = objects.flatMap((object, index) => (object === undefined ? [] : [index]));
  const results: ItemResult[] = items.map(() => ({ status: 'ok' }));
  if (sent.length === 0) return results;
  const tracked = await track(http, { attributes: sent.map((index) => objects[index] as BrazeAttributes) });
  sent.forEach((index, position) => {
    results[index] = tracked[position] ?? { status: 'ok' };
  });
  return results;
}

/**
 * Segment membership as an array operation on the `tessera_segments` custom attribute: Braze segments are
 * filters over attributes, so a Braze segment "in Tessera segment X" filters on `tessera_segments` includes X.
 */
export function buildSegmentAttributes(
  items: SegmentMembership[],
  operation: 'add' | 'remove',
): UsersTrackBody {
  return {
    attributes: items.map((item) => ({
      external_id: item.customerId,
      [SEGMENTS_ATTRIBUTE]: { [operation]: [item.segment] },
    })),
  };
}

/** One result per item: rejected when Braze listed its attribute object in `errors`, ok otherwise. */
export function usersTrackResults(count: number, response: UsersTrackResponse | undefined): BatchResult {
  const failures = new Map<number, string>();
  for (const error of response?.errors ?? []) {
    if (error.input_array === 'attributes' && !failures.has(error.index))
      failures.set(error.index, error.type);
  }
  return Array.from({ length: count }, (_, index): ItemResult => {
    const failure = failures.get(index);
    return failure === undefined ? { status: 'ok' } : { status: 'rejected', reason: `Braze: ${failure}` };
  });
}

export async function track(http: DestinationHttpClient, body: UsersTrackBody): Promise<BatchResult> {
  const response = await http.post<UsersTrackResponse>(BRAZE_ENDPOINTS.usersTrack.path, body);
  return usersTrackResults(body.attributes.length, response.body);
}
