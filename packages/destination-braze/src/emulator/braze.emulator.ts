import type { EmulatorTools, EspEmulator, SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS, type BrazeEndpoint } from '../braze-endpoints';
import { isEmailAddress } from '../requests/email-addresses';

/** A user as the emulator holds it: identifiers plus every attribute set through /users/track. */
export interface BrazeStoredUser {
  /** Unset for an alias-only user (a guest). */
  external_id?: string;
  user_aliases?: { alias_name: string; alias_label: string }[];
  email?: string;
  phone?: string;
  attributes: Record<string, unknown>;
}

export interface BrazeEmulatorState {
  users: BrazeStoredUser[];
  /** Global email subscription state by address. */
  emailSubscriptions: Record<string, 'opted_in' | 'subscribed' | 'unsubscribed'>;
  /** Subscription group id → external id → state. */
  subscriptionGroups: Record<string, Record<string, 'subscribed' | 'unsubscribed'>>;
  /** External ids deleted through /users/delete, in order. */
  deletions: string[];
  /** What GET /email/unsubscribes reports, oldest first. */
  unsubscribes: { email: string; unsubscribed_at: string }[];
  /** Emails marked hard-bounced (by /email/blocklist), until /email/bounce/remove. */
  hardBounces: string[];
  /** Irreversible joins, in order: aliases identified and users merged. */
  merges: { kind: 'identify' | 'merge'; merged: string; kept: string }[];
}

export interface BrazeEmulatorOptions {
  /** The only REST API key accepted; any well-formed bearer key when unset. */
  apiKey?: string;
}

const IDENTIFIERS = ['external_id', 'user_alias', 'braze_id', 'email', 'phone'] as const;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

class BadRequest extends Error {
  constructor(
    message: string,
    readonly errors: string[] = [message],
  ) {
    super(message);
  }
}

/**
 * A local stand-in for Braze's REST API, mounted by the sandbox at `/sandbox/braze`. It checks the bearer
 * key (401 `{ message }`), validates bodies (400 `{ message, errors }`), enforces the 75-object limit of
 * /users/track and every endpoint's rate limit (429 with Retry-After), answers /users/track's per-object
 * failures in a 2xx `errors` array like Braze does, and keeps what it accepted for `state()`.
 */
export class BrazeEmulator implements EspEmulator {
  readonly esp = 'braze';
  private users = new Map<string, BrazeStoredUser>();
  private emailSubscriptions = new Map<string, 'opted_in' | 'subscribed' | 'unsubscribed'>();
  private groups = new Map<string, Map<string, 'subscribed' | 'unsubscribed'>>();
  private deletions: string[] = [];
  private unsubscribes: { email: string; unsubscribed_at: string; atMs: number }[] = [];
  private hardBounces = new Set<string>();
  private merges: BrazeEmulatorState['merges'] = [];

  constructor(private readonly options: BrazeEmulatorOptions = {}) {}

  handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    const refused = this.authenticate(request);
    if (refused !== undefined) return refused;
    const route = (Object.entries(BRAZE_ENDPOINTS) as [string, BrazeEndpoint][]).find(
      ([, endpoint]) => endpoint.method === request.method && endpoint.path === request.path,
    );
    if (route === undefined) return this.errorResponse(404, `No route ${request.method} ${request.path}`);
    const [name, endpoint] = route;
    const waitMs = tools.rateLimit(name, endpoint.rateLimits);
    if (waitMs !== undefined) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      return {
        ...this.errorResponse(429, `API rate limit exceeded; retry in ${seconds} second(s)`),
        headers: { 'content-type': 'application/json', 'retry-after': String(seconds) },
      };
    }
    try {
      if (request.method === 'GET') return this.emailUnsubscribes(request);
      const body = parseJson(request);
      switch (name) {
        case 'usersTrack':
          return this.usersTrack(body);
        case 'usersDelete':
          return this.usersDelete(body);
        case 'usersIdentify':
          return this.usersIdentify(body);
        case 'usersMerge':
          return this.usersMerge(body);
        case 'usersExportIds':
          return this.usersExportIds(body);
        case 'emailBlocklist':
          return this.emailBlocklist(body, tools);
        case 'emailBounceRemove':
          return this.emailBounceRemove(body);
        case 'emailStatus':
          return this.emailStatus(body, tools);
        default:
          return this.subscriptionStatusSet(body);
      }
    } catch (error) {
      if (!(error instanceof BadRequest)) throw error;
      return {
        status: 400,
        headers: { 'content-type': 'application/json' },
        body: { message: error.message, errors: error.errors },
      };
    }
  }

  errorResponse(status: number, message: string): SandboxResponse {
    return { status, headers: { 'content-type': 'application/json' }, body: { message } };
  }

  /** Records an opt-out as if the member clicked unsubscribe in a Braze email (for poll tests and the demo). */
  markEmailUnsubscribed(email: string, atMs: number): void {
    this.emailSubscriptions.set(email, 'unsubscribed');
    this.unsubscribes.push({ email, unsubscribed_at: brazeTime(atMs), atMs });
    this.unsubscribes.sort((a, b) => a.atMs - b.atMs);
  }

  user(externalId: string): BrazeStoredUser | undefined {
    const user = this.users.get(externalId);
    return user === undefined ? undefined : structuredClone(user);
  }

  /** The alias-only user (guest) with this alias, if any. */
  aliasUser(aliasName: string, aliasLabel: string): BrazeStoredUser | undefined {
    const user = this.users.get(aliasKey(aliasName, aliasLabel));
    return user === undefined ? undefined : structuredClone(user);
  }

  state(): BrazeEmulatorState {
    return structuredClone({
      users: [...this.users.values()],
      emailSubscriptions: Object.fromEntries(this.emailSubscriptions),
      subscriptionGroups: Object.fromEntries(
        [...this.groups].map(([group, members]) => [group, Object.fromEntries(members)]),
      ),
      deletions: this.deletions,
      unsubscribes: this.unsubscribes.map(({ email, unsubscribed_at }) => ({ email, unsubscribed_at })),
      hardBounces: [...this.hardBounces],
      merges: this.merges,
    });
  }

  reset(): void {
    this.users.clear();
    this.emailSubscriptions.clear();
    this.groups.clear();
    this.deletions = [];
    this.unsubscribes = [];
    this.hardBounces.clear();
    this.merges = [];
  }

  private authenticate(request: SandboxRequest): SandboxResponse | undefined {
    const header = request.headers['authorization'] ?? '';
    const key = /^Bearer (\S+)$/.exec(header)?.[1];
    if (key === undefined) return this.errorResponse(401, 'Invalid API key: missing Bearer token');
    if (this.options.apiKey !== undefined && key !== this.options.apiKey) {
      return this.errorResponse(401, `Invalid API key: ${key.slice(0, 4)}…`);
    }
    return undefined;
  }

  private usersTrack(body: Record<string, unknown>): SandboxResponse {
    const attributes = body['attributes'];
    for (const field of ['events', 'purchases']) {
      if (body[field] !== undefined && !Array.isArray(body[field])) {
        throw new BadRequest(`'${field}' must be an array`);
      }
    }
    if (attributes === undefined && body['events'] === undefined && body['purchases'] === undefined) {
      throw new BadRequest("Request must contain 'attributes', 'events' or 'purchases'");
    }
    if (attributes !== undefined && !Array.isArray(attributes)) {
      throw new BadRequest("'attributes' must be an array");
    }
    const list = (attributes ?? []) as unknown[];
    const max = BRAZE_ENDPOINTS.usersTrack.maxPerRequest;
    if (list.length > max) {
      throw new BadRequest(`Too many attributes objects: ${list.length} (maximum is ${max})`);
    }
    const errors: { type: string; input_array: 'attributes'; index: number }[] = [];
    let processed = 0;
    list.forEach((object, index) => {
      const problem = attributeProblem(object) ?? this.missingAliasUser(object as Record<string, unknown>);
      if (problem !== undefined) {
        errors.push({ type: problem, input_array: 'attributes', index });
        return;
      }
      this.applyAttributes(object as Record<string, unknown>);
      processed++;
    });
    return {
      status: 201,
      headers: { 'content-type': 'application/json' },
      body: { attributes_processed: processed, message: 'success', ...(errors.length > 0 ? { errors } : {}) },
    };
  }

  /** Braze updates an alias-only user only when it exists, unless `_update_existing_only` is false. */
  private missingAliasUser(object: Record<string, unknown>): string | undefined {
    const alias = object['user_alias'];
    if (!isAlias(alias) || object['external_id'] !== undefined) return undefined;
    if (object['_update_existing_only'] === false) return undefined;
    if (this.users.has(aliasKey(alias.alias_name, alias.alias_label))) return undefined;
    return "No user with this user_alias; set '_update_existing_only' to false to create one";
  }

  private applyAttributes(object: Record<string, unknown>): void {
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
    const user: BrazeStoredUser = this.users.get(key) ?? fresh;
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
    this.users.set(key, user);
  }

  private usersDelete(body: Record<string, unknown>): SandboxResponse {
    const ids = body['external_ids'];
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string' && id !== '')) {
      throw new BadRequest("'external_ids' must be a non-empty array of strings");
    }
    const max = BRAZE_ENDPOINTS.usersDelete.maxPerRequest;
    if (ids.length > max) throw new BadRequest(`Too many external_ids: ${ids.length} (maximum is ${max})`);
    let deleted = 0;
    for (const id of ids as string[]) {
      this.deletions.push(id);
      if (this.users.delete(id)) deleted++;
    }
    return {
      status: 201,
      headers: { 'content-type': 'application/json' },
      body: { deleted, message: 'success' },
    };
  }

  /** Gives alias-only users an external id; with `merge_behavior: merge`, their data joins an existing user. */
  private usersIdentify(body: Record<string, unknown>): SandboxResponse {
    const entries = body['aliases_to_identify'];
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new BadRequest("'aliases_to_identify' must be a non-empty array");
    }
    const max = BRAZE_ENDPOINTS.usersIdentify.maxPerRequest;
    if (entries.length > max)
      throw new BadRequest(`Too many aliases_to_identify: ${entries.length} (maximum is ${max})`);
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
      const guest = this.users.get(key);
      if (guest === undefined) continue;
      this.users.delete(key);
      const known = this.users.get(entry.external_id);
      if (known === undefined) {
        this.users.set(entry.external_id, { ...guest, external_id: entry.external_id });
      } else {
        known.user_aliases = [...(known.user_aliases ?? []), ...(guest.user_aliases ?? [])];
        if (behavior === 'merge') joinInto(known, guest);
      }
      this.merges.push({ kind: 'identify', merged: key, kept: entry.external_id });
      processed++;
    }
    return {
      status: 201,
      headers: { 'content-type': 'application/json' },
      body: { aliases_processed: processed, message: 'success' },
    };
  }

  /** Merges one identified user into another: fields missing on the kept user are taken, the other is gone. */
  private usersMerge(body: Record<string, unknown>): SandboxResponse {
    const updates = body['merge_updates'];
    if (!Array.isArray(updates) || updates.length === 0) {
      throw new BadRequest("'merge_updates' must be a non-empty array");
    }
    const max = BRAZE_ENDPOINTS.usersMerge.maxPerRequest;
    if (updates.length > max)
      throw new BadRequest(`Too many merge_updates: ${updates.length} (maximum is ${max})`);
    const pairs = updates.map((update, index) => {
      const merged = isRecord(update) ? externalIdOf(update['identifier_to_merge']) : undefined;
      const kept = isRecord(update) ? externalIdOf(update['identifier_to_keep']) : undefined;
      if (merged === undefined || kept === undefined) {
        throw new BadRequest(`merge_updates[${index}] needs identifier_to_merge and identifier_to_keep`);
      }
      return { merged, kept };
    });
    for (const { merged, kept } of pairs) {
      const from = this.users.get(merged);
      const into = this.users.get(kept);
      if (from === undefined || into === undefined) continue;
      joinInto(into, from);
      this.users.delete(merged);
      this.merges.push({ kind: 'merge', merged, kept });
    }
    return { status: 202, headers: { 'content-type': 'application/json' }, body: { message: 'success' } };
  }

  private usersExportIds(body: Record<string, unknown>): SandboxResponse {
    const ids = body['external_ids'];
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
      throw new BadRequest("'external_ids' must be an array of strings");
    }
    const max = BRAZE_ENDPOINTS.usersExportIds.maxPerRequest;
    if (ids.length > max) throw new BadRequest(`Too many external_ids: ${ids.length} (maximum is ${max})`);
    const fields = Array.isArray(body['fields_to_export'])
      ? (body['fields_to_export'] as string[])
      : undefined;
    const users: Record<string, unknown>[] = [];
    const invalid: string[] = [];
    for (const id of ids as string[]) {
      const user = this.users.get(id);
      if (user === undefined) {
        invalid.push(id);
        continue;
      }
      const { first_name, last_name, ...custom } = user.attributes;
      const email = user.email === undefined ? undefined : this.emailSubscriptions.get(user.email);
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
    return {
      status: 201,
      headers: { 'content-type': 'application/json' },
      body: { users, ...(invalid.length > 0 ? { invalid_user_ids: invalid } : {}), message: 'success' },
    };
  }

  private emailBlocklist(body: Record<string, unknown>, tools: EmulatorTools): SandboxResponse {
    const emails = emailList(body['email'], BRAZE_ENDPOINTS.emailBlocklist.maxPerRequest);
    for (const email of emails) {
      if (this.emailSubscriptions.get(email) !== 'unsubscribed')
        this.markEmailUnsubscribed(email, tools.clock.now());
      this.hardBounces.add(email);
    }
    return { status: 201, headers: { 'content-type': 'application/json' }, body: { message: 'success' } };
  }

  private emailBounceRemove(body: Record<string, unknown>): SandboxResponse {
    for (const email of emailList(body['email'], BRAZE_ENDPOINTS.emailBounceRemove.maxPerRequest))
      this.hardBounces.delete(email);
    return { status: 201, headers: { 'content-type': 'application/json' }, body: { message: 'success' } };
  }

  private emailStatus(body: Record<string, unknown>, tools: EmulatorTools): SandboxResponse {
    const emails = emailList(body['email'], BRAZE_ENDPOINTS.emailStatus.maxPerRequest);
    const state = body['subscription_state'];
    if (state !== 'opted_in' && state !== 'subscribed' && state !== 'unsubscribed') {
      throw new BadRequest("'subscription_state' must be one of opted_in, subscribed, unsubscribed");
    }
    for (const email of emails) {
      if (state === 'unsubscribed' && this.emailSubscriptions.get(email) !== 'unsubscribed') {
        this.markEmailUnsubscribed(email, tools.clock.now());
      }
      this.emailSubscriptions.set(email, state);
    }
    return { status: 201, headers: { 'content-type': 'application/json' }, body: { message: 'success' } };
  }

  private subscriptionStatusSet(body: Record<string, unknown>): SandboxResponse {
    const groups = body['subscription_groups'];
    if (!Array.isArray(groups) || groups.length === 0) {
      throw new BadRequest("'subscription_groups' must be a non-empty array");
    }
    for (const [index, group] of groups.entries()) {
      const at = `subscription_groups[${index}]`;
      if (!isRecord(group)) throw new BadRequest(`${at} must be an object`);
      const { subscription_group_id: id, subscription_state: state, external_ids: ids } = group;
      if (typeof id !== 'string' || id === '')
        throw new BadRequest(`${at}.subscription_group_id is required`);
      if (state !== 'subscribed' && state !== 'unsubscribed') {
        throw new BadRequest(`${at}.subscription_state must be subscribed or unsubscribed`);
      }
      if (!Array.isArray(ids) || ids.length === 0 || !ids.every((value) => typeof value === 'string')) {
        throw new BadRequest(`${at}.external_ids must be a non-empty array of strings`);
      }
      const max = BRAZE_ENDPOINTS.subscriptionStatusSet.maxPerRequest;
      if (ids.length > max) throw new BadRequest(`${at}.external_ids holds more than ${max} ids`);
      const members = this.groups.get(id) ?? new Map<string, 'subscribed' | 'unsubscribed'>();
      for (const externalId of ids as string[]) members.set(externalId, state);
      this.groups.set(id, members);
    }
    return { status: 201, headers: { 'content-type': 'application/json' }, body: { message: 'success' } };
  }

  private emailUnsubscribes(request: SandboxRequest): SandboxResponse {
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
    let matches = this.unsubscribes.filter(
      (entry) => entry.atMs >= fromMs && entry.atMs < toMs && (email === null || entry.email === email),
    );
    if (request.query.get('sort_direction') !== 'asc') matches = [...matches].reverse();
    const emails = matches
      .slice(offset, offset + limit)
      .map(({ email: address, unsubscribed_at }) => ({ email: address, unsubscribed_at }));
    return {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: { emails, message: 'success' },
    };
  }
}

