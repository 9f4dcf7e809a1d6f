import {
  type BatchResult,
  coalesceProfileUpdates,
  type ItemResult,
  itemResultOfError,
  type OperationContext,
  type ProfileRef,
  type ProfileUpsert,
  type SubscriptionChange,
} from '@tessera/destination-kit';
import { MAILCHIMP_PATHS, TESSERA_ID_MERGE_FIELD } from '../mailchimp-endpoints';
import type { MailchimpSettings } from '../mailchimp-settings';
import { writeMemberBatch } from './member-batch.request';
import { memberAddress } from './member-identity';
import { mergeFieldsFor, type MergeFields } from './merge-fields';
import {
  MAX_WRITE_ROUNDS,
  type MemberStatus,
  type PlannedMember,
  type PlannedWrite,
  writtenResult,
} from './planned-member';
import { type OmittedField, omitRefusedMergeFields, refusedMergeFields } from './refused-merge-fields';

/*
 * Writing audience members: profile upserts, subscriptions, unsubscriptions and suppressions all become member
 * writes. One distinct address → PUT /lists/{list_id}/members/{hash} (with `status_if_new`, which only that
 * endpoint defines); more → the batch endpoint POST /lists/{list_id} (see member-batch.request.ts).
 *
 * Consent (DESIGN.md): a member's subscription mirrors the consent ledger, so only `subscribe`, `unsubscribe`
 * and `suppress` send `status`. A profile write never changes it: PUT sends `status_if_new: 'transactional'`
 * (applied only when Mailchimp creates the member), and the batch creates new members as `transactional`
 * with `update_existing: false` and updates existing ones without any `status`.
 */

/** The body of PUT /lists/{list_id}/members/{subscriber_hash} as this destination sends it. */
export interface MemberPutBody {
  email_address: string;
  /** Applied only when Mailchimp creates the member. */
  status_if_new: MemberStatus;
  /** Applied to existing members too: consent changes only. */
  status?: MemberStatus;
  merge_fields: MergeFields;
  /** When the member opted in (subscribes only). */
  timestamp_opt?: string;
}

export const SMS_NOT_SUPPORTED_REASON =
  'Mailchimp SMS is not supported by this destination: only the email channel is synced';

/**
 * Profile upserts: updates of one customer are coalesced (highest version wins); two customers with one email
 * address cannot both be that member, so the later one is refused. An item whose `externalId` is its address's
 * hash names a member Mailchimp already holds.
 */
export function planProfileWrites(items: ProfileUpsert[], settings: MailchimpSettings): PlannedWrite[] {
  const { profiles, outputIndex } = coalesceProfileUpdates(items);
  // The ids the items carried, per customer (coalescing keeps attributes, not ids).
  const knownIds = new Map<string, Set<string>>();
  for (const item of items) {
    if (item.externalId === undefined) continue;
    knownIds.set(item.customerId, (knownIds.get(item.customerId) ?? new Set()).add(item.externalId));
  }
  const owners = new Map<string, string>();
  const planned = profiles.map((profile): PlannedWrite => {
    const address = memberAddress(profile.customerId, profile.email);
    if (!('hash' in address)) return address;
    const owner = owners.get(address.hash);
    if (owner !== undefined) {
      return {
        rejected: `Customer ${profile.customerId} has the email address of customer ${owner} in the same batch: Mailchimp keeps one member per email`,
      };
    }
    owners.set(address.hash, profile.customerId);
    return {
      member: {
        email: address.email,
        hash: address.hash,
        mergeFields: mergeFieldsFor(profile, settings),
        known: knownIds.get(profile.customerId)?.has(address.hash) === true,
      },
    };
  });
  return outputIndex.map((index) => planned[index] ?? { rejected: 'unreachable: no coalesced profile' });
}

/**
 * Consent changes set `status` on existing and new members alike. Only email is synced: an sms item is a
 * subscription this destination cannot hold, so it is skipped. The customer id goes to TESSERA_ID so that a
 * member created here is linked to its customer.
 */
export function planStatusWrites(
  items: (SubscriptionChange | ProfileRef)[],
  status: 'subscribed' | 'unsubscribed',
): PlannedWrite[] {
  return items.map((item): PlannedWrite => {
    if ('channel' in item && item.channel !== 'email') return { skipped: SMS_NOT_SUPPORTED_REASON };
    const address = memberAddress(item.customerId, item.email);
    if (!('hash' in address)) return address;
    return {
      member: {
        email: address.email,
        hash: address.hash,
        mergeFields: { [TESSERA_ID_MERGE_FIELD]: item.customerId },
        status,
        ...(status === 'subscribed' && 'changedAt' in item && item.changedAt !== undefined
          ? { optedInAt: item.changedAt }
          : {}),
        known: item.externalId === address.hash,
      },
    };
  });
}

/** The PUT body: `status_if_new` always (the schema requires it), `status` only for consent changes. */
export function buildMemberPutBody(member: PlannedMember): MemberPutBody {
  return {
    email_address: member.email,
    status_if_new: member.status ?? 'transactional',
    ...(member.status === undefined ? {} : { status: member.status }),
    merge_fields: member.mergeFields,
    ...(member.optedInAt === undefined ? {} : { timestamp_opt: member.optedInAt }),
  };
}

type WriteContext = Pick<OperationContext<MailchimpSettings>, 'http' | 'settings'>;

/**
 * Sends the planned writes: items sharing an address share one member write (and its result). One member → PUT,
 * more → the batch endpoint. A merge field Mailchimp refuses is left out and the member goes again.
 */
export async function writeMembers(planned: PlannedWrite[], context: WriteContext): Promise<BatchResult> {
  const slots = new Map<string, number>();
  const members: PlannedMember[] = [];
  const slotOf = planned.map((plan) => {
    if (!('member' in plan)) return undefined;
    let slot = slots.get(plan.member.hash);
    if (slot === undefined) {
      slot = members.push(plan.member) - 1;
      slots.set(plan.member.hash, slot);
    } else if (plan.member.known) {
      const shared = members[slot];
      if (shared !== undefined) shared.known = true;
    }
    return slot;
  });
  const [single] = members;
  const written =
    members.length === 1 && single !== undefined
      ? [await putMember(single, context)]
      : members.length > 1
        ? await writeMemberBatch(members, context)
        : [];
  return planned.map((plan, index): ItemResult => {
    if ('rejected' in plan) return { status: 'rejected', reason: plan.rejected };
    if ('skipped' in plan) return { status: 'skipped', reason: plan.skipped };
    const slot = slotOf[index];
    const result = slot === undefined ? undefined : written[slot];
    return result === undefined
      ? { status: 'rejected', reason: 'unreachable: no write result' }
      : { ...result };
  });
}

/** PUT one member; a 400 naming merge fields it carries sends it again without them. */
async function putMember(planned: PlannedMember, { http, settings }: WriteContext): Promise<ItemResult> {
  let member = planned;
  const omitted: OmittedField[] = [];
  for (let round = 1; ; round += 1) {
    try {
      await http.put(MAILCHIMP_PATHS.member(settings.listId, member.hash), buildMemberPutBody(member));
      return writtenResult(member.hash, omitted);
    } catch (error) {
      const refused = refusedMergeFields(error, member.mergeFields);
      if (refused.length === 0 || round >= MAX_WRITE_ROUNDS) return itemResultOfError(error);
      const next = omitRefusedMergeFields(member.mergeFields, refused, settings);
      member = { ...member, mergeFields: next.mergeFields };
      omitted.push(...next.omitted);
    }
  }
}
