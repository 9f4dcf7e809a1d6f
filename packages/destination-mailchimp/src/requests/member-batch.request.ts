import { type ItemResult, itemResultOfError, type OperationContext } from '@tessera/destination-kit';
import { MAILCHIMP_PATHS } from '../mailchimp-endpoints';
import type { MailchimpSettings } from '../mailchimp-settings';
import { normalizeEmail } from './member-identity';
import type { MergeFields } from './merge-fields';
import { MAX_WRITE_ROUNDS, type MemberStatus, type PlannedMember, writtenResult } from './planned-member';
import { type OmittedField, omitRefusedMergeFields, refusedMergeFieldOf } from './refused-merge-fields';

/*
 * Many members in one request: POST /lists/{list_id} ("Batch subscribe or unsubscribe", ≤ 500 members). Its
 * published member schema has `status` but no `status_if_new`, and with `update_existing: true` a `status`
 * overwrites an existing member's subscription. So profile writes, which must never change a subscription,
 * go in two kinds of call:
 * - create: members not known to exist, `status: 'transactional'`, `update_existing: false` — Mailchimp
 *   creates the new ones and refuses the existing ones (ERROR_CONTACT_EXISTS), which then go as updates;
 * - update: members known to exist (the item carried their id), no `status` at all, `update_existing: true`.
 * Consent changes go as one kind: `status` set, `update_existing: true`, for new and existing members alike.
 * Each round sends at most one call of each kind; a member Mailchimp refuses for a merge field goes again in
 * the next round without it. Mailchimp answers 200 with per-member `errors[]`.
 */

/** A member of the batch body (fields of Mailchimp's published batch member schema only). */
export interface BatchMember {
  email_address: string;
  status?: MemberStatus;
  merge_fields: MergeFields;
}

export interface BatchMembersBody {
  members: BatchMember[];
  update_existing: boolean;
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

/** How a member goes in a batch: created (never updated), updated (status untouched), or given a status. */
export type BatchWriteKind = 'create' | 'update' | 'status';

/** Mailchimp's error code for an existing member in a batch without `update_existing`. */
export const MEMBER_EXISTS_CODE = 'ERROR_CONTACT_EXISTS';

/** The batch body for members of one kind. */
export function buildBatchMembersBody(members: PlannedMember[], kind: BatchWriteKind): BatchMembersBody {
  return {
    members: members.map((member) => ({
      email_address: member.email,
      ...(kind === 'create' ? { status: 'transactional' as const } : {}),
      ...(kind === 'status' && member.status !== undefined ? { status: member.status } : {}),
      merge_fields: member.mergeFields,
      ...(kind === 'status' && member.optedInAt !== undefined ? { timestamp_opt: member.optedInAt } : {}),
    })),
    update_existing: kind !== 'create',
  };
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

/** A member being written: its current fields, what was left out, the kinds it went as, and its result. */
interface MemberWrite {
  member: PlannedMember;
  kind: BatchWriteKind;
  omitted: OmittedField[];
  tried: Set<BatchWriteKind>;
  /** The refusal that sent it from an update to a create, reported if the create refuses it too. */
  updateRefusal?: string;
  result?: ItemResult;
}

type WriteContext = Pick<OperationContext<MailchimpSettings>, 'http' | 'settings'>;

/** Writes distinct members (≤ 500) through the batch endpoint; one result per member, in order. */
export async function writeMemberBatch(
  members: PlannedMember[],
  context: WriteContext,
): Promise<ItemResult[]> {
  const writes: MemberWrite[] = members.map((member) => ({
    member,
    kind: member.status !== undefined ? 'status' : member.known ? 'update' : 'create',
    omitted: [],
    tried: new Set(),
  }));
  for (let round = 1; round <= MAX_WRITE_ROUNDS; round += 1) {
    const pending = writes.filter((write) => write.result === undefined);
    if (pending.length === 0) break;
    const kinds = (['create', 'update', 'status'] as const).filter((kind) =>
      pending.some((write) => write.kind === kind),
    );
    await Promise.all(
      kinds.map((kind) =>
        sendRound(
          pending.filter((write) => write.kind === kind),
          kind,
          round,
          context,
        ),
      ),
    );
  }
  return writes.map(
    (write) =>
      write.result ?? {
        status: 'rejected',
        reason: `Mailchimp kept refusing fields of the member after ${MAX_WRITE_ROUNDS} attempts`,
      },
  );
}

/** One call for the members of one kind; settles or re-plans each member from Mailchimp's answer. */
async function sendRound(
  writes: MemberWrite[],
  kind: BatchWriteKind,
  round: number,
  { http, settings }: WriteContext,
): Promise<void> {
  let response: BatchMembersResponse | undefined;
  try {
    const answer = await http.post<BatchMembersResponse>(
      MAILCHIMP_PATHS.batchMembers(settings.listId),
      buildBatchMembersBody(
        writes.map((write) => write.member),
        kind,
      ),
    );
    response = answer.body;
  } catch (error) {
    // The first call fails as a whole for the kit to settle (retry, or halve to find a bad member); a later one
    // settles only its own members, so what earlier rounds wrote is kept.
    if (round === 1) throw error;
    const failed = itemResultOfError(error);
    for (const write of writes) write.result = { ...failed };
    return;
  }
  const refusals = new Map<string, BatchMemberError>();
  for (const error of response?.errors ?? []) {
    if (typeof error.email_address === 'string') refusals.set(normalizeEmail(error.email_address), error);
  }
  for (const write of writes) {
    write.tried.add(kind);
    const refusal = refusals.get(normalizeEmail(write.member.email));
    if (refusal === undefined) {
      // Created by a create it was planned as (not one re-created after its update was refused: an archived
      // member may keep its tags): a new member, in no tag or segment yet.
      const created = kind === 'create' && write.updateRefusal === undefined && !write.tried.has('update');
      write.result = writtenResult(write.member.hash, write.omitted, created);
      continue;
    }
    replan(write, refusal, settings);
  }
}

/** What follows a refusal: the member without the refused merge field, an update, a create, or its result. */
function replan(write: MemberWrite, refusal: BatchMemberError, settings: MailchimpSettings): void {
  const refusedField = refusedMergeFieldOf(refusal, write.member.mergeFields);
  if (refusedField !== undefined) {
    const next = omitRefusedMergeFields(write.member.mergeFields, [refusedField], settings);
    write.member = { ...write.member, mergeFields: next.mergeFields };
    write.omitted.push(...next.omitted);
    return;
  }
  if (write.kind === 'create' && refusal.error_code === MEMBER_EXISTS_CODE && !write.tried.has('update')) {
    write.kind = 'update';
    return;
  }
  if (write.kind === 'update' && !write.tried.has('create')) {
    // Its id was known, but the member may have been deleted in Mailchimp since: create it (a create refusing
    // it as existing means the update's refusal stands).
    write.kind = 'create';
    write.updateRefusal = batchErrorReason(refusal);
    return;
  }
  const reason =
    write.updateRefusal !== undefined && refusal.error_code === MEMBER_EXISTS_CODE
      ? write.updateRefusal
      : batchErrorReason(refusal);
  write.result = { status: 'rejected', reason };
}
