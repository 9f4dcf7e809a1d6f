import {
  type BatchResult,
  itemResultOfError,
  coalesceProfileUpdates,
  type ItemResult,
  type OperationContext,
  type ProfileRef,
  type ProfileUpsert,
  type SubscriptionChange,
} from '@tessera/destination-kit';
import { MAILCHIMP_PATHS, TESSERA_ID_MERGE_FIELD } from '../mailchimp-endpoints';
import type { MailchimpSettings } from '../mailchimp-settings';
import { mergeFieldsFor, type MergeFields } from './merge-fields';
import { emailProblem, normalizeEmail, subscriberHash } from './member-identity';

/*
 * Writing audience members: profile upserts, subscriptions, unsubscriptions and suppressions all become member
 * writes. One item → PUT /lists/{list_id}/members/{hash}; more → one batch POST /lists/{list_id} (≤ 500
 * members, update_existing: true), whose `errors[]` reject exactly the members it names.
 */

export type MemberStatus = 'subscribed' | 'unsubscribed' | 'cleaned' | 'pending' | 'transactional';

/** One member as the batch endpoint and PUT take it. */
export interface MemberWrite {
  email_address: string;
  /** Applied only when Mailchimp creates the member. */
  status_if_new: MemberStatus;
  /** Applied to existing members too; left out by profile upserts, which never change consent. */
  status?: MemberStatus;
  merge_fields?: MergeFields;
}

export interface BatchMembersBody {
  members: MemberWrite[];
  update_existing: true;
}

/** A member Mailchimp refused in a 200 batch answer. */
export interface BatchMemberError {
  email_address?: string;
  error?: string;
  error_code?: string;
  field?: string;
  field_message?: string;
}

export interface BatchMembersResponse {
  new_members?: { id?: string; email_address?: string }[];
  updated_members?: { id?: string; email_address?: string }[];
  errors?: BatchMemberError[];
  total_created?: number;
  total_updated?: number;
  error_count?: number;
}

/** What to do for one item: write a member, or refuse the item without calling Mailchimp. */
export type PlannedWrite = { member: MemberWrite } | { rejected: string };

export const SMS_NOT_SUPPORTED_REASON =
  'Mailchimp SMS is not supported by this destination: only the email channel is synced';

/**
 * Profile upserts: new members get status `transactional` (Tessera's consent ledger decides marketing
 * consent, so an upsert never subscribes anyone), existing members keep their status. Updates of one customer
 * are coalesced (highest version wins); two customers with one email address cannot both be that member, so
 * the later one is refused.
 */
export function planProfileWrites(items: ProfileUpsert[], settings: MailchimpSettings): PlannedWrite[] {
  const { profiles, outputIndex } = coalesceProfileUpdates(items);
  const owners = new Map<string, string>();
  const planned = profiles.map((profile): PlannedWrite => {
    const problem = emailProblem(profile.customerId, profile.email);
    if (problem !== undefined || profile.email === undefined) return { rejected: problem ?? 'unreachable' };
    const email = normalizeEmail(profile.email);
    const owner = owners.get(email);
    if (owner !== undefined) {
      return {
        rejected: `Customer ${profile.customerId} has the email address of customer ${owner} in the same batch: Mailchimp keeps one member per email`,
      };
    }
    owners.set(email, profile.customerId);
    return {
      member: {
        email_address: profile.email.trim(),
        status_if_new: 'transactional',
        merge_fields: mergeFieldsFor(profile, settings),
      },
    };
  });
  return outputIndex.map((index) => planned[index] ?? { rejected: 'unreachable: no coalesced profile' });
}

/**
 * Consent changes: `status` is set on existing and new members alike. Only email is synced (sms items are
 * refused); the customer id goes to TESSERA_ID so that a member created here is linked to its customer.
 */
export function planStatusWrites(
  items: (SubscriptionChange | ProfileRef)[],
  status: 'subscribed' | 'unsubscribed',
): PlannedWrite[] {
  return items.map((item): PlannedWrite => {
    if ('channel' in item && item.channel !== 'email') return { rejected: SMS_NOT_SUPPORTED_REASON };
    const problem = emailProblem(item.customerId, item.email);
    if (problem !== undefined || item.email === undefined) return { rejected: problem ?? 'unreachable' };
    return {
      member: {
        email_address: item.email.trim(),
        status_if_new: status,
        status,
        merge_fields: { [TESSERA_ID_MERGE_FIELD]: item.customerId },
      },
    };
  });
}

/** The batch body for members with distinct addresses. */
export function buildBatchMembersBody(members: MemberWrite[]): BatchMembersBody {
  return { members, update_existing: true };
}

/** Why Mailchimp refused one member of a batch, in its own words. */
export function batchErrorReason(error: BatchMemberError): string {
  const field =
    error.field === undefined || error.field === ''
      ? ''
      : ` (${error.field}${error.field_message === undefined ? '' : `: ${error.field_message}`})`;
  const code = error.error_code === undefined ? '' : ` [${error.error_code}]`;
  return `Mailchimp refused the member: ${error.error ?? 'no reason given'}${field}${code}`;
}

/** One result per distinct address of a batch: rejected when `errors[]` names it, ok (member id) otherwise. */
export function batchMemberResults(
  members: MemberWrite[],
  response: BatchMembersResponse | undefined,
): ItemResult[] {
  const refused = new Map<string, BatchMemberError>();
  for (const error of response?.errors ?? []) {
    if (typeof error.email_address === 'string') refused.set(normalizeEmail(error.email_address), error);
  }
  return members.map((member): ItemResult => {
    const error = refused.get(normalizeEmail(member.email_address));
    return error === undefined
      ? { status: 'ok', externalId: subscriberHash(member.email_address) }
      : { status: 'rejected', reason: batchErrorReason(error) };
  });
}

/**
 * Sends the planned writes: items sharing an address share one member write (and its result). One member → PUT,
 * more → one batch POST. A refused PUT settles its item; a refused batch is thrown for the kit to split.
 */
export async function writeMembers(
  planned: PlannedWrite[],
  { http, settings }: Pick<OperationContext<MailchimpSettings>, 'http' | 'settings'>,
): Promise<BatchResult> {
  const slots = new Map<string, number>();
  const members: MemberWrite[] = [];
  const slotOf = planned.map((plan) => {
    if (!('member' in plan)) return undefined;
    const hash = subscriberHash(plan.member.email_address);
    let slot = slots.get(hash);
    if (slot === undefined) {
      slot = members.push(plan.member) - 1;
      slots.set(hash, slot);
    }
    return slot;
  });
  let written: ItemResult[] = [];
  const [single] = members;
  if (members.length === 1 && single !== undefined) {
    const hash = subscriberHash(single.email_address);
    try {
      const response = await http.put<{ id?: string }>(MAILCHIMP_PATHS.member(settings.listId, hash), single);
      written = [{ status: 'ok', externalId: response.body?.id ?? hash }];
    } catch (error) {
      written = [itemResultOfError(error)];
    }
  } else if (members.length > 1) {
    const response = await http.post<BatchMembersResponse>(
      MAILCHIMP_PATHS.batchMembers(settings.listId),
      buildBatchMembersBody(members),
    );
    written = batchMemberResults(members, response.body);
  }
  return planned.map((plan, index): ItemResult => {
    if ('rejected' in plan) return { status: 'rejected', reason: plan.rejected };
    const slot = slotOf[index];
    return (slot === undefined ? undefined : written[slot]) ?? { status: 'rejected', reason: 'unreachable' };
  });
}
