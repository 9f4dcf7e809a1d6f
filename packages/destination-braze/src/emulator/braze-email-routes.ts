import type { Clock, SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS } from '../braze-endpoints';
import { BadRequest, emailList, isRecord, json, success } from './braze-emulator-http';
import type { BrazeWorkspace } from './braze-workspace';

/*
 * The email list and subscription endpoints: /email/status, /email/blocklist and /email/bounce/remove (`email`
 * as one address or an array of up to 50), /v2/subscription/status/set (up to 50 users a request) and the
 * GET /email/unsubscribes poll.
 */

const DATE = /^\d{4}-\d{2}-\d{2}$/;

interface GroupChange {
  id: string;
  state: 'subscribed' | 'unsubscribed';
  ids: string[];
}

interface GroupChange {
  id: string;
  state: 'subscribed' | 'unsubscribed';
  ids: string[];
}

export function emailStatus(
  workspace: BrazeWorkspace,
  body: Record<string, unknown>,
  clock: Pick<Clock, 'now'>,
): SandboxResponse {
  const emails = emailList(body['email'], BRAZE_ENDPOINTS.emailStatus.maxPerRequest);
  const state = body['subscription_state'];
  if (state !== 'opted_in' && state !== 'subscribed' && state !== 'unsubscribed') {
    throw new BadRequest("'subscription_state' must be one of opted_in, subscribed, unsubscribed");
  }
  for (const email of emails) {
    if (state === 'unsubscribed' && workspace.emailSubscriptions.get(email) !== 'unsubscribed') {
      workspace.markEmailUnsubscribed(email, clock.now());
    }
    workspace.emailSubscriptions.set(email, state);
  }
  return success();
}

/** Unsubscribes each address and marks it hard-bounced. */
export function emailBlocklist(
  workspace: BrazeWorkspace,
  body: Record<string, unknown>,
  clock: Pick<Clock, 'now'>,
): SandboxResponse {
  for (const email of emailList(body['email'], BRAZE_ENDPOINTS.emailBlocklist.maxPerRequest)) {
    if (workspace.emailSubscriptions.get(email) !== 'unsubscribed') {
      workspace.markEmailUnsubscribed(email, clock.now());
    }
    workspace.hardBounces.add(email);
  }
  return success();
}

export function emailBounceRemove(workspace: BrazeWorkspace, body: Record<string, unknown>): SandboxResponse {
  for (const email of emailList(body['email'], BRAZE_ENDPOINTS.emailBounceRemove.maxPerRequest)) {
    workspace.hardBounces.delete(email);
  }
  return success();
}

/** Sets members of subscription groups; Braze takes up to 50 users in one request, all groups together. */
export function subscriptionStatusSet(
  workspace: BrazeWorkspace,
  body: Record<string, unknown>,
): SandboxResponse {
  const groups = body['subscription_groups'];
  if (!Array.isArray(groups) || groups.length === 0) {
    throw new BadRequest("'subscription_groups' must be a non-empty array");
  }
  const changes = groups.map((group: unknown, index): GroupChange => {
    const at = `subscription_groups[${index}]`;
    if (!isRecord(group)) throw new BadRequest(`${at} must be an object`);
    const { subscription_group_id: id, subscription_state: state, external_ids: ids } = group;
    if (typeof id !== 'string' || id === '') throw new BadRequest(`${at}.subscription_group_id is required`);
    if (state !== 'subscribed' && state !== 'unsubscribed') {
      throw new BadRequest(`${at}.subscription_state must be subscribed or unsubscribed`);
    }
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((value) => typeof value === 'string')) {
      throw new BadRequest(`${at}.external_ids must be a non-empty array of strings`);
    }
    return { id, state, ids: ids as string[] };
  });
  const users = changes.reduce((sum, change) => sum + change.ids.length, 0);
  const max = BRAZE_ENDPOINTS.subscriptionStatusSet.maxPerRequest;
  if (users > max) {
    throw new BadRequest(`Too many users: ${users} in subscription_groups (maximum is ${max} a request)`);
  }
  for (const { id, state, ids } of changes) {
    const members = workspace.groups.get(id) ?? new Map<string, 'subscribed' | 'unsubscribed'>();
    for (const externalId of ids) members.set(externalId, state);
    workspace.groups.set(id, members);
  }
  return success();
}

/** Opt-outs between two UTC days (end exclusive), newest first unless `sort_direction=asc`, paged. */
export function emailUnsubscribes(workspace: BrazeWorkspace, request: SandboxRequest): SandboxResponse {
  const start = request.query.get('start_date');
  const end = request.query.get('end_date');
  const email = request.query.get('email');
  if (end === null || !DATE.test(end)) throw new BadRequest("'end_date' (YYYY-MM-DD) is required");
  if (email === null && (start === null || !DATE.test(start))) {
    throw new BadRequest("'start_date' (YYYY-MM-DD) or 'email' is required");
  }
  if (start !== null && start >= end) throw new BadRequest("'start_date' must be earlier than 'end_date'");
  const limit = Number(request.query.get('limit') ?? 100);
  const offset = Number(request.query.get('offset') ?? 0);
  const max = BRAZE_ENDPOINTS.emailUnsubscribes.maxPerRequest;
  if (!Number.isInteger(limit) || limit <= 1 || limit > max) {
    throw new BadRequest(`'limit' must be an integer greater than 1 and at most ${max}`);
  }
  if (!Number.isInteger(offset) || offset < 0)
    throw new BadRequest("'offset' must be a non-negative integer");
  const fromMs = start === null ? -Infinity : Date.parse(`${start}T00:00:00Z`);
  const toMs = Date.parse(`${end}T00:00:00Z`);
  let matches = workspace.unsubscribes.filter(
    (entry) => entry.atMs >= fromMs && entry.atMs < toMs && (email === null || entry.email === email),
  );
  if (request.query.get('sort_direction') !== 'asc') matches = [...matches].reverse();
  const emails = matches
    .slice(offset, offset + limit)
    .map(({ email: address, unsubscribed_at }) => ({ email: address, unsubscribed_at }));
  return json(200, { emails, message: 'success' });
}
