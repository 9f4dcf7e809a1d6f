import type { SandboxResponse } from '@tessera/destination-kit';
import { MAILCHIMP_LIMITS } from '../mailchimp-endpoints';
import { subscriberHash } from '../requests/member-identity';
import type { AudienceDefinition, MergeFieldDefinition } from './emulator-configuration';
import {
  type FieldError,
  invalidResource,
  isRecord,
  json,
  notFound,
  Problem,
  unknownFieldErrors,
} from './problem-responses';

/*
 * An audience as the emulator keeps it, and its member endpoints: batch subscribe or unsubscribe
 * (POST /lists/{list_id}), add or update one member (PUT), read one (GET), delete one for good, and a member's
 * tags. Bodies are checked against Mailchimp's published schemas, merge fields against the audience's.
 */

/** A member status Mailchimp accepts in a request. */
export const STATUSES = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional'] as const;
export type Status = (typeof STATUSES)[number];

/** What a member can be in, beside the statuses a request sets: archived (DELETE …/members/{hash}). */
export type StoredStatus = Status | 'archived';

/** A list member as the emulator holds it. */
export interface MailchimpStoredMember {
  /** The subscriber hash: MD5 of the lower-cased email. */
  id: string;
  email_address: string;
  status: StoredStatus;
  merge_fields: Record<string, unknown>;
  /** Names of the tags (static segments) the member is in, in the order the tags were made. */
  tags: string[];
  last_changed: string;
  /** When the member opted in, as the subscribe gave it (Mailchimp's `timestamp_opt`). */
  timestamp_opt?: string;
}

/** A member as kept: its tags live in the audience's static segments. */
export type KeptMember = Omit<MailchimpStoredMember, 'tags'>;

/** A static segment; in Mailchimp a tag is one ("Static segments are now known as tags"). */
export interface MailchimpStoredSegment {
  id: string;
  name: string;
  /** Subscriber hashes of the members in the static segment. */
  member_ids: string[];
}

export interface Audience {
  definition: AudienceDefinition;
  mergeFields: Map<string, MergeFieldDefinition>;
  members: Map<string, KeptMember>;
  segments: Map<string, MailchimpStoredSegment>;
  /** Hashes of permanently deleted addresses: Mailchimp refuses to re-import them. */
  forgotten: Set<string>;
}

export function newAudience(definition: AudienceDefinition): Audience {
  return {
    definition,
    mergeFields: new Map(definition.mergeFields.map((field) => [field.tag, field])),
    members: new Map(),
    segments: new Map(
      (definition.staticSegments ?? []).map(({ id, name }) => [id, { id, name, member_ids: [] }]),
    ),
    forgotten: new Set(),
  };
}

/** Mailchimp's wording for a member refused by state rather than shape (per member in a batch, 400 on PUT). */
interface MemberRefusal {
  title: string;
  detail: string;
  code: string;
  field?: string;
  field_message?: string;
  /** Every refused field, for the 400 of a PUT. */
  errors?: FieldError[];
}

interface MemberInput {
  email_address: string;
  status?: Status;
  status_if_new?: Status;
  merge_fields: Record<string, unknown>;
  timestamp_opt?: string;
}

/** The fields of a member in Mailchimp's published batch schema ("Add List Members"): no `status_if_new`. */
const BATCH_MEMBER_FIELDS = [
  'email_address',
  'email_type',
  'status',
  'merge_fields',
  'interests',
  'language',
  'vip',
  'location',
  'ip_signup',
  'timestamp_signup',
  'ip_opt',
  'timestamp_opt',
];
/** The fields of PUT /lists/{list_id}/members/{subscriber_hash} in the published schema. */
const PUT_MEMBER_FIELDS = [...BATCH_MEMBER_FIELDS, 'status_if_new', 'marketing_permissions'];
/** The fields of the batch body itself. */
const BATCH_BODY_FIELDS = ['members', 'sync_tags', 'update_existing'];

const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Reserved top-level domains (RFC 2606): Mailchimp calls such addresses fake. */
const FAKE_DOMAIN = /\.(invalid|test|localhost)$/i;

