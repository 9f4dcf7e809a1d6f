import {
  type BatchResult,
  type DestinationHttpClient,
  type ItemResult,
  itemResultOfError,
  type OperationContext,
  type SegmentMembership,
} from '@tessera/destination-kit';
import { KLAVIYO_LIMITS } from '../klaviyo-endpoints';
import type { KlaviyoSettings } from '../klaviyo-settings';
import { errorReason, klaviyoErrors } from './klaviyo-error-body';
import { profilesBy } from './profile-query.request';

/**
 * How long an addition waits when Klaviyo holds no profile for it yet. Its upsert is usually in flight (a bulk
 * import job is accepted before Klaviyo applies it, within seconds to minutes): the item comes back after it.
 */
export const PROFILE_NOT_YET_SYNCED_RETRY_MS = 60_000;

type Change = 'POST' | 'DELETE';

/** A membership to send: its item, the list it names and, once known, the Klaviyo profile id. */
interface Member {
  index: number;
  listId: string;
  profileId?: string;
  /** True when the id came with the item (a previous write returned it) rather than from a lookup. */
  given: boolean;
}

/**
 * Adds or removes list members: segments map to list ids through the settings; an item carrying Klaviyo's
 * profile id (`externalId`) needs no lookup, the others are found in one `GET /api/profiles` per 100 (by
 * email, else by customer id as `external_id`); then one relationships request per list and 1,000 profiles.
 * A profile Klaviyo does not hold is nothing to remove (ok); an addition for it waits for its upsert (retry).
 */
export async function changeListMembership(
  change: Change,
  items: SegmentMembership[],
  { http, settings }: OperationContext<KlaviyoSettings>,
): Promise<BatchResult> {
  const results: (ItemResult | undefined)[] = items.map(() => undefined);
  const members: Member[] = [];
  items.forEach((item, index) => {
    const listId = settings.listIds[item.segment];
    if (listId === undefined) {
      results[index] = {
        status: 'rejected',
        reason: `No Klaviyo list is mapped to segment "${item.segment}" (add it to the listIds setting)`,
      };
    } else if (item.externalId !== undefined) {
      members.push({ index, listId, profileId: item.externalId, given: true });
    } else {
      members.push({ index, listId, given: false });
    }
  });

  await lookUpProfileIds(http, items, members, results);
  const stale = await sendByList(http, change, members, results);
  if (stale.length > 0) {
    // Ids a previous write returned that Klaviyo no longer holds (the profile was deleted or merged): look
    // these members up like the others, once, and send what is found.
    for (const member of stale) {
      delete member.profileId;
      member.given = false;
    }
    await lookUpProfileIds(http, items, stale, results);
    await sendByList(http, change, stale, results);
  }

  for (const member of members) {
    if (results[member.index] !== undefined || member.profileId !== undefined) continue;
    const item = items[member.index];
    results[member.index] =
      change === 'DELETE'
        ? { status: 'ok' }
        : {
            status: 'retry',
            afterMs: PROFILE_NOT_YET_SYNCED_RETRY_MS,
            reason: `Klaviyo holds no profile for customer ${item?.customerId ?? '?'} yet`,
          };
  }
  return results.map(
    (result) => result ?? { status: 'rejected', reason: 'unreachable: item left without a result' },
  );
}

/**
 * Fills `profileId` of the members without one: their emails in `any(email,[…])` queries, then the customer
 * ids of those without an email in `any(external_id,[…])` queries, 100 values each. A failed query settles
 * its members' results (retry after a 429, …); members Klaviyo does not hold keep no id.
 */
