import { randomUUID } from 'node:crypto';
import type { EmulatorTools, EspEmulator, SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import { MAILCHIMP_API_ROOT, MAILCHIMP_LIMITS } from '../mailchimp-endpoints';
import { subscriberHash } from '../requests/member-identity';

/** A member status Mailchimp accepts in a request. */
const STATUSES = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional'] as const;
type Status = (typeof STATUSES)[number];

/** A list member as the emulator holds it. */
export interface MailchimpStoredMember {
  /** The subscriber hash: MD5 of the lower-cased email. */
  id: string;
  email_address: string;
  status: Status;
  merge_fields: Record<string, unknown>;
  tags: string[];
  last_changed: string;
}

export interface MailchimpStoredSegment {
  id: string;
  name: string;
  /** Subscriber hashes of the members in the static segment. */
  member_ids: string[];
}

export interface MailchimpEmulatorState {
  lists: Record<string, { members: MailchimpStoredMember[]; segments: MailchimpStoredSegment[] }>;
  /** Members deleted with delete-permanent, in order. */
  deletions: { list_id: string; id: string; email_address: string }[];
}

export interface MailchimpEmulatorOptions {
  /** The only API key accepted; any key when unset. */
  apiKey?: string;
  /** How long every request is held before it is answered (lets tests overlap requests). Default 0. */
  responseDelayMs?: number;
  /** Simultaneous requests allowed per API key before 429 (Mailchimp: 10). */
  maxConnections?: number;
}

interface StoredList {
  members: Map<string, MailchimpStoredMember>;
  segments: Map<string, MailchimpStoredSegment>;
  /** Hashes of permanently deleted addresses: Mailchimp refuses to re-import them. */
  forgotten: Set<string>;
}

interface FieldError {
  field: string;
  message: string;
}

const PROBLEM_TYPE = 'https://mailchimp.com/developer/marketing/docs/errors/';
const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Reserved top-level domains (RFC 2606): Mailchimp calls such addresses fake. */
const FAKE_DOMAIN = /\.(invalid|test|localhost)$/i;

/** A refusal of the whole request, answered in Mailchimp's problem-detail shape. */
class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }
}

const invalidResource = (errors: FieldError[]): Problem =>
  new Problem(
    400,
    'Invalid Resource',
    "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
    errors,
  );

const notFound = (): Problem =>
  new Problem(404, 'Resource Not Found', 'The requested resource could not be found.');

/** Mailchimp's wording for a member refused by state rather than shape (per member in a batch, 400 on PUT). */
interface MemberRefusal {
  title: string;
  error: string;
  code: string;
  field?: string;
  field_message?: string;
}

/**
 * A local stand-in for the Mailchimp Marketing API 3.0, mounted by the sandbox at `/sandbox/mailchimp`. It checks
 * HTTP basic auth (401), holds at most 10 requests in flight per key (the 11th is answered 429), validates
 * bodies (400 "Invalid Resource" with `errors[{field, message}]`, at most 500 members per batch), refuses
 * members like Mailchimp does (fake addresses, permanently deleted ones, re-subscribing a cleaned one), and
 * keeps members, tags and static segments per list. Errors use Mailchimp's problem-detail shape
 * (`application/problem+json`: type, title, status, detail, instance).
 */
export class MailchimpEmulator implements EspEmulator {
  readonly esp = 'mailchimp';
  private lists = new Map<string, StoredList>();
  private deletions: MailchimpEmulatorState['deletions'] = [];
  private readonly inFlight = new Map<string, number>();
  private readonly peaks = new Map<string, number>();
  private nextSegmentId = 1001;

  constructor(private readonly options: MailchimpEmulatorOptions = {}) {}

