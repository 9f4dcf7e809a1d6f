import type { EmulatorTools, EspEmulator, SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS, type BrazeEndpoint } from '../braze-endpoints';

/** A user as the emulator holds it: identifiers plus every attribute set through /users/track. */
export interface BrazeStoredUser {
  external_id: string;
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
}

export interface BrazeEmulatorOptions {
  /** The only REST API key accepted; any well-formed bearer key when unset. */
  apiKey?: string;
}

const IDENTIFIERS = ['external_id', 'user_alias', 'braze_id', 'email', 'phone'] as const;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
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

  state(): BrazeEmulatorState {
    return structuredClone({
      users: [...this.users.values()],
      emailSubscriptions: Object.fromEntries(this.emailSubscriptions),
      subscriptionGroups: Object.fromEntries(
        [...this.groups].map(([group, members]) => [group, Object.fromEntries(members)]),
      ),
      deletions: this.deletions,
      unsubscribes: this.unsubscribes.map(({ email, unsubscribed_at }) => ({ email, unsubscribed_at })),
    });
  }

  reset(): void {
    this.users.clear();
    this.emailSubscriptions.clear();
    this.groups.clear();
    this.deletions = [];
    this.unsubscribes = [];
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
      const problem = attributeProblem(object);
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

  private applyAttributes(object: Record<string, unknown>): void {
    const externalId = object['external_id'] as string | undefined;
    const key = externalId ?? `email:${String(object['email'] ?? object['phone'] ?? object['braze_id'])}`;
    const user: BrazeStoredUser = this.users.get(key) ?? { external_id: key, attributes: {} };
    for (const [name, value] of Object.entries(object)) {
      if (name === 'external_id' || name === '_update_existing_only') continue;
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

  private emailStatus(body: Record<string, unknown>, tools: EmulatorTools): SandboxResponse {
    const { email, subscription_state: state } = body;
    if (typeof email !== 'string' || !EMAIL.test(email))
      throw new BadRequest("'email' must be an email address");
    if (state !== 'opted_in' && state !== 'subscribed' && state !== 'unsubscribed') {
      throw new BadRequest("'subscription_state' must be one of opted_in, subscribed, unsubscribed");
    }
    if (state === 'unsubscribed' && this.emailSubscriptions.get(email) !== 'unsubscribed') {
      this.markEmailUnsubscribed(email, tools.clock.now());
    }
    this.emailSubscriptions.set(email, state);
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
  if (email !== undefined && email !== null && (typeof email !== 'string' || !EMAIL.test(email))) {
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
