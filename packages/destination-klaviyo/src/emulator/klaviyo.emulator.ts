import { createHash } from 'node:crypto';
import type {
  Clock,
  EmulatorTools,
  EspEmulator,
  SandboxRequest,
  SandboxResponse,
} from '@tessera/destination-kit';
import { KLAVIYO_ENDPOINTS, KLAVIYO_LIMITS, type KlaviyoRateLimit } from '../klaviyo-endpoints';
import { JSON_API, KlaviyoApiError, throttledError } from './klaviyo-errors';
import { FilterError, matchesAll, parseProfileFilter, type ProfileCondition } from './klaviyo-filter';
import {
  bodyChecker,
  bulkImportSchema,
  deletionSchema,
  listCreateSchema,
  listMembersSchema,
  profileImportSchema,
  profileUpdateSchema,
  subscribeSchema,
  suppressSchema,
  unsubscribeSchema,
  unsuppressSchema,
} from './klaviyo-schemas';
import {
  checkIdentifiers,
  iso,
  jobState,
  KlaviyoStore,
  profileView,
  type ChannelConsent,
  type JobRecord,
  type ProfileRecord,
  type ProfileView,
  type ProfileUpsertInput,
} from './klaviyo-store';
import { buildUnsubscribeWebhook, type SignedWebhook } from './klaviyo-webhook';

export interface KlaviyoEmulatorOptions {
  /** A bulk import job completes this long after creation (at the first request after that). Default 0. */
  jobCompletionMs?: number;
  /** Lists that exist from the start (and again after `reset()`). */
  lists?: ReadonlyArray<{ id: string; name: string }>;
  /**
   * Prefix of the absolute links Klaviyo puts in responses (`links.self`, `links.next`). Default: from the
   * request's `host` header, `http://<host>/sandbox/klaviyo`; without one, `/sandbox/klaviyo`.
   */
  linkBase?: string;
}

/** Klaviyo's published limits per endpoint (the table the contract test checks against the spec files). */
type Limits = KlaviyoRateLimit;
const PROFILES: Limits = KLAVIYO_ENDPOINTS.profiles.limit;
const BULK_IMPORT: Limits = KLAVIYO_ENDPOINTS.bulkImportJobs.limit;
const LIST_RELATIONSHIPS: Limits = KLAVIYO_ENDPOINTS.listAdd.limit;
const SUBSCRIPTIONS: Limits = KLAVIYO_ENDPOINTS.subscribe.limit;
const DELETION: Limits = KLAVIYO_ENDPOINTS.deletion.limit;
// Lists are not an endpoint the destination calls: Klaviyo's published limits for create and read.
const LIST_CREATE: Limits = { burst: 10, steady: 150 };
const LIST_READ: Limits = { burst: 75, steady: 750 };

const KB = 1024;
const MB = 1024 * KB;

const MAX_BULK_IMPORT = KLAVIYO_LIMITS.bulkImportProfiles;
const MAX_LIST_MEMBERS = KLAVIYO_LIMITS.listRelationshipProfiles;
const MAX_SUBSCRIBE = KLAVIYO_LIMITS.subscribeProfiles;
const MAX_UNSUBSCRIBE = KLAVIYO_LIMITS.unsubscribeProfiles;
const MAX_SUPPRESS = KLAVIYO_LIMITS.suppressionProfiles;

interface Context {
  request: SandboxRequest;
  now: number;
  params: string[];
  body: unknown;
  base: string;
}

interface Route {
  name: string;
  method: string;
  pattern: RegExp;
  limits: Limits;
  /** Whether the request carries a JSON body (content type and parse checks apply). */
  hasBody: boolean;
  maxBytes?: number;
  handle(context: Context): SandboxResponse;
}

// Shapes of the validated request bodies (the schemas in klaviyo-schemas.ts guarantee them).
interface ProfileDocument {
  data: ProfileUpsertInput;
}
interface BulkImportDocument {
  data: {
    type: string;
    attributes: { profiles: { data: ProfileUpsertInput[] } };
    relationships?: { lists?: { data?: Array<{ type: 'list'; id: string }> } };
  };
}
interface ListCreateDocument {
  data: { type: 'list'; attributes: { name: string } };
}
interface ListMembersDocument {
  data: Array<{ type: 'profile'; id: string }>;
}
interface ConsentInput {
  consent: string;
  consented_at?: string | null;
}
interface ChannelsInput {
  email?: { marketing?: ConsentInput | null } | null;
  sms?: { marketing?: ConsentInput | null } | null;
}
interface SubscriptionDocument {
  data: {
    type: string;
    attributes: {
      historical_import?: boolean | null;
      profiles: {
        data: Array<{
          type: 'profile';
          id?: string | null;
          attributes: { email?: string | null; phone_number?: string | null; subscriptions: ChannelsInput };
        }>;
      };
    };
    relationships?: { list?: { data?: { type: 'list'; id: string } } };
  };
}
interface SuppressionDocument {
  data: {
    type: string;
    attributes: { profiles?: { data: Array<{ type: 'profile'; attributes: { email: string } }> } | null };
    relationships?: {
      list?: { data?: { type: 'list'; id: string } };
      segment?: { data?: { type: 'segment'; id: string } };
    };
  };
}
interface DeletionDocument {
  data: {
    type: string;
    attributes: {
      profile: {
        data: {
          type: 'profile';
          id?: string | null;
          attributes: { email?: string | null; phone_number?: string | null };
        };
      };
    };
  };
}