  async handle(request: SandboxRequest, tools: EmulatorTools): Promise<SandboxResponse> {
    const key = this.apiKeyOf(request);
    if (typeof key !== 'string') return key;
    // Mailchimp's only throttle is the connection cap; it holds even when the sandbox lifts rate limits.
    const limit = this.options.maxConnections ?? MAILCHIMP_LIMITS.maxConnections;
    const active = this.inFlight.get(key) ?? 0;
    if (active >= limit) {
      return this.errorResponse(429, `You have exceeded the limit of ${limit} simultaneous connections.`);
    }
    this.inFlight.set(key, active + 1);
    this.peaks.set(key, Math.max(this.peaks.get(key) ?? 0, active + 1));
    try {
      const delay = this.options.responseDelayMs ?? 0;
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      return this.route(request, tools);
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      return problem(error);
    } finally {
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left === 0) this.inFlight.delete(key);
      else this.inFlight.set(key, left);
    }
  }

  errorResponse(status: number, message: string): SandboxResponse {
    return problem(new Problem(status, titleOf(status), message));
  }

  state(): MailchimpEmulatorState {
    const lists: MailchimpEmulatorState['lists'] = {};
    for (const [listId, list] of this.lists) {
      lists[listId] = { members: [...list.members.values()], segments: [...list.segments.values()] };
    }
    return structuredClone({ lists, deletions: this.deletions });
  }

  reset(): void {
    this.lists.clear();
    this.deletions = [];
    this.inFlight.clear();
    this.peaks.clear();
    this.nextSegmentId = 1001;
  }

  /** The member of `listId` with this address, if any. */
  member(listId: string, email: string): MailchimpStoredMember | undefined {
    const member = this.lists.get(listId)?.members.get(subscriberHash(email));
    return member === undefined ? undefined : structuredClone(member);
  }

  /** Creates a static segment (as a marketer would in the Mailchimp app) and returns its id. */
  addStaticSegment(listId: string, name: string): string {
    const id = String(this.nextSegmentId++);
    this.list(listId).segments.set(id, { id, name, member_ids: [] });
    return id;
  }

  /** Most requests the key had in flight at once so far. */
  peakConnections(apiKey: string): number {
    return this.peaks.get(apiKey) ?? 0;
  }

  /**
   * The member unsubscribes in Mailchimp (an unsubscribe link, or the marketer in the app): the status changes
   * and the form body of the `unsubscribe` webhook Mailchimp would POST is returned.
   */
  unsubscribeInEsp(listId: string, email: string, atMs: number): Buffer {
    const member = this.changeStatus(listId, email, 'unsubscribed', atMs);
    return listWebhookBody('unsubscribe', atMs, {
      action: 'unsub',
      reason: 'manual',
      id: member.id.slice(0, 10),
      list_id: listId,
      email: member.email_address,
      email_type: 'html',
      ...mergeEntries(member.merge_fields),
      ip_opt: '198.51.100.7',
      campaign_id: 'cb398d21d2',
    });
  }

  /**
   * The marketer removes the contact from the audience in the Mailchimp app (it is no longer a member; unlike a
   * permanent deletion, the address may be added again).
   */
  removeInEsp(listId: string, email: string): void {
    const list = this.list(listId);
    const hash = subscriberHash(email);
    list.members.delete(hash);
    for (const segment of list.segments.values()) {
      segment.member_ids = segment.member_ids.filter((id) => id !== hash);
    }
  }

  /** Mailchimp cleans the address (a hard bounce or an abuse report) and returns the `cleaned` webhook body. */
  cleanInEsp(listId: string, email: string, reason: 'hard' | 'abuse', atMs: number): Buffer {
    const member = this.changeStatus(listId, email, 'cleaned', atMs);
    return listWebhookBody('cleaned', atMs, {
      list_id: listId,
      campaign_id: '4fjk2ma9xd',
      reason,
      email: member.email_address,
    });
  }

  private changeStatus(listId: string, email: string, status: Status, atMs: number): MailchimpStoredMember {
    const list = this.list(listId);
    const hash = subscriberHash(email);
    const member = list.members.get(hash) ?? {
      id: hash,
      email_address: email,
      status,
      merge_fields: {},
      tags: [],
      last_changed: '',
    };
    member.status = status;
    member.last_changed = mailchimpTime(atMs);
    list.members.set(hash, member);
    return member;
  }

  /** The API key of the request's basic auth, or the 401 refusing it. */
  private apiKeyOf(request: SandboxRequest): string | SandboxResponse {
    const header = request.headers['authorization'];
    if (header === undefined || header.trim() === '') {
      return problem(new Problem(401, 'API Key Missing', 'Your request did not include an API key.'));
    }
    const encoded = /^Basic\s+(\S+)$/i.exec(header)?.[1];
    const decoded = encoded === undefined ? '' : Buffer.from(encoded, 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    const key = separator === -1 ? '' : decoded.slice(separator + 1);
    if (key === '' || (this.options.apiKey !== undefined && key !== this.options.apiKey)) {
      return problem(
        new Problem(
          401,
          'API Key Invalid',
          "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
        ),
      );
    }
    return key;
  }

  private route(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    const root = `${MAILCHIMP_API_ROOT}/`;
    if (!request.path.startsWith(root)) throw notFound();
    const parts = request.path.slice(root.length).replace(/\/$/, '').split('/').map(decodeURIComponent);
    const method = request.method;
    const now = mailchimpTime(tools.clock.now());
    const [resource, listId, sub, hash, action, actionName] = parts;
    if (parts.length === 1 && resource === 'ping') {
      allow(method, 'GET');
      return json(200, { health_status: "Everything's Chimpy!" });
    }
    if (resource !== 'lists' || listId === undefined || listId === '') throw notFound();
    if (parts.length === 2) {
      allow(method, 'POST');
      return this.batchMembers(listId, parseBody(request), now);
    }
    if (sub === 'members' && hash !== undefined && parts.length === 4) {
      allow(method, 'GET', 'PUT');
      return method === 'GET'
        ? json(200, view(this.existing(listId, hash), listId))
        : this.putMember(listId, hash, parseBody(request), now);
    }
    if (sub === 'members' && hash !== undefined && parts.length === 5 && action === 'tags') {
      allow(method, 'POST');
      return this.memberTags(listId, hash, parseBody(request));
    }
    if (
      sub === 'members' &&
      hash !== undefined &&
      parts.length === 6 &&
      action === 'actions' &&
      actionName === 'delete-permanent'
    ) {
      allow(method, 'POST');
      return this.deletePermanent(listId, hash);
    }
    if (sub === 'segments' && hash !== undefined && parts.length === 4) {
      allow(method, 'POST');
      return this.staticSegment(listId, hash, parseBody(request));
    }
    throw notFound();
  }

  private batchMembers(listId: string, body: Record<string, unknown>, now: string): SandboxResponse {
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
    const fieldErrors: FieldError[] = unknownFieldErrors(body, BATCH_BODY_FIELDS, '');
    const inputs = members.map((member, index) =>
      memberInput(member, `members[${index}]`, fieldErrors, 'batch'),
    );
    if (fieldErrors.length > 0) throw invalidResource(fieldErrors);
    const list = this.list(listId);
    const created: MailchimpStoredMember[] = [];
    const updated: MailchimpStoredMember[] = [];
    const errors: Record<string, unknown>[] = [];
    for (const input of inputs) {
      const hash = subscriberHash(input.email_address);
      const existing = list.members.get(hash);
      const refusal = batchRefusal(list, input, existing, updateExisting);
      if (refusal !== undefined) {
        errors.push({
          email_address: input.email_address,
          error: refusal.error,
          error_code: refusal.code,
          ...(refusal.field === undefined
            ? {}
            : { field: refusal.field, field_message: refusal.field_message }),
        });
        continue;
      }
      const stored = upsertMember(list, input, existing, now);
      (existing === undefined ? created : updated).push(stored);
    }
    return json(200, {
      new_members: created.map((member) => view(member, listId)),
      updated_members: updated.map((member) => view(member, listId)),
      errors,
      total_created: created.length,
      total_updated: updated.length,
      error_count: errors.length,
    });
  }

  private putMember(
    listId: string,
    hash: string,
    body: Record<string, unknown>,
    now: string,
  ): SandboxResponse {
    const fieldErrors: FieldError[] = [];
    const list = this.list(listId);
    const existing = list.members.get(hash);
    const input = memberInput(body, '', fieldErrors, 'put');
    if (fieldErrors.length > 0) throw invalidResource(fieldErrors);
    if (subscriberHash(input.email_address) !== hash) {
      throw invalidResource([
        {
          field: 'email_address',
          message: 'The email address does not match the subscriber hash in the URL.',
        },
      ]);
    }
    const refusal = memberRefusal(list, input, existing);
    if (refusal !== undefined) throw new Problem(400, refusal.title, refusal.error);
    return json(200, view(upsertMember(list, input, existing, now), listId));
  }

  private memberTags(listId: string, hash: string, body: Record<string, unknown>): SandboxResponse {
    const member = this.existing(listId, hash);
    const tags = body['tags'];
    const errors: FieldError[] = [];
    if (!Array.isArray(tags) || tags.length === 0) {
      errors.push({ field: 'tags', message: 'This value should be a non-empty array.' });
    } else {
      tags.forEach((tag, index) => {
        const { name, status } = isRecord(tag) ? tag : {};
        if (typeof name !== 'string' || name.trim() === '') {
          errors.push({ field: `tags[${index}].name`, message: 'This value should not be blank.' });
        }
        if (status !== 'active' && status !== 'inactive') {
          errors.push({ field: `tags[${index}].status`, message: 'Value must be one of: active, inactive.' });
        }
      });
    }
    if (errors.length > 0 || !Array.isArray(tags)) throw invalidResource(errors);
    for (const tag of tags as { name: string; status: 'active' | 'inactive' }[]) {
      const present = member.tags.includes(tag.name);
      if (tag.status === 'active' && !present) member.tags.push(tag.name);
      if (tag.status === 'inactive' && present) member.tags = member.tags.filter((name) => name !== tag.name);
    }
    return { status: 204 };
  }

  private deletePermanent(listId: string, hash: string): SandboxResponse {
    const list = this.list(listId);
    const member = this.existing(listId, hash);
    list.members.delete(hash);
    list.forgotten.add(hash);
    for (const segment of list.segments.values()) {
      segment.member_ids = segment.member_ids.filter((id) => id !== hash);
    }
    this.deletions.push({ list_id: listId, id: hash, email_address: member.email_address });
    return { status: 204 };
  }

  private staticSegment(listId: string, segmentId: string, body: Record<string, unknown>): SandboxResponse {
    const list = this.list(listId);
    const segment = list.segments.get(segmentId);
    if (segment === undefined) throw notFound();
    const fieldErrors: FieldError[] = [];
    const emails = (field: 'members_to_add' | 'members_to_remove'): string[] => {
      const value = body[field];
      if (value === undefined) return [];
      if (!Array.isArray(value) || value.some((email) => typeof email !== 'string')) {
        fieldErrors.push({ field, message: 'This value should be an array of email addresses.' });
        return [];
      }
      if (value.length > MAILCHIMP_LIMITS.segmentMembers) {
        fieldErrors.push({
          field,
          message: `At most ${MAILCHIMP_LIMITS.segmentMembers} emails per request (got ${value.length}).`,
        });
      }
      return value as string[];
    };
    const toAdd = emails('members_to_add');
    const toRemove = emails('members_to_remove');
    if (toAdd.length === 0 && toRemove.length === 0 && fieldErrors.length === 0) {
      fieldErrors.push({ field: 'members_to_add', message: 'Give members_to_add or members_to_remove.' });
    }
    if (fieldErrors.length > 0) throw invalidResource(fieldErrors);
    const notMembers: string[] = [];
    const membersOf = (emails: string[]): MailchimpStoredMember[] =>
      emails.flatMap((email) => {
        const member = list.members.get(subscriberHash(email));
        if (member === undefined) notMembers.push(email);
        return member === undefined ? [] : [member];
      });
    const added = membersOf(toAdd);
    const removed = membersOf(toRemove);
    for (const member of added) {
      if (!segment.member_ids.includes(member.id)) segment.member_ids.push(member.id);
    }
    const removedIds = new Set(removed.map((member) => member.id));
    segment.member_ids = segment.member_ids.filter((id) => !removedIds.has(id));
    const errors =
      notMembers.length === 0
        ? []
        : [{ email_addresses: notMembers, error: `Email addresses are not members of list ${listId}` }];
    return json(200, {
      members_added: added.map((member) => view(member, listId)),
      members_removed: removed.map((member) => view(member, listId)),
      errors,
      total_added: added.length,
      total_removed: removed.length,
      error_count: notMembers.length,
    });
  }

  private existing(listId: string, hash: string): MailchimpStoredMember {
    const member = this.lists.get(listId)?.members.get(hash);
    if (member === undefined) throw notFound();
    return member;
  }

  private list(listId: string): StoredList {
    let list = this.lists.get(listId);
    if (list === undefined) {
      list = { members: new Map(), segments: new Map(), forgotten: new Set() };
      this.lists.set(listId, list);
    }
    return list;
  }
}

