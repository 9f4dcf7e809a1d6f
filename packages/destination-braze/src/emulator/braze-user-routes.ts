import type { SandboxResponse } from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS } from '../braze-endpoints';
import { isEmailAddress } from '../requests/email-addresses';
import { BadRequest, idList, isAlias, isRecord, json, success } from './braze-emulator-http';
import { aliasKey, type BrazeStoredUser, type BrazeWorkspace } from './braze-workspace';

/*
 * The user data endpoints: /users/track (per-object failures in a 2xx `errors` array), /users/delete,
 * /users/identify, /users/merge (Braze's field-joining rules) and /users/export/ids. A fatal problem throws
 * BadRequest before anything is applied.
 */

const IDENTIFIERS = ['external_id', 'user_alias', 'braze_id', 'email', 'phone'] as const;

export function usersTrack(workspace: BrazeWorkspace, body: Record<string, unknown>): SandboxResponse {
  const arrays = ['attributes', 'events', 'purchases'] as const;
  for (const field of arrays) {
    if (body[field] !== undefined && !Array.isArray(body[field])) {
      throw new BadRequest(`'${field}' must be an array`);
    }
  }
  if (arrays.every((field) => body[field] === undefined)) {
    throw new BadRequest("Request must contain 'attributes', 'events' or 'purchases'");
  }
  // Braze's current limit counts the three arrays together (75 objects a request).
  const objects = arrays.reduce(
    (sum, field) => sum + ((body[field] as unknown[] | undefined)?.length ?? 0),
    0,
  );
  const max = BRAZE_ENDPOINTS.usersTrack.maxPerRequest;
  if (objects > max) {
    throw new BadRequest(
      `Too many objects: ${objects} in attributes, events and purchases together (maximum is ${max})`,
    );
  }
  const errors: { type: string; input_array: 'attributes'; index: number }[] = [];
  let processed = 0;
  ((body['attributes'] ?? []) as unknown[]).forEach((object, index) => {
    const problem =
      attributeProblem(object) ?? missingAliasUser(workspace, object as Record<string, unknown>);
    if (problem !== undefined) {
      errors.push({ type: problem, input_array: 'attributes', index });
      return;
    }
    applyAttributes(workspace, object as Record<string, unknown>);
    processed++;
  });
  return success(201, { attributes_processed: processed, ...(errors.length > 0 ? { errors } : {}) });
}

export function usersDelete(workspace: BrazeWorkspace, body: Record<string, unknown>): SandboxResponse {
  const ids = idList(body['external_ids'], 'external_ids', BRAZE_ENDPOINTS.usersDelete.maxPerRequest);
  let deleted = 0;
  for (const id of ids) {
    workspace.deletions.push(id);
    if (workspace.users.delete(id)) deleted++;
  }
  return success(201, { deleted });
}

/** Gives alias-only users an external id; with `merge_behavior: merge`, their data joins an existing user. */
export function usersIdentify(workspace: BrazeWorkspace, body: Record<string, unknown>): SandboxResponse {
  const entries = body['aliases_to_identify'];
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new BadRequest("'aliases_to_identify' must be a non-empty array");
  }
  const max = BRAZE_ENDPOINTS.usersIdentify.maxPerRequest;
  if (entries.length > max) {
    throw new BadRequest(`Too many aliases_to_identify: ${entries.length} (maximum is ${max})`);
  }
  const behavior = body['merge_behavior'] ?? 'none';
  if (behavior !== 'none' && behavior !== 'merge') {
    throw new BadRequest("'merge_behavior' must be 'none' or 'merge'");
  }
  for (const [index, entry] of entries.entries()) {
    if (!isRecord(entry) || typeof entry['external_id'] !== 'string' || entry['external_id'] === '') {
      throw new BadRequest(`aliases_to_identify[${index}].external_id must be a non-empty string`);
    }
    if (!isAlias(entry['user_alias'])) {
      throw new BadRequest(`aliases_to_identify[${index}].user_alias needs alias_name and alias_label`);
    }
  }
  let processed = 0;
  for (const entry of entries as {
    external_id: string;
    user_alias: { alias_name: string; alias_label: string };
  }[]) {
    const key = aliasKey(entry.user_alias.alias_name, entry.user_alias.alias_label);
    const guest = workspace.users.get(key);
    if (guest === undefined) continue;
    workspace.users.delete(key);
    const known = workspace.users.get(entry.external_id);
    if (known === undefined) {
      workspace.users.set(entry.external_id, { ...guest, external_id: entry.external_id });
    } else {
      known.user_aliases = [...(known.user_aliases ?? []), ...(guest.user_aliases ?? [])];
      if (behavior === 'merge') joinInto(known, guest);
    }
    workspace.merges.push({ kind: 'identify', merged: key, kept: entry.external_id });
    processed++;
  }
  return success(201, { aliases_processed: processed });
}

