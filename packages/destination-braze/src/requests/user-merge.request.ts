import {
  type BatchResult,
  type DestinationHttpClient,
  type ItemResult,
  probabilisticMergeReason,
  type ProfileMerge,
} from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS, GUEST_ALIAS_LABEL } from '../braze-endpoints';

/*
 * mergeProfiles. Braze merges cannot be undone, while Tessera's identity graph can reverse a merge; so only
 * merges that are certain go out: deterministic ones (a shared strong identifier) and ones an operator
 * approved, and only once the cooling-off period has passed without the graph reversing them. That gate is the
 * kit's (`mergeCoolingOffMinutes`, shared by every destination that merges); this file builds the requests.
 * - A guest that became a member: POST /users/identify, the guest's alias given the member's external id, with
 *   `merge_behavior: merge` (otherwise Braze orphans the guest's attributes and events).
 * - Two members: POST /users/merge, the merged external id into the kept one.
 */

export interface UsersIdentifyBody {
  aliases_to_identify: { external_id: string; user_alias: { alias_name: string; alias_label: string } }[];
  merge_behavior: 'merge';
}

export interface UsersMergeBody {
  merge_updates: {
    identifier_to_merge: { external_id: string };
    identifier_to_keep: { external_id: string };
  }[];
}

/** Why Braze never receives a probabilistic merge (the kit's gate refuses it). */
export const PROBABILISTIC_MERGE_REASON = probabilisticMergeReason('Braze');

export function buildUsersIdentifyBody(merges: ProfileMerge[]): UsersIdentifyBody {
  return {
    aliases_to_identify: merges.map((merge) => ({
      external_id: merge.customerId,
      user_alias: { alias_name: merge.mergedCustomerId, alias_label: GUEST_ALIAS_LABEL },
    })),
    merge_behavior: 'merge',
  };
}

export function buildUsersMergeBody(merges: ProfileMerge[]): UsersMergeBody {
  return {
    merge_updates: merges.map((merge) => ({
      identifier_to_merge: { external_id: merge.mergedCustomerId },
      identifier_to_keep: { external_id: merge.customerId },
    })),
  };
}

/**
 * Sends merges that are due: the kit's runner has already held back those still cooling off and refused the
 * probabilistic ones (see the kit's merge-cooling-off), so every item here goes out.
 */
export async function mergeUsers(http: DestinationHttpClient, merges: ProfileMerge[]): Promise<BatchResult> {
  const results: ItemResult[] = merges.map(() => ({ status: 'ok' }));
  const identify = merges.filter((item) => item.mergedWasGuest);
  const merge = merges.filter((item) => !item.mergedWasGuest);
  // A failed request throws: the runner settles the whole batch, so nothing is reported sent that was not.
  if (identify.length > 0)
    await http.post(BRAZE_ENDPOINTS.usersIdentify.path, buildUsersIdentifyBody(identify));
  if (merge.length > 0) await http.post(BRAZE_ENDPOINTS.usersMerge.path, buildUsersMergeBody(merge));
  return results;
}
