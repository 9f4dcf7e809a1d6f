import type { BatchResult, ItemResult, OperationContext, ProfileMerge } from '@tessera/destination-kit';
import { KLAVIYO_ENDPOINTS } from '../klaviyo-endpoints';
import type { KlaviyoSettings } from '../klaviyo-settings';
import { profilesByCustomerId } from './profile-query.request';

/** Body of `POST /api/profile-merge` (Klaviyo's Merge Profiles, in the pinned revision 2026-07-15). */
export interface ProfileMergeBody {
  data: {
    type: 'profile-merge';
    /** The destination profile: the survivor, which keeps its id. */
    id: string;
    relationships: { profiles: { data: [{ type: 'profile'; id: string }] } };
  };
}

/** One merge: the retired profile (source) into the survivor's (destination). Klaviyo takes one source a call. */
export function buildProfileMergeBody(destinationId: string, sourceId: string): ProfileMergeBody {
  return {
    data: {
      type: 'profile-merge',
      id: destinationId,
      relationships: { profiles: { data: [{ type: 'profile', id: sourceId }] } },
    },
  };
}

/** A survivor Klaviyo does not hold yet is looked for again after this long (its profile write is on its way). */
export const SURVIVOR_MISSING_RETRY_MS = 60_000;

/**
 * mergeProfiles: Klaviyo's profile merge. Both profiles are found by Klaviyo id when a previous write returned
 * one (`externalId`, `mergedExternalId`), else by external_id (= customer id) in one GET /api/profiles for the
 * batch. Klaviyo moves the source profile's data into the destination profile and deletes the source. A retired
 * profile Klaviyo does not hold needs nothing (ok, nothing sent); a survivor it does not hold yet is retried.
 * One POST per merge, in order: a failure throws and the runner settles the batch, so nothing is reported sent
 * that was not.
 */
export async function mergeProfiles(
  merges: ProfileMerge[],
  { http }: Pick<OperationContext<KlaviyoSettings>, 'http'>,
): Promise<BatchResult> {
  const unknown = merges.flatMap((merge) => [
    ...(merge.externalId === undefined ? [merge.customerId] : []),
    ...(merge.mergedExternalId === undefined ? [merge.mergedCustomerId] : []),
  ]);
  const found = unknown.length === 0 ? new Map() : await profilesByCustomerId(http, unknown);
  const results: ItemResult[] = [];
  for (const merge of merges) {
    const sourceId = merge.mergedExternalId ?? found.get(merge.mergedCustomerId)?.id;
    const destinationId = merge.externalId ?? found.get(merge.customerId)?.id;
    if (sourceId === undefined || sourceId === destinationId) {
      results.push({ status: 'ok' });
      continue;
    }
    if (destinationId === undefined) {
      results.push({
        status: 'retry',
        afterMs: SURVIVOR_MISSING_RETRY_MS,
        reason: `Klaviyo holds no profile for ${merge.customerId} yet to merge ${merge.mergedCustomerId} into`,
      });
      continue;
    }
    await http.post(KLAVIYO_ENDPOINTS.profileMerge.path, buildProfileMergeBody(destinationId, sourceId));
    results.push({ status: 'ok', externalId: destinationId });
  }
  return results;
}
