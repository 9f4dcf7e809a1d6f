import type { ItemResult } from '@tessera/destination-kit';
import type { MergeFields } from './merge-fields';
import type { OmittedField } from './refused-merge-fields';

/** A member status Mailchimp takes in a request. */
export type MemberStatus = 'subscribed' | 'unsubscribed' | 'cleaned' | 'pending' | 'transactional';

/** One member to write, as planned from the items. */
export interface PlannedMember {
  /** The address as sent (trimmed). */
  email: string;
  hash: string;
  mergeFields: MergeFields;
  /** The subscription this write sets; undefined for profile writes, which never change it. */
  status?: 'subscribed' | 'unsubscribed';
  /** When the member opted in (the consent's time in Tessera's ledger): Mailchimp's `timestamp_opt`. */
  optedInAt?: string;
  /** True when an item carried this member's id (a previous write returned it): Mailchimp holds the member. */
  known: boolean;
}

/** What to do for one item: write a member, or settle the item without calling Mailchimp. */
export type PlannedWrite = { member: PlannedMember } | { rejected: string } | { skipped: string };

/** Rounds of one member write: each round leaves out the merge fields Mailchimp refused in the one before. */
export const MAX_WRITE_ROUNDS = 6;

/** An ok result with the member's id, naming the fields Mailchimp refused when there were any. */
export function writtenResult(hash: string, omitted: OmittedField[], created = false): ItemResult {
  return {
    status: 'ok',
    externalId: hash,
    ...(omitted.length === 0 ? {} : { omittedFields: omitted }),
    ...(created ? { created: true } : {}),
  };
}