interface MemberInput {
  email_address: string;
  status?: Status;
  status_if_new?: Status;
  merge_fields: Record<string, unknown>;
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
export const BATCH_BODY_FIELDS = ['members', 'sync_tags', 'update_existing'];

/** Errors for the properties of `body` that the published schema does not define. */
export function unknownFieldErrors(body: Record<string, unknown>, known: string[], at: string): FieldError[] {
  return Object.keys(body)
    .filter((name) => !known.includes(name))
    .map((name) => ({
      field: at === '' ? name : `${at}.${name}`,
      message: `${name} is not a field of this request in Mailchimp's published schema.`,
    }));
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
  };
}

/** Why the batch endpoint refuses this member: an existing one without update_existing, a new one without status. */
function batchRefusal(
  list: StoredList,
  input: MemberInput,
  existing: MailchimpStoredMember | undefined,
  updateExisting: boolean,
): MemberRefusal | undefined {
  if (existing !== undefined && !updateExisting) {
    return {
      title: 'Member Exists',
      error: `${input.email_address} is already a list member, do you want to update? please provide update_existing:true in the request body`,
      code: 'ERROR_CONTACT_EXISTS',
    };
  }
  if (existing === undefined && input.status === undefined) {
    return {
      title: 'Invalid Resource',
      error: `${input.email_address} is not a list member yet, and a new member needs a status.`,
      code: 'ERROR_GENERIC',
      field: 'status',
      field_message: 'This value should not be blank.',
    };
  }
  return memberRefusal(list, input, existing);
}

