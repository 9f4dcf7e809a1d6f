import { createHash } from 'node:crypto';
import type {
  Clock,
  EmulatorTools,
  EspEmulator,
  SandboxRequest,
  SandboxResponse,
} from '@tessera/destination-kit';
import { KLAVIYO_LIMITS } from '../klaviyo-endpoints';
import { BulkImportJobs } from './klaviyo-bulk-import.routes';
import { dataPrivacyRoutes } from './klaviyo-data-privacy.routes';
import { KlaviyoApiError, throttledError } from './klaviyo-errors';
import { listRoutes } from './klaviyo-lists.routes';
import { emulatorRateBudgets } from './klaviyo-rate-limits';
import { type MergeRecord, profileMergeRoutes } from './klaviyo-profile-merge.routes';
import { profileRoutes } from './klaviyo-profiles.routes';
import { authenticate, checkRevision, findRoute, parseBody, type Route } from './klaviyo-routing';
import { SubscriptionRoutes, unsubscribeChannel } from './klaviyo-subscriptions.routes';
import { iso, jobState, KlaviyoStore, profileView, type ProfileView } from './klaviyo-store';
import { buildUnsubscribeWebhook, type SignedWebhook } from './klaviyo-webhook';

/** What `configure` takes (the sandbox's `PUT /sandbox/klaviyo/_sandbox/config`): every member optional. */
export interface KlaviyoEmulatorConfig {
  /** Lists the account holds (Klaviyo list ids are six alphanumerics), kept across resets. */
  lists?: Array<{ id: string; name: string }>;
  /** How long a bulk import job takes to complete (ms). */
  jobCompletionMs?: number;
}

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

/**
 * A local, in-memory Klaviyo (REST API revision 2026-07-15) for the ESP sandbox: the profile, bulk import,
 * list, subscription, suppression, data-privacy and profile-merge endpoints a destination uses, with Klaviyo's auth,
 * revision header, rate limits, size limits and JSON:API error documents.
 */
export class KlaviyoEmulator implements EspEmulator {
  readonly esp = 'klaviyo';
  /** Klaviyo's largest payload (a bulk import job's 5 MB); the sandbox answers a larger body 413 in our shape. */
  readonly maxBodyBytes = KLAVIYO_LIMITS.requestBodyBytes;
  private readonly store: KlaviyoStore;
  private readonly jobs: BulkImportJobs;
  private readonly routes: Route[];
  /** Profile merges done, in order. */
  private readonly merges: MergeRecord[] = [];
  /** The sandbox's clock, once a request has lent it; helpers called between requests read it too. */
  private clock: Clock | undefined;

  constructor(private readonly options: KlaviyoEmulatorOptions = {}) {
    this.store = new KlaviyoStore(options.lists ?? []);
    this.jobs = new BulkImportJobs(this.store, options.jobCompletionMs ?? 0);
    this.routes = [
      ...profileRoutes(this.store),
      ...this.jobs.routes(),
      ...listRoutes(this.store),
      ...new SubscriptionRoutes(this.store).routes(),
      ...dataPrivacyRoutes(this.store),
      ...profileMergeRoutes(this.store, this.merges),
    ];
  }

  // ---------------------------------------------------------------- EspEmulator

  async handle(request: SandboxRequest, tools: EmulatorTools): Promise<SandboxResponse> {
    this.store.requests++;
    this.clock = tools.clock;
    const now = tools.clock.now();
    this.store.lastNow = now;
    // Jobs run on Klaviyo's side whether or not anyone polls: settle every job that is due.
    this.jobs.settle(now);
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

  /**
   * Sets the account's lists and the bulk jobs' completion time; a member left out keeps its value. Throws an
   * Error naming what is wrong, changing nothing.
   */
  configure(config: unknown): void {
    const checked = checkConfig(config);
    if (checked.lists !== undefined) this.store.setSeedLists(checked.lists);
    if (checked.jobCompletionMs !== undefined) this.jobs.completionMs = checked.jobCompletionMs;
  }

  configuration(): Required<KlaviyoEmulatorConfig> {
    return { lists: this.store.configuredLists, jobCompletionMs: this.jobs.completionMs };
  }

  /** `/api/lists/{id}/relationships/profiles`: the template of the route serving the request, if any. */
  endpointTemplate(method: string, path: string): string | undefined {
    const upper = method.toUpperCase();
    return this.routes.find((route) => route.method === upper && route.pattern.test(path))?.template;
  }

  state(): {
    profiles: ProfileView[];
    lists: Array<{ id: string; name: string; profileIds: string[] }>;
    jobs: Array<ReturnType<typeof jobState>>;
    importErrors: Record<string, unknown[]>;
    deletions: unknown[];
    merges: MergeRecord[];
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
      merges: structuredClone(this.merges),
      requests: this.store.requests,
    };
  }