/** POST /lists/{list_id}: per-member results in a 200, like Mailchimp. */
export function batchMembers(
  audience: Audience,
  body: Record<string, unknown>,
  now: string,
): SandboxResponse {
  const members = body['members'];
  if (!Array.isArray(members)) {
    throw invalidResource([{ field: 'members', message: 'This value should be of type array.' }]);
  }
  if (members.length === 0 || members.length > MAILCHIMP_LIMITS.batchMembers) {
    throw invalidResource([
      {
        field: 'members',
        message: `A batch holds 1 to ${MAILCHIMP_LIMITS.batchMembers} members (got ${members.length}).`,
      },
    ]);
  }
  const updateExisting = body['update_existing'] === true;
  const fieldErrors = unknownFieldErrors(body, BATCH_BODY_FIELDS, '');
  const inputs = members.map((member, index) =>
    memberInput(member, `members[${index}]`, fieldErrors, 'batch'),
  );
  if (fieldErrors.length > 0) throw invalidResource(fieldErrors);
  const created: KeptMember[] = [];
  const updated: KeptMember[] = [];
  const errors: Record<string, unknown>[] = [];
  for (const input of inputs) {
    const existing = listedMember(audience, subscriberHash(input.email_address));
    const refusal = batchRefusal(audience, input, existing, updateExisting);
    if (refusal !== undefined) {
      errors.push({
        email_address: input.email_address,
        error: refusal.detail,
        error_code: refusal.code,
        ...(refusal.field === undefined
          ? {}
          : { field: refusal.field, field_message: refusal.field_message }),
      });
      continue;
    }
    const stored = upsertMember(audience, input, existing, now);
    (existing === undefined ? created : updated).push(stored);
  }
  return json(200, {
    new_members: created.map((member) => memberView(audience, member)),
    updated_members: updated.map((member) => memberView(audience, member)),
    errors,
    total_created: created.length,
    total_updated: updated.length,
    error_count: errors.length,
  });
}

/** PUT /lists/{list_id}/members/{subscriber_hash}: add or update one member. */
export function putMember(
  audience: Audience,
  hash: string,
  body: Record<string, unknown>,
  now: string,
): SandboxResponse {
  const fieldErrors: FieldError[] = [];
  const existing = listedMember(audience, hash);
  const input = memberInput(body, '', fieldErrors, 'put');
  if (fieldErrors.length > 0) throw invalidResource(fieldErrors);
  if (subscriberHash(input.email_address) !== hash) {
    throw invalidResource([
      { field: 'email_address', message: 'The email address does not match the subscriber hash in the URL.' },
    ]);
  }
  const refusal = memberRefusal(audience, input, existing);
  if (refusal !== undefined) throw new Problem(400, refusal.title, refusal.detail, refusal.errors);
  return json(200, memberView(audience, upsertMember(audience, input, existing, now)));
}

/** GET /lists/{list_id}/members/{subscriber_hash}. */
export function getMember(audience: Audience, hash: string): SandboxResponse {
  return json(200, memberView(audience, existingMember(audience, hash)));
}

/** POST …/members/{hash}/actions/delete-permanent: gone for good, and never to be re-imported. */
export function deletePermanent(audience: Audience, hash: string): KeptMember {
  const member = existingMember(audience, hash);
  audience.members.delete(hash);
  audience.forgotten.add(hash);
  for (const segment of audience.segments.values()) {
    segment.member_ids = segment.member_ids.filter((id) => id !== hash);
  }
  return member;
}

/**
 * DELETE /lists/{list_id}/members/{subscriber_hash}: Mailchimp's "Archive list member". The member leaves the
 * audience's contacts and sends but its data is kept (shown with status `archived`); a PUT or batch add brings
 * it back as a new member. An archived or unknown member is 404.
 */
export function archiveMember(audience: Audience, hash: string, now: string): KeptMember {
  const member = listedMember(audience, hash);
  if (member === undefined) throw notFound();
  member.status = 'archived';
  member.last_changed = now;
  delete member.timestamp_opt;
  return member;
}