/** Why Mailchimp refuses this member in its current state, or undefined when it takes it. */
function memberRefusal(
  list: StoredList,
  input: MemberInput,
  existing: MailchimpStoredMember | undefined,
): MemberRefusal | undefined {
  const email = input.email_address;
  if (!EMAIL_SHAPE.test(email) || FAKE_DOMAIN.test(email)) {
    return {
      title: 'Invalid Resource',
      error: `${email} looks fake or invalid, please enter a real email address.`,
      code: 'ERROR_GENERIC',
    };
  }
  if (existing === undefined && list.forgotten.has(subscriberHash(email))) {
    return {
      title: 'Forgotten Email Not Subscribed',
      error: `${email} was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.`,
      code: 'ERROR_GENERIC',
    };
  }
  if (existing?.status === 'cleaned' && input.status === 'subscribed') {
    return {
      title: 'Member In Compliance State',
      error: `${email} is already a list member in compliance state due to unsubscribe, bounce, or compliance review.`,
      code: 'ERROR_GENERIC',
    };
  }
  const address = input.merge_fields['ADDRESS'];
  if (address !== undefined && !isCompleteAddress(address)) {
    return {
      title: 'Invalid Resource',
      error: 'Your merge fields were invalid.',
      code: 'ERROR_GENERIC',
      field: 'ADDRESS',
      field_message: 'Please enter a complete address',
    };
  }
  return undefined;
}

