import type { BatchResult, ItemResult, OperationContext, SegmentMembership } from '@tessera/destination-kit';
import { KLAVIYO_ENDPOINTS, KLAVIYO_LIMITS } from '../klaviyo-endpoints';
import type { KlaviyoSettings } from '../klaviyo-settings';
import { profilesByCustomerId } from './profile-query.request';

/** How long to wait before retrying a membership whose profile Klaviyo does not hold yet (its upsert may be in flight). */
export const PROFILE_NOT_YET_SYNCED_RETRY_MS = 60_000;

/**
 * Adds or removes list members: segments resolve to list ids through the settings, customers to Klaviyo
 * profile ids through one lookup per 100, then one relationships request per list and 1,000 profiles.
 */
export async function changeListMembership(
  method: 'POST' | 'DELETE',
  items: SegmentMembership[],
  { http, settings }: OperationContext<KlaviyoSettings>,
): Promise<BatchResult> {
  const results: (ItemResult | undefined)[] = items.map(() => undefined);
  const profiles = await profilesByCustomerId(
    http,
    items.map((item) => item.customerId),
  );
  const byList = new Map<string, { index: number; profileId: string }[]>();
  items.forEach((item, index) => {
    const listId = settings.listIds[item.segment];
    if (listId === undefined) {
      results[index] = {
        status: 'rejected',
        reason: `No Klaviyo list is mapped to segment "${item.segment}" (add it to the listIds setting)`,
      };
      return;
    }
    const profile = profiles.get(item.customerId);
    if (profile === undefined) {
      results[index] = {
        status: 'retry',
        afterMs: PROFILE_NOT_YET_SYNCED_RETRY_MS,
        reason: `Klaviyo holds no profile with external_id ${item.customerId} yet`,
      };
      return;
    }
    const members = byList.get(listId) ?? [];
    members.push({ index, profileId: profile.id });
    byList.set(listId, members);
  });
  for (const [listId, members] of byList) {
    for (let start = 0; start < members.length; start += KLAVIYO_LIMITS.listRelationshipProfiles) {
      const chunk = members.slice(start, start + KLAVIYO_LIMITS.listRelationshipProfiles);
      const ids = [...new Set(chunk.map((member) => member.profileId))];
      await http.request(method, `/api/lists/${encodeURIComponent(listId)}/relationships/profiles`, {
        json: { data: ids.map((id) => ({ type: 'profile', id })) },
      });
      for (const member of chunk) results[member.index] = { status: 'ok', externalId: member.profileId };
    }
  }
  return results.map(
    (result) => result ?? { status: 'rejected', reason: 'unreachable: item left without a result' },
  );
}

export const LIST_ENDPOINT_LIMITS = [KLAVIYO_ENDPOINTS.listAdd.limit, KLAVIYO_ENDPOINTS.profiles.limit];
