import type { SandboxResponse } from '@tessera/destination-kit';
import { MAILCHIMP_LIMITS } from '../mailchimp-endpoints';
import { subscriberHash } from '../requests/member-identity';
import {
  type Audience,
  existingMember,
  type KeptMember,
  type MailchimpStoredSegment,
  memberView,
} from './audience-members';
import {
  type FieldError,
  invalidResource,
  isRecord,
  json,
  notFound,
  unknownFieldErrors,
} from './problem-responses';

/*
 * Static segments, which Mailchimp also calls tags: batch add or remove members
 * (POST /lists/{list_id}/segments/{segment_id}, ≤ 500 emails each way), create one
 * (POST /lists/{list_id}/segments), search tags by name (GET /lists/{list_id}/tag-search), and a member's own
 * tags (POST /lists/{list_id}/members/{hash}/tags), which change the same segments.
 */

/** POST /lists/{list_id}/segments/{segment_id}: the addresses that are not members come back in `errors`. */
export function changeStaticSegment(
  audience: Audience,
  segmentId: string,
  body: Record<string, unknown>,
): SandboxResponse {
  const segment = audience.segments.get(segmentId);
  if (segment === undefined) throw notFound();
  const fieldErrors = unknownFieldErrors(body, ['members_to_add', 'members_to_remove'], '');
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
        message: `A maximum of ${MAILCHIMP_LIMITS.segmentMembers} members can be sent (got ${value.length}).`,
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
  const membersOf = (list: string[]): KeptMember[] =>
    list.flatMap((email) => {
      const member = audience.members.get(subscriberHash(email));
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
      : [
          {
            email_addresses: notMembers,
            error: `Email addresses are not members of list ${audience.definition.id}`,
          },
        ];
  return json(200, {
    members_added: added.map((member) => memberView(audience, member)),
    members_removed: removed.map((member) => memberView(audience, member)),
    errors,
    total_added: added.length,
    total_removed: removed.length,
    error_count: notMembers.length,
  });
}

/**
 * POST /lists/{list_id}/segments with `name` and `static_segment` (emails) creates a tag. Saved segments
 * (`options` with conditions) are not kept by the emulator: it refuses them rather than pretend.
 */
export function createSegment(
  audience: Audience,
  body: Record<string, unknown>,
  newId: () => string,
  now: string,
): SandboxResponse {
  const errors: FieldError[] = unknownFieldErrors(body, ['name', 'static_segment', 'options'], '');
  const { name, static_segment: emails } = body;
  if (typeof name !== 'string' || name.trim() === '') {
    errors.push({ field: 'name', message: 'This value should not be blank.' });
  }
  if (body['options'] !== undefined) {
    errors.push({
      field: 'options',
      message: 'The sandbox keeps static segments (tags) only: create a saved segment in Mailchimp itself.',
    });
  }
  if (emails !== undefined && (!Array.isArray(emails) || emails.some((email) => typeof email !== 'string'))) {
    errors.push({ field: 'static_segment', message: 'This value should be an array of email addresses.' });
  }
  if (errors.length > 0 || typeof name !== 'string') throw invalidResource(errors);
  const segment = addSegment(audience, name.trim(), newId());
  for (const email of (emails as string[] | undefined) ?? []) {
    const member = audience.members.get(subscriberHash(email));
    if (member !== undefined && !segment.member_ids.includes(member.id)) segment.member_ids.push(member.id);
  }
  return json(200, segmentView(audience, segment, now));
}

/** GET /lists/{list_id}/tag-search?name=…: the tags whose name contains `name` (all tags without one). */
export function searchTags(audience: Audience, name: string | null): SandboxResponse {
  const query = (name ?? '').toLowerCase();
  const tags = [...audience.segments.values()]
    .filter((segment) => segment.name.toLowerCase().includes(query))
    .map((segment) => ({ id: Number(segment.id), name: segment.name }));
  return json(200, { tags, total_items: tags.length });
}

/** POST /lists/{list_id}/members/{hash}/tags: `active` puts the member in the tag (made when new), `inactive` out. */
export function changeMemberTags(
  audience: Audience,
  hash: string,
  body: Record<string, unknown>,
  newId: () => string,
): SandboxResponse {
  const member = existingMember(audience, hash);
  const tags = body['tags'];
  const errors: FieldError[] = unknownFieldErrors(body, ['tags', 'is_syncing'], '');
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
    let segment = tagNamed(audience, tag.name);
    if (segment === undefined && tag.status === 'active') segment = addSegment(audience, tag.name, newId());
    if (segment === undefined) continue;
    const present = segment.member_ids.includes(member.id);
    if (tag.status === 'active' && !present) segment.member_ids.push(member.id);
    if (tag.status === 'inactive' && present) {
      segment.member_ids = segment.member_ids.filter((id) => id !== member.id);
    }
  }
  return { status: 204 };
}

export function addSegment(audience: Audience, name: string, id: string): MailchimpStoredSegment {
  const segment: MailchimpStoredSegment = { id, name, member_ids: [] };
  audience.segments.set(id, segment);
  return segment;
}

function tagNamed(audience: Audience, name: string): MailchimpStoredSegment | undefined {
  return [...audience.segments.values()].find((segment) => segment.name === name);
}

function segmentView(
  audience: Audience,
  segment: MailchimpStoredSegment,
  now: string,
): Record<string, unknown> {
  return {
    id: Number(segment.id),
    name: segment.name,
    member_count: segment.member_ids.length,
    type: 'static',
    created_at: now,
    updated_at: now,
    list_id: audience.definition.id,
  };
}