function parseJson(request: SandboxRequest): Record<string, unknown> {
  if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
    throw new BadRequest('Content-Type must be application/json');
  }
  let body: unknown;
  try {
    body = JSON.parse(request.rawBody.toString('utf8'));
  } catch {
    throw new BadRequest('Received unparsable JSON body');
  }
  if (!isRecord(body)) throw new BadRequest('Request body must be a JSON object');
  return body;
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
    if (isRecord(value) && ('add' in value || 'remove' in value)) {
      const lists = [value['add'], value['remove']].filter((list) => list !== undefined);
      if (!lists.every((list) => Array.isArray(list))) {
        return `Array operation on '${name}' must use arrays for 'add' and 'remove'`;
      }
    }
  }
  return undefined;
}

function aliasKey(name: string, label: string): string {
  return `alias:${label}:${name}`;
}

function isAlias(value: unknown): value is { alias_name: string; alias_label: string } {
  return (
    isRecord(value) && typeof value['alias_name'] === 'string' && typeof value['alias_label'] === 'string'
  );
}

function externalIdOf(identifier: unknown): string | undefined {
  const id = isRecord(identifier) ? identifier['external_id'] : undefined;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** What Braze's merge keeps: every field of `from` the kept user lacks (custom attributes included). */
function joinInto(into: BrazeStoredUser, from: BrazeStoredUser): void {
  if (into.email === undefined && from.email !== undefined) into.email = from.email;
  if (into.phone === undefined && from.phone !== undefined) into.phone = from.phone;
  into.attributes = { ...from.attributes, ...into.attributes };
}

/** `email` as Braze takes it: one address or an array of up to `max`. */
function emailList(value: unknown, max: number): string[] {
  const emails = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(emails) || emails.length === 0 || !emails.every((email) => isEmailAddress(email))) {
    throw new BadRequest("'email' must be an email address or an array of email addresses");
  }
  if (emails.length > max) throw new BadRequest(`Too many emails: ${emails.length} (maximum is ${max})`);
  return emails as string[];
}

function isArrayOperation(value: unknown): value is { add?: string[]; remove?: string[] } {
  return isRecord(value) && ('add' in value || 'remove' in value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Braze's timestamp format in /email/unsubscribes: `2016-08-25 15:24:32 +0000`. */
function brazeTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} +0000`;
}
