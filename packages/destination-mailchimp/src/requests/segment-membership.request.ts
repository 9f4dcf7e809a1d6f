import {
  type BatchResult,
  isDeliveryError,
  type ItemResult,
  itemResultOfError,
  type OperationContext,
  type SegmentMembership,
} from '@tessera/destination-kit';
import { MAILCHIMP_LIMITS, MAILCHIMP_PATHS } from '../mailchimp-endpoints';
import type { MailchimpSettings } from '../mailchimp-settings';
import { memberAddress, normalizeEmail, subscriberHash, unreachableResult } from './member-identity';
import { forgetTagSegment, tagSegmentId } from './tag-segments';

/*
 * Segment membership, in bulk: every change goes through POST /lists/{list_id}/segments/{segment_id}
 * (`members_to_add` / `members_to_remove`, ≤ 500 emails each). A Tessera segment mapped in `segmentIds` is that
 * static segment; any other segment is the tag of the same name, which Mailchimp keeps as a static segment too
 * (its id is looked up once per runner, see tag-segments.ts). The items of one call are grouped by segment:
 * one request per segment and 500 members, whatever the number of events.
 */

export type SegmentDirection = 'add' | 'remove';

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

/** A change for a member Mailchimp does not hold yet waits for the upsert that creates it. */
export const MEMBER_NOT_FOUND_RETRY_MS = 60_000;

export function buildStaticSegmentBody(emails: string[], direction: SegmentDirection): StaticSegmentBody {
  return direction === 'add' ? { members_to_add: emails } : { members_to_remove: emails };
}

/**
 * One result per address. Mailchimp lists the addresses that are not audience members in `errors`: an addition
 * for one waits for its upsert (retry); a removal of one is done already (a non-member is in no segment).
 */
export function staticSegmentResults(
  emails: string[],
  direction: SegmentDirection,
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
    if (reason === undefined || direction === 'remove')
      return { status: 'ok', externalId: subscriberHash(email) };
    return {
      status: 'retry',
      afterMs: MEMBER_NOT_FOUND_RETRY_MS,
      reason: `Mailchimp has no member ${email} yet (${reason}): the segment change waits for its upsert`,
    };
  });
}

/** The members of one segment changed by one call, and the items each address answers for. */
interface SegmentGroup {
  /** The mapped static segment's id, or the tag's name. */
  segment: { id: string } | { tag: string };
  emails: string[];
  /** Index of each item's address in `emails`, by item index. */
  slots: Map<number, number>;
}

type SegmentContext = Pick<OperationContext<MailchimpSettings>, 'http' | 'settings'>;

/** Adds or removes each item's member to or from its segment: one call per segment (and 500 members). */
export async function changeSegmentMembership(
  items: SegmentMembership[],
  direction: SegmentDirection,
  context: SegmentContext,
): Promise<BatchResult> {
  const results: (ItemResult | undefined)[] = items.map(() => undefined);
  const groups = new Map<string, SegmentGroup>();
  items.forEach((item, index) => {
    const address = memberAddress(item.customerId, item.email);
    if (!('hash' in address)) {
      results[index] = unreachableResult(address);
      return;
    }
    const segmentId = context.settings.segmentIds[item.segment];
    const key = segmentId === undefined ? `tag:${item.segment}` : `id:${segmentId}`;
    const group = groups.get(key) ?? {
      segment: segmentId === undefined ? { tag: item.segment } : { id: segmentId },
      emails: [],
      slots: new Map<number, number>(),
    };
    let slot = group.emails.findIndex((email) => normalizeEmail(email) === normalizeEmail(address.email));
    if (slot === -1) slot = group.emails.push(address.email) - 1;
    group.slots.set(index, slot);
    groups.set(key, group);
  });

  await Promise.all(
    [...groups.values()].map(async (group) => {
      let perEmail: ItemResult[];
      try {
        perEmail = await changeGroup(group, direction, context);
      } catch (error) {
        const failed = itemResultOfError(error);
        perEmail = group.emails.map(() => ({ ...failed }));
      }
      for (const [index, slot] of group.slots) results[index] = perEmail[slot];
    }),
  );
  return results.map((result) => result ?? { status: 'rejected', reason: 'unreachable: no result' });
}

/** The calls for one segment, in chunks of 500; a tag deleted in Mailchimp since it was looked up is made again. */
async function changeGroup(
  group: SegmentGroup,
  direction: SegmentDirection,
  context: SegmentContext,
): Promise<ItemResult[]> {
  const { settings } = context;
  if ('id' in group.segment) return postInChunks(group.segment.id, group.emails, direction, context);
  const tag = group.segment.tag;
  const id = await tagSegmentId(tag, context, direction === 'add');
  // Nobody can be removed from a tag the audience does not have.
  if (id === undefined)
    return group.emails.map((email) => ({ status: 'ok', externalId: subscriberHash(email) }));
  try {
    return await postInChunks(id, group.emails, direction, context);
  } catch (error) {
    if (!(isDeliveryError(error) && error.status === 404)) throw error;
    forgetTagSegment(tag, settings);
    const again = await tagSegmentId(tag, context, direction === 'add');
    if (again === undefined)
      return group.emails.map((email) => ({ status: 'ok', externalId: subscriberHash(email) }));
    return postInChunks(again, group.emails, direction, context);
  }
}

async function postInChunks(
  segmentId: string,
  emails: string[],
  direction: SegmentDirection,
  { http, settings }: SegmentContext,
): Promise<ItemResult[]> {
  const results: ItemResult[] = [];
  for (let start = 0; start < emails.length; start += MAILCHIMP_LIMITS.segmentMembers) {
    const chunk = emails.slice(start, start + MAILCHIMP_LIMITS.segmentMembers);
    const response = await http.post<StaticSegmentResponse>(
      MAILCHIMP_PATHS.staticSegment(settings.listId, segmentId),
      buildStaticSegmentBody(chunk, direction),
    );
    results.push(...staticSegmentResults(chunk, direction, response.body));
  }
  return results;
}
