import {
  type BatchResult,
  itemResultOfError,
  isDeliveryError,
  type ItemResult,
  type OperationContext,
  type SegmentMembership,
} from '@tessera/destination-kit';
import { MAILCHIMP_PATHS } from '../mailchimp-endpoints';
import type { MailchimpSettings } from '../mailchimp-settings';
import { memberAddress, normalizeEmail, subscriberHash, unreachableResult } from './member-identity';

/*
 * Segment membership. A Tessera segment mapped in `segmentIds` is a Mailchimp static segment, changed in bulk
 * (POST /lists/{list_id}/segments/{segment_id}, ≤ 500 emails each way); any other segment is a member tag
 * named like the segment (POST /lists/{list_id}/members/{hash}/tags, one call per member with all its tags).
 */

export type SegmentDirection = 'add' | 'remove';

export interface MemberTagsBody {
  tags: { name: string; status: 'active' | 'inactive' }[];
}

export interface StaticSegmentBody {
  members_to_add?: string[];
  members_to_remove?: string[];
}

export interface StaticSegmentResponse {
  members_added?: { email_address?: string }[];
  members_removed?: { email_address?: string }[];
  errors?: { email_addresses?: string[]; error?: string }[];
  total_added?: number;
  total_removed?: number;
  error_count?: number;
}

/** A tag change for a member Mailchimp does not hold yet waits for the upsert that creates it. */
export const MEMBER_NOT_FOUND_RETRY_MS = 60_000;

export function buildMemberTagsBody(segments: string[], direction: SegmentDirection): MemberTagsBody {
  return { tags: segments.map((name) => ({ name, status: direction === 'add' ? 'active' : 'inactive' })) };
}

export function buildStaticSegmentBody(emails: string[], direction: SegmentDirection): StaticSegmentBody {
  return direction === 'add' ? { members_to_add: emails } : { members_to_remove: emails };
}

/** One result per address: rejected with Mailchimp's error when `errors[]` lists it, ok otherwise. */
export function staticSegmentResults(
  emails: string[],
  response: StaticSegmentResponse | undefined,
): ItemResult[] {
  const refused = new Map<string, string>();
  for (const error of response?.errors ?? []) {
    for (const email of error.email_addresses ?? []) {
      refused.set(normalizeEmail(email), error.error ?? 'no reason given');
    }
  }
  return emails.map((email): ItemResult => {
    const reason = refused.get(normalizeEmail(email));
    return reason === undefined
      ? { status: 'ok', externalId: subscriberHash(email) }
      : { status: 'rejected', reason: `Mailchimp refused the static segment change: ${reason}` };
  });
}

interface TagCall {
  hash: string;
  segments: string[];
  indexes: number[];
}

interface SegmentCall {
  segmentId: string;
  emails: string[];
  /** Index of each address in `emails`, per item index. */
  slots: Map<number, number>;
}

/** Adds or removes each item's member to or from its segment; every call runs at once under the connection cap. */
export async function changeSegmentMembership(
  items: SegmentMembership[],
  direction: SegmentDirection,
  { http, settings }: Pick<OperationContext<MailchimpSettings>, 'http' | 'settings'>,
): Promise<BatchResult> {
  const results: (ItemResult | undefined)[] = items.map(() => undefined);
  const tagCalls = new Map<string, TagCall>();
  const segmentCalls = new Map<string, SegmentCall>();
  items.forEach((item, index) => {
    const address = memberAddress(item.customerId, item.email);
    if (!('hash' in address) || item.email === undefined) {
      results[index] = unreachableResult(address);
      return;
    }
    const segmentId = settings.segmentIds[item.segment];
    if (segmentId === undefined) {
      const hash = subscriberHash(item.email);
      const call = tagCalls.get(hash) ?? { hash, segments: [], indexes: [] };
      if (!call.segments.includes(item.segment)) call.segments.push(item.segment);
      call.indexes.push(index);
      tagCalls.set(hash, call);
      return;
    }
    const call = segmentCalls.get(segmentId) ?? { segmentId, emails: [], slots: new Map<number, number>() };
    const email = normalizeEmail(item.email);
    let slot = call.emails.indexOf(email);
    if (slot === -1) slot = call.emails.push(email) - 1;
    call.slots.set(index, slot);
    segmentCalls.set(segmentId, call);
  });

  const tagWork = [...tagCalls.values()].map(async (call) => {
    const result = await changeTags(call, direction, http, settings.listId);
    for (const index of call.indexes) results[index] = { ...result };
  });
  const segmentWork = [...segmentCalls.values()].map(async (call) => {
    let perEmail: ItemResult[];
    try {
      const response = await http.post<StaticSegmentResponse>(
        MAILCHIMP_PATHS.staticSegment(settings.listId, call.segmentId),
        buildStaticSegmentBody(call.emails, direction),
      );
      perEmail = staticSegmentResults(call.emails, response.body);
    } catch (error) {
      const failed = itemResultOfError(error);
      perEmail = call.emails.map(() => ({ ...failed }));
    }
    for (const [index, slot] of call.slots) results[index] = perEmail[slot];
  });
  await Promise.all([...tagWork, ...segmentWork]);
  return results.map((result) => result ?? { status: 'rejected', reason: 'unreachable: no result' });
}

async function changeTags(
  call: TagCall,
  direction: SegmentDirection,
  http: OperationContext<MailchimpSettings>['http'],
  listId: string,
): Promise<ItemResult> {
  try {
    await http.post(
      MAILCHIMP_PATHS.memberTags(listId, call.hash),
      buildMemberTagsBody(call.segments, direction),
    );
    return { status: 'ok', externalId: call.hash };
  } catch (error) {
    if (isDeliveryError(error) && error.status === 404) {
      return {
        status: 'retry',
        afterMs: MEMBER_NOT_FOUND_RETRY_MS,
        reason: `Member ${call.hash} is not in the audience yet: the tag waits for its upsert`,
      };
    }
    return itemResultOfError(error);
  }
}