/** The member at `hash` unless archived: an archived member is no list member (it is added again as new). */
function listedMember(audience: Audience, hash: string): KeptMember | undefined {
  const member = audience.members.get(hash);
  return member?.status === 'archived' ? undefined : member;
}

export function existingMember(audience: Audience, hash: string): KeptMember {
  const member = audience.members.get(hash);
  if (member === undefined) throw notFound();
  return member;
}

/** A member as Mailchimp's API returns it (the fields the destination reads, plus a few for realism). */
export function memberView(audience: Audience, member: KeptMember): Record<string, unknown> {
  const tags = segmentsOf(audience, member.id);
  return {
    id: member.id,
    email_address: member.email_address,
    unique_email_id: member.id.slice(0, 10),
    email_type: 'html',
    status: member.status,
    merge_fields: structuredClone(member.merge_fields),
    ...(member.timestamp_opt === undefined ? {} : { timestamp_opt: member.timestamp_opt }),
    tags_count: tags.length,
    tags: tags.map((segment) => ({ id: Number(segment.id), name: segment.name })),
    list_id: audience.definition.id,
    last_changed: member.last_changed,
  };
}

/** The member with its tags, as `state()` shows it. */
export function storedMember(audience: Audience, member: KeptMember): MailchimpStoredMember {
  return { ...structuredClone(member), tags: segmentsOf(audience, member.id).map((segment) => segment.name) };
}

function segmentsOf(audience: Audience, hash: string): MailchimpStoredSegment[] {
  return [...audience.segments.values()].filter((segment) => segment.member_ids.includes(hash));
}

/**
 * The member a body describes; problems with its shape are added to `errors`. `batch` members follow the batch
 * schema (no `status_if_new`); a PUT body needs `status_if_new`, as its published schema requires.
 */
function memberInput(value: unknown, at: string, errors: FieldError[], kind: 'batch' | 'put'): MemberInput {
  const field = (name: string): string => (at === '' ? name : `${at}.${name}`);
  const body = isRecord(value) ? value : {};
  errors.push(...unknownFieldErrors(body, kind === 'batch' ? BATCH_MEMBER_FIELDS : PUT_MEMBER_FIELDS, at));
  const email = body['email_address'];
  if (typeof email !== 'string' || email.trim() === '') {
    errors.push({ field: field('email_address'), message: 'This value should not be blank.' });
  }
  for (const name of kind === 'batch' ? ['status'] : ['status', 'status_if_new']) {
    const status = body[name];
    if (status !== undefined && !(STATUSES as readonly unknown[]).includes(status)) {
      errors.push({ field: field(name), message: `Value must be one of: ${STATUSES.join(', ')}.` });
    }
  }
  if (kind === 'put' && body['status_if_new'] === undefined) {
    errors.push({ field: field('status_if_new'), message: 'This value should not be blank.' });
  }
  const mergeFields = body['merge_fields'];
  if (mergeFields !== undefined && !isRecord(mergeFields)) {
    errors.push({ field: field('merge_fields'), message: 'This value should be of type object.' });
  }
  return {
    email_address: typeof email === 'string' ? email.trim() : '',
    ...(body['status'] === undefined ? {} : { status: body['status'] as Status }),
    ...(kind === 'put' && body['status_if_new'] !== undefined
      ? { status_if_new: body['status_if_new'] as Status }
      : {}),
    merge_fields: isRecord(mergeFields) ? mergeFields : {},
    ...(typeof body['timestamp_opt'] === 'string' ? { timestamp_opt: body['timestamp_opt'] } : {}),
  };
}

/** Why the batch endpoint refuses this member: an existing one without update_existing, a new one without status. */
function batchRefusal(
  audience: Audience,
  input: MemberInput,
  existing: KeptMember | undefined,
  updateExisting: boolean,
): MemberRefusal | undefined {
  if (existing !== undefined && !updateExisting) {
    return {
      title: 'Member Exists',
      detail: `${input.email_address} is already a list member, do you want to update? please provide update_existing:true in the request body`,
      code: 'ERROR_CONTACT_EXISTS',
    };
  }
  if (existing === undefined && input.status === undefined) {
    return {
      title: 'Invalid Resource',
      detail: `${input.email_address} is not a list member yet, and a new member needs a status.`,
      code: 'ERROR_GENERIC',
      field: 'status',
      field_message: 'This value should not be blank.',
    };
  }
  return memberRefusal(audience, input, existing);
}