/** Braze's own error messages for /users/merge (its documented error table). */
export const USERS_MERGE_ERRORS = {
  notObjects: "'merge_updates' must be an array of objects",
  tooMany: 'a single request may not contain more than 50 merge updates',
  identifiers:
    "identifiers must be objects with an 'external_id' property that is a string, or 'user_alias' property that is an object",
  onlyTwo: "'merge_updates' must only have 'identifier_to_merge' and 'identifier_to_keep'",
} as const;

/** Merges one user into another: fields missing on the kept user are taken, the merged one is gone. */
export function usersMerge(workspace: BrazeWorkspace, body: Record<string, unknown>): SandboxResponse {
  const updates = body['merge_updates'];
  if (!Array.isArray(updates) || updates.length === 0 || !updates.every(isRecord)) {
    throw new BadRequest(USERS_MERGE_ERRORS.notObjects);
  }
  if (updates.length > BRAZE_ENDPOINTS.usersMerge.maxPerRequest)
    throw new BadRequest(USERS_MERGE_ERRORS.tooMany);
  const pairs = updates.map((update) => {
    if (Object.keys(update).some((key) => key !== 'identifier_to_merge' && key !== 'identifier_to_keep')) {
      throw new BadRequest(USERS_MERGE_ERRORS.onlyTwo);
    }
    const merged = userKeyOf(update['identifier_to_merge']);
    const kept = userKeyOf(update['identifier_to_keep']);
    if (merged === undefined || kept === undefined) throw new BadRequest(USERS_MERGE_ERRORS.identifiers);
    return { merged, kept };
  });
  for (const { merged, kept } of pairs) {
    const from = workspace.users.get(merged);
    const into = workspace.users.get(kept);
    if (from === undefined || into === undefined) continue;
    joinInto(into, from);
    workspace.users.delete(merged);
    workspace.merges.push({ kind: 'merge', merged, kept });
  }
  return success(202);
}

export function usersExportIds(workspace: BrazeWorkspace, body: Record<string, unknown>): SandboxResponse {
  const ids = body['external_ids'];
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
    throw new BadRequest("'external_ids' must be an array of strings");
  }
  const max = BRAZE_ENDPOINTS.usersExportIds.maxPerRequest;
  if (ids.length > max) throw new BadRequest(`Too many external_ids: ${ids.length} (maximum is ${max})`);
  // Required for workspaces onboarded since 22 Aug 2024 (the stricter rule, like the 250 a minute).
  const fields = body['fields_to_export'];
  if (!Array.isArray(fields) || !fields.every((field) => typeof field === 'string')) {
    throw new BadRequest("'fields_to_export' must be an array of field names");
  }
  const users: Record<string, unknown>[] = [];
  const invalid: string[] = [];
  for (const id of ids as string[]) {
    const user = workspace.users.get(id);
    if (user === undefined) {
      invalid.push(id);
      continue;
    }
    const { first_name, last_name, ...custom } = user.attributes;
    const email = user.email === undefined ? undefined : workspace.emailSubscriptions.get(user.email);
    const exported: Record<string, unknown> = {
      external_id: id,
      braze_id: `braze-${id}`,
      email: user.email,
      phone: user.phone,
      first_name,
      last_name,
      email_subscribe: email ?? 'subscribed',
      custom_attributes: custom,
    };
    users.push(
      Object.fromEntries(
        Object.entries(exported).filter(
          ([name, value]) => value !== undefined && (fields === undefined || fields.includes(name)),
        ),
      ),
    );
  }
  return json(201, {
    users,
    ...(invalid.length > 0 ? { invalid_user_ids: invalid } : {}),
    message: 'success',
  });
}