async function lookUpProfileIds(
  http: DestinationHttpClient,
  items: readonly SegmentMembership[],
  members: Member[],
  results: (ItemResult | undefined)[],
): Promise<void> {
  const pending = members.filter((member) => member.profileId === undefined);
  if (pending.length === 0) return;
  const emailOf = (member: Member) => items[member.index]?.email?.toLowerCase();
  const byEmail = pending.filter((member) => emailOf(member) !== undefined);
  const byCustomerId = pending.filter((member) => emailOf(member) === undefined);
  const lookups: Array<{
    field: 'email' | 'external_id';
    members: Member[];
    key: (member: Member) => string;
    read: (attributes: { email?: string | null; external_id?: string | null }) => string | undefined;
  }> = [
    {
      field: 'email',
      members: byEmail,
      key: (member) => emailOf(member) ?? '',
      read: (attributes) => attributes.email?.toLowerCase(),
    },
    {
      field: 'external_id',
      members: byCustomerId,
      key: (member) => items[member.index]?.customerId ?? '',
      read: (attributes) => attributes.external_id ?? undefined,
    },
  ];
  for (const lookup of lookups) {
    // Chunks of whole pages, so that a failed query settles only the members it was about.
    const keys = [...new Set(lookup.members.map(lookup.key))];
    for (let start = 0; start < keys.length; start += KLAVIYO_LIMITS.profilesPageSize) {
      const chunk = new Set(keys.slice(start, start + KLAVIYO_LIMITS.profilesPageSize));
      const concerned = lookup.members.filter((member) => chunk.has(lookup.key(member)));
      try {
        const found = new Map<string, string>();
        for (const profile of await profilesBy(http, lookup.field, [...chunk], {
          fields: ['email', 'external_id'],
        })) {
          const key = lookup.read(profile.attributes);
          if (key !== undefined) found.set(key, profile.id);
        }
        for (const member of concerned) {
          const id = found.get(lookup.key(member));
          if (id !== undefined) member.profileId = id;
        }
      } catch (error) {
        const result = itemResultOfError(error);
        for (const member of concerned) results[member.index] = result;
      }
    }
  }
}

/**
 * One relationships request per list and 1,000 distinct profiles, for the members with an id and no result.
 * Each request settles its own members (ok with the profile id, or the error's result). Returns the members
 * whose given id Klaviyo refused as unknown (400 pointing at `/data/{i}/id`): the request goes again without them.
 */
async function sendByList(
  http: DestinationHttpClient,
  change: Change,
  members: readonly Member[],
  results: (ItemResult | undefined)[],
): Promise<Member[]> {
  const byList = new Map<string, Member[]>();
  for (const member of members) {
    if (member.profileId === undefined || results[member.index] !== undefined) continue;
    byList.set(member.listId, [...(byList.get(member.listId) ?? []), member]);
  }
  const stale: Member[] = [];
  for (const [listId, listMembers] of byList) {
    const ids = [...new Set(listMembers.map((member) => member.profileId ?? ''))];
    for (let start = 0; start < ids.length; start += KLAVIYO_LIMITS.listRelationshipProfiles) {
      let chunk = ids.slice(start, start + KLAVIYO_LIMITS.listRelationshipProfiles);
      const path = `/api/lists/${encodeURIComponent(listId)}/relationships/profiles`;
      const settle = (sent: readonly string[], result: (member: Member) => ItemResult) => {
        const settled = new Set(sent);
        for (const member of listMembers)
          if (member.profileId !== undefined && settled.has(member.profileId))
            results[member.index] = result(member);
      };
      while (chunk.length > 0) {
        try {
          await http.request(change, path, { json: { data: chunk.map((id) => ({ type: 'profile', id })) } });
          settle(chunk, (member) => ({ status: 'ok', externalId: member.profileId ?? '' }));
          break;
        } catch (error) {
          const unknown = unknownProfileId(error, chunk);
          if (unknown === undefined) {
            const result = itemResultOfError(error);
            settle(chunk, () => result);
            break;
          }
          const [refused] = klaviyoErrors(error);
          for (const member of listMembers) {
            if (member.profileId !== unknown) continue;
            if (member.given) stale.push(member);
            else
              results[member.index] = refusedId(
                change,
                unknown,
                refused === undefined ? '' : errorReason(refused),
              );
          }
          chunk = chunk.filter((id) => id !== unknown);
        }
      }
    }
  }
  return stale;
}

/** The profile id a 400 says Klaviyo does not hold (its pointer is `/data/{i}/id`), if that is the error. */
function unknownProfileId(error: unknown, chunk: readonly string[]): string | undefined {
  if (!(error instanceof Error) || (error as { status?: number }).status !== 400) return undefined;
  for (const entry of klaviyoErrors(error)) {
    const index = /^\/data\/(\d+)\/id$/.exec(entry.source?.pointer ?? '')?.[1];
    if (index !== undefined) return chunk[Number(index)];
  }
  return undefined;
}

/** A profile id found by a lookup a moment ago and refused now (deleted in between): as if not held. */
function refusedId(change: Change, id: string, reason: string): ItemResult {
  return change === 'DELETE'
    ? { status: 'ok' }
    : {
        status: 'retry',
        afterMs: PROFILE_NOT_YET_SYNCED_RETRY_MS,
        reason: `Klaviyo refused profile ${id}: ${reason}`,
      };
}