function isCompleteAddress(value: unknown): boolean {
  return (
    isRecord(value) &&
    ['addr1', 'city', 'state', 'zip'].every((name) => typeof value[name] === 'string' && value[name] !== '')
  );
}

function upsertMember(
  list: StoredList,
  input: MemberInput,
  existing: MailchimpStoredMember | undefined,
  now: string,
): MailchimpStoredMember {
  const hash = subscriberHash(input.email_address);
  const status =
    existing === undefined ? (input.status ?? input.status_if_new) : (input.status ?? existing.status);
  const member: MailchimpStoredMember = {
    id: hash,
    email_address: existing?.email_address ?? input.email_address,
    status: status ?? 'transactional',
    merge_fields: { ...existing?.merge_fields, ...input.merge_fields },
    tags: existing?.tags ?? [],
    last_changed: now,
  };
  list.members.set(hash, member);
  return member;
}

/** A member as Mailchimp's API returns it (the fields the destination reads, plus a few for realism). */
function view(member: MailchimpStoredMember, listId: string): Record<string, unknown> {
  return {
    id: member.id,
    email_address: member.email_address,
    unique_email_id: member.id.slice(0, 10),
    email_type: 'html',
    status: member.status,
    merge_fields: structuredClone(member.merge_fields),
    tags_count: member.tags.length,
    tags: member.tags.map((name, index) => ({ id: index + 1, name })),
    list_id: listId,
    last_changed: member.last_changed,
  };
}