/** Why Mailchimp refuses this member in its current state, or undefined when it takes it. */
function memberRefusal(
  audience: Audience,
  input: MemberInput,
  existing: KeptMember | undefined,
): MemberRefusal | undefined {
  const email = input.email_address;
  if (!EMAIL_SHAPE.test(email) || FAKE_DOMAIN.test(email)) {
    return {
      title: 'Invalid Resource',
      detail: `${email} looks fake or invalid, please enter a real email address.`,
      code: 'ERROR_GENERIC',
    };
  }
  if (existing === undefined && audience.forgotten.has(subscriberHash(email))) {
    return {
      title: 'Forgotten Email Not Subscribed',
      detail: `${email} was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.`,
      code: 'ERROR_GENERIC',
    };
  }
  if (existing?.status === 'cleaned' && input.status === 'subscribed') {
    return {
      title: 'Member In Compliance State',
      detail: `${email} is already a list member in compliance state due to unsubscribe, bounce, or compliance review.`,
      code: 'ERROR_GENERIC',
    };
  }
  const fieldErrors = mergeFieldErrors(audience, input.merge_fields);
  const [first] = fieldErrors;
  if (first === undefined) return undefined;
  return {
    title: 'Invalid Resource',
    detail: 'Your merge fields were invalid.',
    code: 'ERROR_GENERIC',
    field: first.field,
    field_message: first.message,
    errors: fieldErrors,
  };
}

/** The merge fields the audience refuses: tags it does not define, values its field type cannot hold. */
export function mergeFieldErrors(audience: Audience, mergeFields: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  for (const [tag, value] of Object.entries(mergeFields)) {
    const definition = audience.mergeFields.get(tag);
    const message =
      definition === undefined
        ? `This merge field does not exist in audience ${audience.definition.id}.`
        : mergeValueProblem(definition, value);
    if (message !== undefined) errors.push({ field: tag, message });
  }
  return errors;
}

function mergeValueProblem(definition: MergeFieldDefinition, value: unknown): string | undefined {
  if (value === '' || value === null) return undefined;
  switch (definition.type) {
    case 'address':
      return isCompleteAddress(value) ? undefined : 'Please enter a complete address';
    case 'number':
      return (typeof value === 'number' && Number.isFinite(value)) ||
        (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
        ? undefined
        : 'Please enter a number';
    case 'birthday':
      return typeof value === 'string' && /^(0[1-9]|1[0-2])\/(0[1-9]|[12]\d|3[01])$/.test(value)
        ? undefined
        : 'Please enter a valid birthday (MM/DD)';
    default:
      return typeof value === 'string' || typeof value === 'number'
        ? undefined
        : 'This value should be of type string.';
  }
}

function isCompleteAddress(value: unknown): boolean {
  return (
    isRecord(value) &&
    ['addr1', 'city', 'state', 'zip'].every((name) => typeof value[name] === 'string' && value[name] !== '')
  );
}

function upsertMember(
  audience: Audience,
  input: MemberInput,
  existing: KeptMember | undefined,
  now: string,
): KeptMember {
  const hash = subscriberHash(input.email_address);
  const status =
    existing === undefined ? (input.status ?? input.status_if_new) : (input.status ?? existing.status);
  const member: KeptMember = {
    id: hash,
    email_address: existing?.email_address ?? input.email_address,
    status: status ?? 'transactional',
    merge_fields: { ...existing?.merge_fields, ...input.merge_fields },
    last_changed: now,
  };
  // An opt-in time belongs to a subscription: kept while subscribed, gone once the member is not.
  const optedIn = input.timestamp_opt ?? existing?.timestamp_opt;
  if (member.status === 'subscribed' && optedIn !== undefined) member.timestamp_opt = optedIn;
  audience.members.set(hash, member);
  return member;
}
