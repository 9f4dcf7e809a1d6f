import type { BatchResult, DestinationHttpClient, ItemResult, ProfileMerge } from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS, GUEST_ALIAS_LABEL } from '../braze-endpoints';

/*
 * mergeProfiles. Braze merges cannot be undone, while Tessera's identity graph can reverse a merge; so only
 * merges that are certain go out: deterministic ones (a shared strong identifier) and ones an operator
 * approved, and only once the cooling-off period has passed without the graph reversing them.
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

/** Whether a merge may be sent now: `send`, `wait` (cooling off, with the time left), or `refuse` (never). */
export type MergeRelease =
  | { action: 'send' }
  | { action: 'wait'; afterMs: number; until: string }
  | { action: 'refuse'; reason: string };

export const PROBABILISTIC_MERGE_REASON =
  'Braze merges are irreversible: only deterministic or human-approved merges are sent (approve this one in review to send it)';

/** Decides whether `merge` may go to Braze at `nowMs`, given the cooling-off period. */
export function decideMergeRelease(merge: ProfileMerge, coolingOffMs: number, nowMs: number): MergeRelease {
  if (merge.basis === 'probabilistic') return { action: 'refuse', reason: PROBABILISTIC_MERGE_REASON };
  const mergedAtMs = Date.parse(merge.mergedAt);
  if (Number.isNaN(mergedAtMs)) {
    return {
      action: 'refuse',
      reason: `mergedAt is not an ISO-8601 time: ${JSON.stringify(merge.mergedAt)}`,
    };
  }
  const releaseAtMs = mergedAtMs + coolingOffMs;
  if (releaseAtMs > nowMs) {
    return { action: 'wait', afterMs: releaseAtMs - nowMs, until: new Date(releaseAtMs).toISOString() };
  }
  return { action: 'send' };
}

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

/** Sends the merges that are due; the others are retried after their cooling-off or refused with a reason. */
export async function mergeUsers(
  http: DestinationHttpClient,
  merges: ProfileMerge[],
  coolingOffMs: number,
  nowMs: number,
): Promise<BatchResult> {
  const results: ItemResult[] = merges.map(() => ({ status: 'ok' }));
  const identify: number[] = [];
  const merge: number[] = [];
  for (const [index, item] of merges.entries()) {
    if (item.customerId === item.mergedCustomerId) {
      results[index] = { status: 'rejected', reason: `Cannot merge ${item.customerId} into itself` };
      continue;
    }
    const release = decideMergeRelease(item, coolingOffMs, nowMs);
    if (release.action === 'refuse') results[index] = { status: 'rejected', reason: release.reason };
    else if (release.action === 'wait') {
      results[index] = {
        status: 'retry',
        afterMs: release.afterMs,
        reason: `Cooling off until ${release.until} before an irreversible Braze merge`,
      };
    } else (item.mergedWasGuest ? identify : merge).push(index);
  }
  const pick = (indexes: number[]) => indexes.map((index) => merges[index] as ProfileMerge);
  // A failed request throws: the runner settles the whole batch, so nothing is reported sent that was not.
  if (identify.length > 0)
    await http.post(BRAZE_ENDPOINTS.usersIdentify.path, buildUsersIdentifyBody(pick(identify)));
  if (merge.length > 0) await http.post(BRAZE_ENDPOINTS.usersMerge.path, buildUsersMergeBody(pick(merge)));
  return results;
}