/** Why Braze would skip this attribute object, or undefined when it is processed. */
function attributeProblem(object: unknown): string | undefined {
  if (!isRecord(object)) return 'Attributes object must be an object';
  const identifiers = IDENTIFIERS.filter((name) => object[name] !== undefined);
  if (identifiers.length === 0) {
    return "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required";
  }
  const externalId = object['external_id'];
  if (externalId !== undefined && (typeof externalId !== 'string' || externalId === '')) {
    return "'external_id' must be a non-empty string";
  }
  const email = object['email'];
  if (email !== undefined && email !== null && !isEmailAddress(email)) {
    return `Invalid 'email' ${JSON.stringify(email)}`;
  }
  for (const [name, value] of Object.entries(object)) {
    if (isArrayOperation(value)) {
      const lists = [value.add, value.remove].filter((list) => list !== undefined);
      if (!lists.every((list) => Array.isArray(list))) {
        return `Array operation on '${name}' must use arrays for 'add' and 'remove'`;
      }
    }
  }
  return undefined;
}

/** Braze updates an alias-only user only when it exists, unless `_update_existing_only` is false. */
function missingAliasUser(workspace: BrazeWorkspace, object: Record<string, unknown>): string | undefined {
  const alias = object['user_alias'];
  if (!isAlias(alias) || object['external_id'] !== undefined) return undefined;
  if (object['_update_existing_only'] === false) return undefined;
  if (workspace.users.has(aliasKey(alias.alias_name, alias.alias_label))) return undefined;
  return "No user with this user_alias; set '_update_existing_only' to false to create one";
}

function applyAttributes(workspace: BrazeWorkspace, object: Record<string, unknown>): void {
  const externalId = object['external_id'] as string | undefined;
  const alias = object['user_alias'];
  const key =
    externalId ??
    (isAlias(alias)
      ? aliasKey(alias.alias_name, alias.alias_label)
      : `email:${String(object['email'] ?? object['phone'] ?? object['braze_id'])}`);
  const fresh: BrazeStoredUser =
    externalId === undefined && isAlias(alias)
      ? { user_aliases: [{ alias_name: alias.alias_name, alias_label: alias.alias_label }], attributes: {} }
      : { external_id: key, attributes: {} };
  const user: BrazeStoredUser = workspace.users.get(key) ?? fresh;
  for (const [name, value] of Object.entries(object)) {
    if (name === 'external_id' || name === 'user_alias' || name === '_update_existing_only') continue;
    if (name === 'email' || name === 'phone') {
      user[name] = value as string;
    } else if (isArrayOperation(value)) {
      const current = Array.isArray(user.attributes[name]) ? (user.attributes[name] as unknown[]) : [];
      const added = [...current, ...(value.add ?? []).filter((item) => !current.includes(item))];
      const removed = new Set(value.remove ?? []);
      user.attributes[name] = added.filter((item) => !removed.has(item as string));
    } else if (value === null) {
      delete user.attributes[name];
    } else {
      user.attributes[name] = value;
    }
  }
  workspace.users.set(key, user);
}

/** The workspace key of a merge identifier: its external id, or its user alias. */
function userKeyOf(identifier: unknown): string | undefined {
  if (!isRecord(identifier)) return undefined;
  const id = identifier['external_id'];
  if (typeof id === 'string' && id !== '') return id;
  const alias = identifier['user_alias'];
  return isAlias(alias) ? aliasKey(alias.alias_name, alias.alias_label) : undefined;
}

/** What Braze's merge keeps: every field of `from` the kept user lacks (custom attributes included). */
function joinInto(into: BrazeStoredUser, from: BrazeStoredUser): void {
  if (into.email === undefined && from.email !== undefined) into.email = from.email;
  if (into.phone === undefined && from.phone !== undefined) into.phone = from.phone;
  into.attributes = { ...from.attributes, ...into.attributes };
}

function isArrayOperation(value: unknown): value is { add?: string[]; remove?: string[] } {
  return isRecord(value) && ('add' in value || 'remove' in value);
}
