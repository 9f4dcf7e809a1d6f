import type {
  BatchResult,
  DestinationHttpClient,
  ItemResult,
  ProfileUpsert,
  SegmentMembership,
} from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS, SEGMENTS_ATTRIBUTE } from '../braze-endpoints';

/*
 * POST /users/track: profile attributes and segment membership. Pure builders plus one `track` call; the
 * destination batches at most 75 items, one attribute object per item, so Braze's `errors[].index` points
 * straight back at the item.
 */

/** One object of the `attributes` array: an identifier plus standard and custom attributes. */
export type BrazeAttributes = { external_id: string } & Record<string, unknown>;

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

/** One attribute object per profile: `external_id` is the Tessera customer id. */
export function buildUpsertAttributes(items: ProfileUpsert[]): UsersTrackBody {
  return {
    attributes: items.map((item) => {
      const custom = Object.fromEntries(
        Object.entries(item.attributes).filter(([key]) => !RESERVED.has(key)),
      );
      return {
        ...custom,
        external_id: item.customerId,
        ...(item.email === undefined ? {} : { email: item.email }),
        ...(item.phone === undefined ? {} : { phone: item.phone }),
      };
    }),
  };
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