  reset(): void {
    this.store.lastNow = this.currentTime();
    this.store.reset();
    this.merges.length = 0;
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
    this.jobs.completeAll(this.currentTime());
  }

  /** Now, by the sandbox's clock when one has been seen, else real time. */
  private currentTime(): number {
    return this.clock?.now() ?? Date.now();
  }

  // ---------------------------------------------------------------- request pipeline

  private dispatch(request: SandboxRequest, tools: EmulatorTools, now: number): SandboxResponse {
    const { route, params } = findRoute(this.routes, request);
    const apiKey = authenticate(request);
    checkRevision(request);
    // Each endpoint is one budget of the declared table (a test checks that every route matches exactly one).
    for (const budget of emulatorRateBudgets.matching(request.method, request.path)) {
      const waitMs = tools.rateLimit(`klaviyo:${apiKey}:${budget.name}`, budget.windows);
      if (waitMs !== undefined) throw throttledError(waitMs);
    }
    const body = route.hasBody ? parseBody(request, route) : undefined;
    return route.handle({ request, now, params, body, base: this.linkBase(request) });
  }

  private linkBase(request: SandboxRequest): string {
    if (this.options.linkBase !== undefined) return this.options.linkBase;
    const host = request.headers['host'];
    return host === undefined ? '/sandbox/klaviyo' : `http://${host}/sandbox/klaviyo`;
  }
}

/** Validates a configuration: an object with only `lists` (unique six-alphanumeric ids, names) and `jobCompletionMs`. */
function checkConfig(config: unknown): KlaviyoEmulatorConfig {
  const fail = (message: string): never => {
    throw new Error(`Klaviyo emulator configuration: ${message}`);
  };
  if (typeof config !== 'object' || config === null || Array.isArray(config)) fail('must be a JSON object');
  const record = config as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => key !== 'lists' && key !== 'jobCompletionMs');
  if (unknown.length > 0) fail(`unknown member ${unknown.map((key) => `"${key}"`).join(', ')}`);
  const checked: KlaviyoEmulatorConfig = {};
  const { lists, jobCompletionMs } = record;
  if (jobCompletionMs !== undefined) {
    if (!Number.isInteger(jobCompletionMs) || (jobCompletionMs as number) < 0)
      fail('jobCompletionMs must be a non-negative integer');
    checked.jobCompletionMs = jobCompletionMs as number;
  }
  if (lists !== undefined) {
    if (!Array.isArray(lists)) fail('lists must be an array of { id, name }');
    const ids = new Set<string>();
    checked.lists = (lists as unknown[]).map((list, index) => {
      const { id, name } = (typeof list === 'object' && list !== null ? list : {}) as Record<string, unknown>;
      if (typeof id !== 'string' || !/^[A-Za-z0-9]{6}$/.test(id))
        fail(`lists[${index}].id must be six letters or digits, as Klaviyo list ids are`);
      if (typeof name !== 'string' || name.trim() === '')
        fail(`lists[${index}].name must be a non-empty string`);
      if (ids.has(id as string)) fail(`lists[${index}].id "${id as string}" is listed twice`);
      ids.add(id as string);
      return { id: id as string, name: name as string };
    });
  }
  return checked;
}

/** A stable profile id for an email the emulator does not hold (webhooks about strangers). */
function madeUpProfileId(email: string): string {
  const digest = createHash('sha256').update(email.toLowerCase()).digest();
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let id = '01X';
  for (let i = 0; i < 23; i++) id += alphabet.charAt((digest[i] ?? 0) % 32);
  return id;
}