const checkProfileImport = bodyChecker<ProfileDocument>(profileImportSchema);
const checkProfileUpdate = bodyChecker<ProfileDocument & { data: { id: string } }>(profileUpdateSchema);
const checkBulkImport = bodyChecker<BulkImportDocument>(bulkImportSchema);
const checkListCreate = bodyChecker<ListCreateDocument>(listCreateSchema);
const checkListMembers = bodyChecker<ListMembersDocument>(listMembersSchema);
const checkSubscribe = bodyChecker<SubscriptionDocument>(subscribeSchema);
const checkUnsubscribe = bodyChecker<SubscriptionDocument>(unsubscribeSchema);
const checkSuppress = bodyChecker<SuppressionDocument>(suppressSchema);
const checkUnsuppress = bodyChecker<SuppressionDocument>(unsuppressSchema);
const checkDeletion = bodyChecker<DeletionDocument>(deletionSchema);

const REVISION = /^\d{4}-\d{2}-\d{2}(\.(pre|beta))?$/;
const ID = '([^/]+)';

function json(status: number, body: unknown, headers: Record<string, string> = {}): SandboxResponse {
  return { status, headers: { 'content-type': JSON_API, ...headers }, body };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Length of the array at `path` inside an unvalidated body (size limits are checked before the schema). */
function arrayLength(body: unknown, path: readonly string[]): number | undefined {
  let current: unknown = body;
  for (const key of path) current = isRecord(current) ? current[key] : undefined;
  return Array.isArray(current) ? current.length : undefined;
}

function tooMany(body: unknown, path: readonly string[], max: number, what: string): void {
  const count = arrayLength(body, path);
  if (count !== undefined && count > max) {
    throw new KlaviyoApiError(400, `A maximum of ${max} ${what} is allowed per request; got ${count}.`, {
      pointer: `/${path.join('/')}`,
    });
  }
}

/** Opaque offset cursors (Klaviyo's are opaque too). */
function encodeCursor(offset: number): string {
  return Buffer.from(`offset:${offset}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string | null): number {
  if (cursor === null) return 0;
  const match = /^offset:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match === null) throw new KlaviyoApiError(400, 'Invalid page cursor.', { parameter: 'page[cursor]' });
  return Number(match[1]);
}

function pageSize(query: URLSearchParams): number {
  const raw = query.get('page[size]');
  if (raw === null) return 20;
  const size = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(size >= 1 && size <= 100)) {
    throw new KlaviyoApiError(400, `Invalid page size '${raw}': it must be an integer from 1 to 100.`, {
      parameter: 'page[size]',
    });
  }
  return size;
}

function pageLinks(context: Context, offset: number, size: number, total: number) {
  const link = (at: number | undefined): string | null => {
    if (at === undefined) return null;
    const query = new URLSearchParams(context.request.query);
    query.delete('page[cursor]');
    if (at > 0) query.set('page[cursor]', encodeCursor(at));
    const text = query.toString();
    return `${context.base}${context.request.path}${text === '' ? '' : `?${text}`}`;
  };
  return {
    self: link(offset) ?? '',
    next: link(offset + size < total ? offset + size : undefined),
    prev: link(offset > 0 ? Math.max(0, offset - size) : undefined),
  };
}

function additionalFields(query: URLSearchParams): Set<string> {
  const fields = new Set<string>();
  for (const raw of query.getAll('additional-fields[profile]')) {
    for (const field of raw.split(',')) {
      if (field === '') continue;
      if (field !== 'subscriptions' && field !== 'predictive_analytics') {
        throw new KlaviyoApiError(400, `'${field}' is not a valid additional field for 'profile'.`, {
          parameter: 'additional-fields[profile]',
        });
      }
      fields.add(field);
    }
  }
  return fields;
}

function renderEmailMarketing(profile: ProfileRecord) {
  const marketing = profile.subscriptions.email.marketing;
  return {
    can_receive_email_marketing:
      profile.email !== null && marketing.consent === 'SUBSCRIBED' && marketing.suppression.length === 0,
    consent: marketing.consent,
    consent_timestamp: marketing.consented_at,
    last_updated: marketing.last_updated,
    method: null,
    method_detail: '',
    custom_method_detail: null,
    double_optin: null,
    suppression: marketing.suppression.map((entry) => ({ ...entry })),
    list_suppressions: [],
  };
}

function renderSmsMarketing(profile: ProfileRecord) {
  const marketing = profile.subscriptions.sms.marketing;
  return {
    can_receive_sms_marketing: profile.phone_number !== null && marketing.consent === 'SUBSCRIBED',
    consent: marketing.consent,
    consent_timestamp: marketing.consented_at,
    method: null,
    method_detail: '',
    last_updated: marketing.last_updated,
  };
}

function renderProfile(profile: ProfileRecord, base: string, fields: Set<string>) {
  return {
    type: 'profile',
    id: profile.id,
    attributes: {
      email: profile.email,
      phone_number: profile.phone_number,
      external_id: profile.external_id,
      first_name: profile.first_name,
      last_name: profile.last_name,
      organization: profile.organization,
      locale: profile.locale,
      title: profile.title,
      image: profile.image,
      created: profile.created,
      updated: profile.updated,
      last_event_date: null,
      location: profile.location === null ? null : { ...profile.location },
      properties: structuredClone(profile.properties),
      ...(fields.has('subscriptions')
        ? {
            subscriptions: {
              email: { marketing: renderEmailMarketing(profile) },
              sms: { marketing: renderSmsMarketing(profile) },
            },
          }
        : {}),
      ...(fields.has('predictive_analytics') ? { predictive_analytics: null } : {}),
    },
    links: { self: `${base}/api/profiles/${profile.id}/` },
  };
}

function renderJob(job: JobRecord, base: string) {
  const self = `${base}/api/profile-bulk-import-jobs/${job.id}/`;
  return {
    type: 'profile-bulk-import-job',
    id: job.id,
    attributes: {
      status: job.status,
      created_at: job.created_at,
      total_count: job.total_count,
      completed_count: job.completed_count,
      failed_count: job.failed_count,
      completed_at: job.completed_at,
      expires_at: job.expires_at,
      started_at: job.started_at,
    },
    relationships: {
      lists: {
        data: job.list_ids.map((id) => ({ type: 'list', id })),
        links: { self: `${self}relationships/lists/`, related: `${self}lists/` },
      },
      'import-errors': { links: { related: `${self}import-errors/` } },
    },
    links: { self },
  };
}

/** Whether a subscription channel entry asks for marketing consent. */
function wantsMarketing(
  channel: { marketing?: ConsentInput | null } | null | undefined,
): ConsentInput | undefined {
  return channel?.marketing ?? undefined;
}

/**
 * A local, in-memory Klaviyo (REST API revision 2026-07-15) for the ESP sandbox: the profile, bulk import,
 * list, subscription, suppression and data-privacy endpoints a destination uses, with Klaviyo's auth,
 * revision header, rate limits, size limits and JSON:API error documents.
 */
export class KlaviyoEmulator implements EspEmulator {
  readonly esp = 'klaviyo';
  private readonly store: KlaviyoStore;
  private readonly jobCompletionMs: number;
  private readonly routes: Route[];
  /** The sandbox's clock, once a request has lent it; helpers called between requests read it too. */
  private clock: Clock | undefined;

  constructor(private readonly options: KlaviyoEmulatorOptions = {}) {
    this.jobCompletionMs = options.jobCompletionMs ?? 0;
    this.store = new KlaviyoStore(options.lists ?? []);
    this.routes = this.buildRoutes();
  }

  // ---------------------------------------------------------------- EspEmulator

  async handle(request: SandboxRequest, tools: EmulatorTools): Promise<SandboxResponse> {
    this.store.requests++;
    this.clock = tools.clock;
    const now = tools.clock.now();
    this.store.lastNow = now;
    // Jobs run on Klaviyo's side whether or not anyone polls: settle every job that is due.
    this.settleJobs(now);
    try {
      return this.dispatch(request, tools, now);
    } catch (error) {
      if (error instanceof KlaviyoApiError) return error.toResponse();
      throw error;
    }
  }

  /** Klaviyo's error document for an injected fault; the sandbox adds Retry-After to a 429 itself. */
  errorResponse(status: number, message: string): SandboxResponse {
    return new KlaviyoApiError(status, message).toResponse();
  }

  state(): {
    profiles: ProfileView[];
    lists: Array<{ id: string; name: string; profileIds: string[] }>;
    jobs: Array<ReturnType<typeof jobState>>;
    importErrors: Record<string, unknown[]>;
    deletions: unknown[];
    requests: number;
  } {
    return {
      profiles: this.store.sortedProfiles().map(profileView),
      lists: [...this.store.lists.values()].map((list) => ({
        id: list.id,
        name: list.name,
        profileIds: [...list.profileIds],
      })),
      jobs: [...this.store.jobs.values()].map(jobState),
      importErrors: Object.fromEntries(
        [...this.store.importErrors.entries()].map(([jobId, errors]) => [jobId, structuredClone(errors)]),
      ),
      deletions: structuredClone(this.store.deletions),
      requests: this.store.requests,
    };
  }

  reset(): void {
    this.store.lastNow = this.currentTime();
    this.store.reset();
  }

  // ---------------------------------------------------------------- helpers for tests and the demo

  /** The profile matching every identifier given, as plain JSON, or undefined. */
  findProfile(by: {
    email?: string;
    phone?: string;
    externalId?: string;
    id?: string;
  }): ProfileView | undefined {
    const found = this.store
      .sortedProfiles()
      .find(
        (profile) =>
          (by.id === undefined || profile.id === by.id) &&
          (by.email === undefined || profile.email === by.email.toLowerCase()) &&
          (by.phone === undefined || profile.phone_number === by.phone) &&
          (by.externalId === undefined || profile.external_id === by.externalId),
      );
    return found === undefined ? undefined : profileView(found);
  }

  /**
   * Simulates the member unsubscribing in Klaviyo (an unsubscribe link, the preference page): email marketing
   * consent becomes UNSUBSCRIBED and `updated` moves. Returns the profile, or
   * undefined when no profile has that email.
   */
  unsubscribeInEsp(email: string, at?: number | string | Date): ProfileView | undefined {
    const profile = this.store.findBy('email', email);
    if (profile === undefined) return undefined;
    const when = at === undefined ? this.currentTime() : new Date(at).getTime();
    unsubscribeChannel(profile.subscriptions.email.marketing, when);
    profile.updated = iso(when);
    return profileView(profile);
  }

  /**
   * A signed Klaviyo system webhook announcing that `emails` unsubscribed from email marketing. Profiles the
   * emulator knows are described as stored; unknown emails get a stable made-up profile id. `timestamp`
   * defaults to the sandbox clock's last reading.
   */
  signUnsubscribeWebhook(options: {
    secret: string;
    emails: readonly string[];
    timestamp?: number | string | Date;
  }): SignedWebhook {
    const timestamp = new Date(options.timestamp ?? this.currentTime()).toISOString();
    const profiles = options.emails.map((email) => {
      const known = this.store.findBy('email', email);
      return known === undefined
        ? { id: madeUpProfileId(email), email: email.toLowerCase(), external_id: null, phone_number: null }
        : {
            id: known.id,
            email: known.email ?? email,
            external_id: known.external_id,
            phone_number: known.phone_number,
          };
    });
    return buildUnsubscribeWebhook({ secret: options.secret, profiles, timestamp });
  }

  /** Completes every pending bulk import job now, whatever `jobCompletionMs` says. */
  completeJobs(): void {
    for (const job of this.store.jobs.values())
      if (job.pending !== null) this.applyJob(job, this.currentTime());
  }

  /** Now, by the sandbox's clock when one has been seen, else real time. */
  private currentTime(): number {
    return this.clock?.now() ?? Date.now();
  }

  // ---------------------------------------------------------------- request pipeline

  private dispatch(request: SandboxRequest, tools: EmulatorTools, now: number): SandboxResponse {
    const matching = this.routes
      .map((route) => ({ route, match: route.pattern.exec(request.path) }))
      .filter((candidate) => candidate.match !== null);
    if (matching.length === 0) {
      throw new KlaviyoApiError(404, `No route matches ${request.method.toUpperCase()} ${request.path}.`);
    }
    const method = request.method.toUpperCase();
    const chosen = matching.find((candidate) => candidate.route.method === method);
    if (chosen === undefined || chosen.match === null) {
      throw new KlaviyoApiError(
        405,
        `Method "${method}" not allowed.`,
        {},
        {
          headers: {
            allow: [...new Set(matching.map((candidate) => candidate.route.method))].join(', '),
          },
        },
      );
    }
    const { route, match } = chosen;

    const apiKey = this.authenticate(request);
    const revision = request.headers['revision'];
    if (revision === undefined || !REVISION.test(revision.trim())) {
      throw new KlaviyoApiError(
        400,
        revision === undefined
          ? "The 'revision' header is required (YYYY-MM-DD)."
          : `Invalid 'revision' header '${revision}': expected YYYY-MM-DD.`,
        { parameter: 'revision' },
      );
    }
    const waitMs = tools.rateLimit(`klaviyo:${apiKey}:${route.name}`, [
      { requests: route.limits.burst, perMs: 1000 },
      { requests: route.limits.steady, perMs: 60_000 },
    ]);
    if (waitMs !== undefined) throw throttledError(waitMs);

    const body = route.hasBody ? this.parseBody(request, route) : undefined;
    const params = match.slice(1).map((part) => decodeURIComponent(part));
    return route.handle({ request, now, params, body, base: this.linkBase(request) });
  }

  private authenticate(request: SandboxRequest): string {
    const header = request.headers['authorization'] ?? '';
    const match = /^Klaviyo-API-Key\s+(\S+)\s*$/i.exec(header);
    const key = match?.[1];
    if (key === undefined || !key.startsWith('pk_')) {
      throw new KlaviyoApiError(
        401,
        key === undefined
          ? 'Missing or invalid authorization scheme. Please use Klaviyo-API-Key.'
          : 'Incorrect authentication credentials.',
      );
    }
    return key;
  }

  private parseBody(request: SandboxRequest, route: Route): unknown {
    if (route.maxBytes !== undefined && request.rawBody.length > route.maxBytes) {
      throw new KlaviyoApiError(
        413,
        `The request body is ${request.rawBody.length} bytes; the maximum allowed payload size is ${route.maxBytes} bytes.`,
      );
    }
    const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (contentType !== 'application/vnd.api+json' && contentType !== 'application/json') {
      throw new KlaviyoApiError(
        415,
        `Unsupported media type "${contentType}" in request. Use application/vnd.api+json or application/json.`,
      );
    }
    try {
      return JSON.parse(request.rawBody.toString('utf8')) as unknown;
    } catch (error) {
      throw new KlaviyoApiError(
        400,
        `JSON parse error - ${(error as Error).message}`,
        {},
        { code: 'parse_error' },
      );
    }
  }

  private linkBase(request: SandboxRequest): string {
    if (this.options.linkBase !== undefined) return this.options.linkBase;
    const host = request.headers['host'];
    return host === undefined ? '/sandbox/klaviyo' : `http://${host}/sandbox/klaviyo`;
  }

  private buildRoutes(): Route[] {
    const route = (
      name: string,
      method: string,
      path: string,
      limits: Limits,
      handle: (context: Context) => SandboxResponse,
      extra: { hasBody?: boolean; maxBytes?: number } = {},
    ): Route => ({
      name,
      method,
      pattern: new RegExp(`^${path}/?$`),
      limits,
      hasBody: extra.hasBody ?? (method === 'POST' || method === 'PATCH'),
      ...(extra.maxBytes === undefined ? {} : { maxBytes: extra.maxBytes }),
      handle,
    });
    return [
      route('profile-import', 'POST', '/api/profile-import', PROFILES, (c) => this.profileImport(c), {
        maxBytes: 100 * KB,
      }),
      route('profiles', 'GET', '/api/profiles', PROFILES, (c) => this.getProfiles(c)),
      route('profile', 'GET', `/api/profiles/${ID}`, PROFILES, (c) => this.getProfile(c)),
      route('profile-update', 'PATCH', `/api/profiles/${ID}`, PROFILES, (c) => this.updateProfile(c), {
        maxBytes: 100 * KB,
      }),
      route(
        'bulk-import',
        'POST',
        '/api/profile-bulk-import-jobs',
        BULK_IMPORT,
        (c) => this.createImportJob(c),
        {
          maxBytes: 5 * MB,
        },
      ),
      route('bulk-import-job', 'GET', `/api/profile-bulk-import-jobs/${ID}`, BULK_IMPORT, (c) =>
        this.getImportJob(c),
      ),
      route(
        'bulk-import-errors',
        'GET',
        `/api/profile-bulk-import-jobs/${ID}/import-errors`,
        BULK_IMPORT,
        (c) => this.getImportErrors(c),
      ),
      route('list-create', 'POST', '/api/lists', LIST_CREATE, (c) => this.createList(c)),
      route('list', 'GET', `/api/lists/${ID}`, LIST_READ, (c) => this.getList(c)),
      route('list-add', 'POST', `/api/lists/${ID}/relationships/profiles`, LIST_RELATIONSHIPS, (c) =>
        this.listMembers(c, 'add'),
      ),
      route(
        'list-remove',
        'DELETE',
        `/api/lists/${ID}/relationships/profiles`,
        LIST_RELATIONSHIPS,
        (c) => this.listMembers(c, 'remove'),
        { hasBody: true },
      ),
      route('subscribe', 'POST', '/api/profile-subscription-bulk-create-jobs', SUBSCRIPTIONS, (c) =>
        this.subscribe(c),
      ),
      route('unsubscribe', 'POST', '/api/profile-subscription-bulk-delete-jobs', SUBSCRIPTIONS, (c) =>
        this.unsubscribe(c),
      ),
      route('suppress', 'POST', '/api/profile-suppression-bulk-create-jobs', SUBSCRIPTIONS, (c) =>
        this.suppression(c, 'suppress'),
      ),
      route('unsuppress', 'POST', '/api/profile-suppression-bulk-delete-jobs', SUBSCRIPTIONS, (c) =>
        this.suppression(c, 'unsuppress'),
      ),
      route('deletion', 'POST', '/api/data-privacy-deletion-jobs', DELETION, (c) => this.deleteProfile(c)),
    ];
  }

  // ---------------------------------------------------------------- profiles

  private profileImport(context: Context): SandboxResponse {
    const fields = additionalFields(context.request.query);
    const document = checkProfileImport(context.body);
    const { profile, created } = this.store.upsertProfile(document.data, context.now);
    return json(created ? 201 : 200, { data: renderProfile(profile, context.base, fields) });
  }

  private getProfile(context: Context): SandboxResponse {
    const fields = additionalFields(context.request.query);
    const profile = this.requireProfile(context.params[0] ?? '');
    return json(200, {
      data: renderProfile(profile, context.base, fields),
      links: { self: `${context.base}/api/profiles/${profile.id}/` },
    });
  }

  private updateProfile(context: Context): SandboxResponse {
    const fields = additionalFields(context.request.query);
    const id = context.params[0] ?? '';
    const document = checkProfileUpdate(context.body);
    if (document.data.id !== id) {
      throw new KlaviyoApiError(
        409,
        `The id '${document.data.id}' in the body does not match the id '${id}' in the URL.`,
        {
          pointer: '/data/id',
        },
      );
    }
    const profile = this.requireProfile(id);
    this.store.updateProfile(profile, document.data, context.now);
    return json(200, { data: renderProfile(profile, context.base, fields) });
  }

  private getProfiles(context: Context): SandboxResponse {
    const query = context.request.query;
    const fields = additionalFields(query);
    const size = pageSize(query);
    const offset = decodeCursor(query.get('page[cursor]'));
    let conditions: ProfileCondition[] = [];
    const filter = query.get('filter');
    if (filter !== null) {
      try {
        conditions = parseProfileFilter(filter);
      } catch (error) {
        if (!(error instanceof FilterError)) throw error;
        throw new KlaviyoApiError(400, `Invalid filter provided: ${error.message}.`, { parameter: 'filter' });
      }
    }
    const matching = this.store.sortedProfiles().filter((profile) => matchesAll(profile, conditions));
    return json(200, {
      data: matching
        .slice(offset, offset + size)
        .map((profile) => renderProfile(profile, context.base, fields)),
      links: pageLinks(context, offset, size, matching.length),
    });
  }

  private requireProfile(id: string): ProfileRecord {
    const profile = this.store.profiles.get(id);
    if (profile === undefined) throw new KlaviyoApiError(404, `A profile with id '${id}' does not exist.`);
    return profile;
  }

  // ---------------------------------------------------------------- bulk import jobs

  private createImportJob(context: Context): SandboxResponse {
    tooMany(context.body, ['data', 'attributes', 'profiles', 'data'], MAX_BULK_IMPORT, 'profiles');
    const document = checkBulkImport(context.body);
    const listIds = (document.data.relationships?.lists?.data ?? []).map((list) => list.id);
    listIds.forEach((id, index) => {
      if (!this.store.lists.has(id)) {
        throw new KlaviyoApiError(400, `A list with id '${id}' does not exist.`, {
          pointer: `/data/relationships/lists/data/${index}/id`,
        });
      }
    });
    const profiles = document.data.attributes.profiles.data;
    const job: JobRecord = {
      id: this.store.newJobId(),
      status: 'queued',
      created_at: iso(context.now),
      createdMs: context.now,
      started_at: null,
      completed_at: null,
      expires_at: iso(context.now + 7 * 24 * 60 * 60 * 1000),
      total_count: profiles.length,
      completed_count: 0,
      failed_count: 0,
      list_ids: listIds,
      profile_ids: [],
      pending: profiles,
    };
    this.store.jobs.set(job.id, job);
    this.store.importErrors.set(job.id, []);
    return json(202, {
      data: renderJob(job, context.base),
      links: { self: `${context.base}/api/profile-bulk-import-jobs/` },
    });
  }

  private getImportJob(context: Context): SandboxResponse {
    const job = this.requireJob(context.params[0] ?? '');
    if (job.pending !== null && job.status === 'queued') {
      // Read before its completion time: Klaviyo reports it as running.
      job.status = 'processing';
      job.started_at = iso(context.now);
    }
    return json(200, {
      data: renderJob(job, context.base),
      links: { self: `${context.base}${context.request.path}` },
    });
  }

  private getImportErrors(context: Context): SandboxResponse {
    const job = this.requireJob(context.params[0] ?? '');
    const size = pageSize(context.request.query);
    const offset = decodeCursor(context.request.query.get('page[cursor]'));
    const errors = this.store.importErrors.get(job.id) ?? [];
    const links = pageLinks(context, offset, size, errors.length);
    return json(200, {
      data: structuredClone(errors.slice(offset, offset + size)),
      links: { self: links.self, next: links.next, prev: links.prev },
    });
  }

  private requireJob(id: string): JobRecord {
    const job = this.store.jobs.get(id);
    if (job === undefined)
      throw new KlaviyoApiError(404, `A profile bulk import job with id '${id}' does not exist.`);
    return job;
  }

  private settleJobs(now: number): void {
    for (const job of this.store.jobs.values()) {
      if (job.pending !== null && now >= job.createdMs + this.jobCompletionMs) this.applyJob(job, now);
    }
  }

  /** Upserts each profile like profile-import; a profile Klaviyo would reject becomes an import error. */
  private applyJob(job: JobRecord, now: number): void {
    const errors = this.store.importErrors.get(job.id) ?? [];
    (job.pending ?? []).forEach((input, index) => {
      const pointer = `/data/attributes/profiles/data/${index}`;
      try {
        const { profile } = this.store.upsertProfile(input, now, pointer);
        job.profile_ids.push(profile.id);
        for (const listId of job.list_ids) this.store.lists.get(listId)?.profileIds.add(profile.id);
        job.completed_count++;
      } catch (error) {
        if (!(error instanceof KlaviyoApiError)) throw error;
        errors.push({
          type: 'import-error',
          id: this.store.newImportErrorId(),
          attributes: {
            code: error.code,
            title: error.title,
            detail: error.detail,
            source: { pointer: error.source.pointer ?? pointer },
            original_payload: structuredClone(input),
          },
        });
        job.failed_count++;
      }
    });
    this.store.importErrors.set(job.id, errors);
    job.pending = null;
    job.status = 'complete';
    job.started_at = job.started_at ?? iso(now);
    job.completed_at = iso(now);
  }

  // ---------------------------------------------------------------- lists

  private createList(context: Context): SandboxResponse {
    const document = checkListCreate(context.body);
    const list = this.store.createList(document.data.attributes.name, context.now);
    return json(201, { data: this.renderList(list.id, context.base) });
  }

  private getList(context: Context): SandboxResponse {
    const id = context.params[0] ?? '';
    if (!this.store.lists.has(id)) throw new KlaviyoApiError(404, `A list with id '${id}' does not exist.`);
    return json(200, {
      data: this.renderList(id, context.base),
      links: { self: `${context.base}/api/lists/${id}/` },
    });
  }

  private renderList(id: string, base: string) {
    const list = this.store.lists.get(id);
    return {
      type: 'list',
      id,
      attributes: {
        name: list?.name ?? '',
        created: list?.created ?? null,
        updated: list?.updated ?? null,
        opt_in_process: 'single_opt_in',
      },
      links: { self: `${base}/api/lists/${id}/` },
    };
  }

  private listMembers(context: Context, action: 'add' | 'remove'): SandboxResponse {
    tooMany(context.body, ['data'], MAX_LIST_MEMBERS, 'profiles');
    const document = checkListMembers(context.body);
    if (document.data.length === 0) {
      throw new KlaviyoApiError(400, 'At least one profile is required.', { pointer: '/data' });
    }
    const id = context.params[0] ?? '';
    const list = this.store.lists.get(id);
    if (list === undefined) throw new KlaviyoApiError(404, `A list with id '${id}' does not exist.`);
    document.data.forEach((member, index) => {
      if (!this.store.profiles.has(member.id)) {
        throw new KlaviyoApiError(400, `A profile with id '${member.id}' does not exist.`, {
          pointer: `/data/${index}/id`,
        });
      }
    });
    for (const member of document.data) {
      if (action === 'add') list.profileIds.add(member.id);
      else list.profileIds.delete(member.id);
    }
    list.updated = iso(context.now);
    return { status: 204 };
  }

  // ---------------------------------------------------------------- subscriptions and suppressions

  private requireList(id: string | undefined): ReturnType<KlaviyoStore['lists']['get']> {
    if (id === undefined) return undefined;
    const list = this.store.lists.get(id);
    if (list === undefined) throw new KlaviyoApiError(404, `A list with id '${id}' does not exist.`);
    return list;
  }

  /**
   * Resolves the profile a subscription entry is about (id, then email, then phone), or undefined when it
   * is new. Throws 409 when the email and phone number belong to different profiles.
   */
  private resolveSubscriber(
    entry: { id?: string | null; attributes: { email?: string | null; phone_number?: string | null } },
    pointer: string,
  ): ProfileRecord | undefined {
    const { email, phone_number: phone } = entry.attributes;
    if (entry.id !== undefined && entry.id !== null) {
      const profile = this.store.profiles.get(entry.id);
      if (profile === undefined) {
        throw new KlaviyoApiError(400, `A profile with id '${entry.id}' does not exist.`, {
          pointer: `${pointer}/id`,
        });
      }
      return profile;
    }
    const byEmail = email ? this.store.findBy('email', email) : undefined;
    const byPhone = phone ? this.store.findBy('phone_number', phone) : undefined;
    if (byEmail !== undefined && byPhone !== undefined && byEmail !== byPhone) {
      throw new KlaviyoApiError(
        409,
        'A profile already exists with one of these identifiers.',
        { pointer: `${pointer}/attributes` },
        { code: 'duplicate_profile', meta: { duplicate_profile_id: byPhone.id } },
      );
    }
    return byEmail ?? byPhone;
  }

  /** A profile created earlier in the same request (the same address listed twice). */
  private existingSubscriber(entry: {
    attributes: { email?: string | null; phone_number?: string | null };
  }): ProfileRecord | undefined {
    const { email, phone_number: phone } = entry.attributes;
    const byEmail = email ? this.store.findBy('email', email) : undefined;
    return byEmail ?? (phone ? this.store.findBy('phone_number', phone) : undefined);
  }

  private subscribe(context: Context): SandboxResponse {
    tooMany(context.body, ['data', 'attributes', 'profiles', 'data'], MAX_SUBSCRIBE, 'profiles');
    const document = checkSubscribe(context.body);
    const list = this.requireList(document.data.relationships?.list?.data?.id);
    const historical = document.data.attributes.historical_import === true;
    const entries = document.data.attributes.profiles.data;
    // Validate every entry before changing anything: Klaviyo rejects the whole request.
    const targets = entries.map((entry, index) => {
      const pointer = `/data/attributes/profiles/data/${index}`;
      checkIdentifiers(entry.attributes, pointer);
      const profile = this.resolveSubscriber(entry, pointer);
      const email = entry.attributes.email ?? profile?.email ?? null;
      const phone = entry.attributes.phone_number ?? profile?.phone_number ?? null;
      const emailConsent = wantsMarketing(entry.attributes.subscriptions.email);
      const smsConsent = wantsMarketing(entry.attributes.subscriptions.sms);
      if (emailConsent !== undefined && !email) {
        throw new KlaviyoApiError(400, 'An email address is required to subscribe to email marketing.', {
          pointer: `${pointer}/attributes/email`,
        });
      }
      if (smsConsent !== undefined && !phone) {
        throw new KlaviyoApiError(400, 'A phone number is required to subscribe to SMS marketing.', {
          pointer: `${pointer}/attributes/phone_number`,
        });
      }
      for (const [channel, consent] of [
        ['email', emailConsent],
        ['sms', smsConsent],
      ] as const) {
        if (consent === undefined || !historical) continue;
        const at = consent.consented_at ? Date.parse(consent.consented_at) : NaN;
        if (!(at <= context.now)) {
          throw new KlaviyoApiError(
            400,
            'consented_at is required and must be in the past for a historical import.',
            {
              pointer: `${pointer}/attributes/subscriptions/${channel}/marketing/consented_at`,
            },
          );
        }
      }
      return { entry, profile, emailConsent, smsConsent };
    });
    const at = iso(context.now);
    for (const { entry, profile: found, emailConsent, smsConsent } of targets) {
      const profile = found ?? this.existingSubscriber(entry) ?? this.store.newProfile(context.now);
      if (entry.attributes.email && profile.email === null)
        profile.email = entry.attributes.email.toLowerCase();
      if (entry.attributes.phone_number && profile.phone_number === null)
        profile.phone_number = entry.attributes.phone_number;
      if (emailConsent !== undefined)
        subscribeChannel(profile.subscriptions.email.marketing, emailConsent, at);
      if (smsConsent !== undefined) subscribeChannel(profile.subscriptions.sms.marketing, smsConsent, at);
      list?.profileIds.add(profile.id);
      profile.updated = at;
    }
    return { status: 202 };
  }

  private unsubscribe(context: Context): SandboxResponse {
    tooMany(context.body, ['data', 'attributes', 'profiles', 'data'], MAX_UNSUBSCRIBE, 'profiles');
    const document = checkUnsubscribe(context.body);
    const list = this.requireList(document.data.relationships?.list?.data?.id);
    const targets = document.data.attributes.profiles.data.map((entry, index) => {
      const pointer = `/data/attributes/profiles/data/${index}`;
      checkIdentifiers(entry.attributes, pointer);
      const emailChange = wantsMarketing(entry.attributes.subscriptions.email);
      const smsChange = wantsMarketing(entry.attributes.subscriptions.sms);
      if (emailChange !== undefined && !entry.attributes.email) {
        throw new KlaviyoApiError(400, 'An email address is required to unsubscribe from email marketing.', {
          pointer: `${pointer}/attributes/email`,
        });
      }
      if (smsChange !== undefined && !entry.attributes.phone_number) {
        throw new KlaviyoApiError(400, 'A phone number is required to unsubscribe from SMS marketing.', {
          pointer: `${pointer}/attributes/phone_number`,
        });
      }
      return { entry, profile: this.resolveSubscriber(entry, pointer), emailChange, smsChange };
    });
    for (const { entry, profile: found, emailChange, smsChange } of targets) {
      // Klaviyo records the unsubscribe even for an address it has not seen yet.
      const profile = found ?? this.existingSubscriber(entry) ?? this.store.newProfile(context.now);
      if (entry.attributes.email && profile.email === null)
        profile.email = entry.attributes.email.toLowerCase();
      if (entry.attributes.phone_number && profile.phone_number === null)
        profile.phone_number = entry.attributes.phone_number;
      if (emailChange !== undefined) unsubscribeChannel(profile.subscriptions.email.marketing, context.now);
      if (smsChange !== undefined) unsubscribeChannel(profile.subscriptions.sms.marketing, context.now);
      list?.profileIds.delete(profile.id);
      profile.updated = iso(context.now);
    }
    return { status: 202 };
  }

  private suppression(context: Context, action: 'suppress' | 'unsuppress'): SandboxResponse {
    tooMany(context.body, ['data', 'attributes', 'profiles', 'data'], MAX_SUPPRESS, 'profiles');
    const document = action === 'suppress' ? checkSuppress(context.body) : checkUnsuppress(context.body);
    const entries = document.data.attributes.profiles?.data ?? [];
    const relationships = document.data.relationships ?? {};
    const list = this.requireList(relationships.list?.data?.id);
    const segment = relationships.segment?.data?.id;
    if (segment !== undefined)
      throw new KlaviyoApiError(404, `A segment with id '${segment}' does not exist.`);
    if (entries.length === 0 && list === undefined) {
      throw new KlaviyoApiError(400, 'Provide profiles, a list or a segment.', {
        pointer: '/data/attributes/profiles',
      });
    }
    entries.forEach((entry, index) =>
      checkIdentifiers(entry.attributes, `/data/attributes/profiles/data/${index}`),
    );
    const emails = [
      ...entries.map((entry) => entry.attributes.email.toLowerCase()),
      ...[...(list?.profileIds ?? [])].flatMap((id) => this.store.profiles.get(id)?.email ?? []),
    ];
    const at = iso(context.now);
    let skipped = 0;
    for (const email of emails) {
      let profile = this.store.findBy('email', email);
      const marketing = profile?.subscriptions.email.marketing;
      const suppressed = marketing?.suppression.some((entry) => entry.reason === 'USER_SUPPRESSED') ?? false;
      if (action === 'suppress' && !suppressed) {
        profile = profile ?? Object.assign(this.store.newProfile(context.now), { email });
        profile.subscriptions.email.marketing.suppression.push({ reason: 'USER_SUPPRESSED', timestamp: at });
        profile.subscriptions.email.marketing.last_updated = at;
        profile.updated = at;
      } else if (action === 'unsuppress' && profile !== undefined && suppressed) {
        profile.subscriptions.email.marketing.suppression =
          profile.subscriptions.email.marketing.suppression.filter(
            (entry) => entry.reason !== 'USER_SUPPRESSED',
          );
        profile.subscriptions.email.marketing.last_updated = at;
        profile.updated = at;
      } else {
        skipped++;
      }
    }
    // Applied at once, so the job Klaviyo returns is already complete.
    const type =
      action === 'suppress' ? 'profile-suppression-bulk-create-job' : 'profile-suppression-bulk-delete-job';
    const id = this.store.newJobId();
    const self = `${context.base}${context.request.path}/${id}/`;
    return json(202, {
      data: {
        type,
        id,
        attributes: {
          status: 'complete',
          created_at: at,
          total_count: emails.length,
          completed_count: emails.length - skipped,
          completed_at: at,
          skipped_count: skipped,
        },
        links: { self },
      },
      links: { self },
    });
  }

  // ---------------------------------------------------------------- data privacy

  private deleteProfile(context: Context): SandboxResponse {
    const document = checkDeletion(context.body);
    const data = document.data.attributes.profile.data;
    const pointer = '/data/attributes/profile/data';
    const identifier: { id?: string; email?: string; phone_number?: string } = {};
    if (data.id) identifier.id = data.id;
    if (data.attributes.email) identifier.email = data.attributes.email;
    if (data.attributes.phone_number) identifier.phone_number = data.attributes.phone_number;
    if (Object.keys(identifier).length !== 1) {
      throw new KlaviyoApiError(400, 'Exactly one of id, email or phone_number must be provided.', {
        pointer,
      });
    }
    checkIdentifiers(data.attributes, pointer);
    const matching = [...this.store.profiles.values()].filter(
      (profile) =>
        (identifier.id !== undefined && profile.id === identifier.id) ||
        (identifier.email !== undefined && profile.email === identifier.email.toLowerCase()) ||
        (identifier.phone_number !== undefined && profile.phone_number === identifier.phone_number),
    );
    for (const profile of matching) this.store.deleteProfile(profile.id);
    this.store.deletions.push({
      identifier,
      profile_ids: matching.map((profile) => profile.id),
      requested_at: iso(context.now),
    });
    return { status: 202 };
  }
}

function subscribeChannel(channel: ChannelConsent, consent: ConsentInput, at: string): void {
  channel.consent = 'SUBSCRIBED';
  channel.consented_at = consent.consented_at ?? at;
  channel.last_updated = at;
  // Subscribing lifts UNSUBSCRIBE, SPAM_COMPLAINT and USER_SUPPRESSED suppressions (not bounces).
  channel.suppression = channel.suppression.filter(
    (entry) => entry.reason === 'HARD_BOUNCE' || entry.reason === 'INVALID_EMAIL',
  );
}

/**
 * Consent only: the emulator keeps `suppression` for USER_SUPPRESSED (and bounces), so an unsubscribe does not
 * add an UNSUBSCRIBE suppression entry (Klaviyo itself also lists one; see the report).
 */
function unsubscribeChannel(channel: ChannelConsent, now: number): void {
  const at = iso(now);
  channel.consent = 'UNSUBSCRIBED';
  channel.last_updated = at;
}

/** A stable profile id for an email the emulator does not hold (webhooks about strangers). */
function madeUpProfileId(email: string): string {
  const digest = createHash('sha256').update(email.toLowerCase()).digest();
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let id = '01X';
  for (let i = 0; i < 23; i++) id += alphabet.charAt((digest[i] ?? 0) % 32);
  return id;
}