function allow(method: string, ...allowed: string[]): void {
  if (!allowed.includes(method)) {
    throw new Problem(
      405,
      'Method Not Allowed',
      "The requested method and resource are not compatible. See the Allow header for this resource's available methods.",
    );
  }
}

function parseBody(request: SandboxRequest): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(request.rawBody.toString('utf8'));
  } catch {
    throw new Problem(400, 'JSON Parse Error', 'We encountered an unspecified JSON parsing error.');
  }
  if (!isRecord(body)) throw new Problem(400, 'JSON Parse Error', 'The request body must be a JSON object.');
  return body;
}

function problem(error: Problem): SandboxResponse {
  return {
    status: error.status,
    headers: { 'content-type': 'application/problem+json; charset=utf-8' },
    body: {
      type: PROBLEM_TYPE,
      title: error.title,
      status: error.status,
      detail: error.detail,
      instance: randomUUID(),
      ...(error.errors === undefined ? {} : { errors: error.errors }),
    },
  };
}

function json(status: number, body: unknown): SandboxResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body };
}

function titleOf(status: number): string {
  switch (status) {
    case 400:
      return 'Invalid Resource';
    case 401:
      return 'API Key Invalid';
    case 403:
      return 'Forbidden';
    case 404:
      return 'Resource Not Found';
    case 429:
      return 'Too Many Requests';
    default:
      return status >= 500 ? 'Internal Server Error' : 'Error';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Mailchimp's time format in webhooks: `YYYY-MM-DD HH:MM:SS` (UTC). */
export function mailchimpWebhookTime(atMs: number): string {
  return new Date(atMs).toISOString().slice(0, 19).replace('T', ' ');
}

/** Mailchimp's time format in API answers: ISO 8601 with an offset, no milliseconds. */
function mailchimpTime(atMs: number): string {
  return `${new Date(atMs).toISOString().slice(0, 19)}+00:00`;
}

function mergeEntries(mergeFields: Record<string, unknown>): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const [tag, value] of Object.entries(mergeFields)) {
    if (typeof value === 'string' || typeof value === 'number') entries[`merges][${tag}`] = String(value);
  }
  return entries;
}

/** The form body of a Mailchimp list webhook: `type`, `fired_at` and `data[…]` fields, URL-encoded. */
export function listWebhookBody(type: string, atMs: number, data: Record<string, string>): Buffer {
  const form = new URLSearchParams({ type, fired_at: mailchimpWebhookTime(atMs) });
  for (const [name, value] of Object.entries(data)) form.append(`data[${name}]`, value);
  return Buffer.from(form.toString(), 'utf8');
}
