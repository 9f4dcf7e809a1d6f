import { createHash } from 'node:crypto';
import type {
  Clock,
  EmulatorTools,
  EspEmulator,
  SandboxRequest,
  SandboxResponse,
} from '@tessera/destination-kit';
import { BulkImportJobs } from './klaviyo-bulk-import.routes';
import { dataPrivacyRoutes } from './klaviyo-data-privacy.routes';
import { KlaviyoApiError, throttledError } from './klaviyo-errors';
import { listRoutes } from './klaviyo-lists.routes';
import { profileRoutes } from './klaviyo-profiles.routes';
import { authenticate, checkRevision, findRoute, parseBody, type Route } from './klaviyo-routing';
import { SubscriptionRoutes, unsubscribeChannel } from './klaviyo-subscriptions.routes';
import { iso, jobState, KlaviyoStore, profileView, type ProfileView } from './klaviyo-store';
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

/**
 * A local, in-memory Klaviyo (REST API revision 2026-07-15) for the ESP sandbox: the profile, bulk import,
 * list, subscription, suppression and data-privacy endpoints a destination uses, with Klaviyo's auth,
 * revision header, rate limits, size limits and JSON:API error documents.
 */
export class KlaviyoEmulator implements EspEmulator {
  readonly esp = 'klaviyo';
  private readonly store: KlaviyoStore;
  private readonly jobs: BulkImportJobs;
  private readonly routes: Route[];
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
    const waitMs = tools.rateLimit(`klaviyo:${apiKey}:${route.name}`, [
      { requests: route.limits.burst, perMs: 1000 },
      { requests: route.limits.steady, perMs: 60_000 },
    ]);
    if (waitMs !== undefined) throw throttledError(waitMs);
    const body = route.hasBody ? parseBody(request, route) : undefined;
    return route.handle({ request, now, params, body, base: this.linkBase(request) });
  }

  private linkBase(request: SandboxRequest): string {
    if (this.options.linkBase !== undefined) return this.options.linkBase;
    const host = request.headers['host'];
    return host === undefined ? '/sandbox/klaviyo' : `http://${host}/sandbox/klaviyo`;
  }
}

/** A stable profile id for an email the emulator does not hold (webhooks about strangers). */
function madeUpProfileId(email: string): string {
  const digest = createHash('sha256').update(email.toLowerCase()).digest();
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let id = '01X';
  for (let i = 0; i < 23; i++) id += alphabet.charAt((digest[i] ?? 0) % 32);
  return id;
}
