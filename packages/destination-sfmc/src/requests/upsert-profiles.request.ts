import type { BatchResult, ItemResult, ProfileUpsert, RateWindow } from '@tessera/destination-kit';

/*
 * upsertProfiles: one POST creates or updates a batch of profiles. Pure functions only — no HTTP here — so
 * the mapping is tested without a server. TODO(sfmc): replace the endpoint, the body shape, the
 * batch size and the rate limits with what Sfmc documents.
 */

export const UPSERT_PROFILES_PATH = '/profiles/batch';

/** Most profiles Sfmc accepts in one request. */
export const UPSERT_PROFILES_MAX_BATCH = 100;

/** Sfmc's published limit for the endpoint: 10 requests per second. */
export const UPSERT_PROFILES_RATE_LIMITS: RateWindow[] = [{ requests: 10, perMs: 1000 }];

/** One profile as Sfmc's batch endpoint takes it. */
export interface SfmcProfile {
  /** Our customer id: Sfmc keys profiles by it. */
  external_id: string;
  email?: string;
  phone?: string;
  properties: Record<string, unknown>;
}

export interface UpsertProfilesBody {
  profiles: SfmcProfile[];
}

/** Sfmc answers with one result per profile, in request order. */
export interface UpsertProfilesResponse {
  results: { external_id: string; id?: string; error?: string }[];
}

/** The request body for a batch of profile upserts. */
export function buildUpsertProfilesBody(items: ProfileUpsert[]): UpsertProfilesBody {
  return {
    profiles: items.map((item) => ({
      external_id: item.customerId,
      ...(item.email === undefined ? {} : { email: item.email }),
      ...(item.phone === undefined ? {} : { phone: item.phone }),
      properties: item.attributes,
    })),
  };
}

/** One result per item, in order: `ok` with Sfmc's profile id, or `rejected` with its reason. */
export function upsertProfilesResults(
  items: ProfileUpsert[],
  response: UpsertProfilesResponse | undefined,
): BatchResult {
  const results = response?.results ?? [];
  return items.map((item, index): ItemResult => {
    const result = results[index];
    if (result === undefined || result.external_id !== item.customerId) {
      return {
        status: 'rejected',
        reason: `Sfmc returned no result for customer ${item.customerId}`,
      };
    }
    if (result.error !== undefined) return { status: 'rejected', reason: result.error };
    return result.id === undefined ? { status: 'ok' } : { status: 'ok', externalId: result.id };
  });
}
