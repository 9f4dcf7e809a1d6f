import Ajv, { ValidateFunction } from 'ajv';
import type { Clock } from './retry-policy';
import { hostPatternProblem } from './destination-hosts';
import type { DestinationHttpClient } from './http-client';
import { RateBudgetError, RateBudgets } from './rate-budgets';
import { MERGE_COOLING_OFF_SETTING } from './merge-cooling-off';

export type OperationName =
  | 'upsertProfiles'
  | 'updateAttributes'
  | 'addToSegment'
  | 'removeFromSegment'
  | 'subscribe'
  | 'unsubscribe'
  | 'suppress'
  | 'unsuppress'
  | 'deleteProfiles'
  | 'fetchProfiles'
  | 'mergeProfiles';

export const OPERATION_NAMES: readonly OperationName[] = [
  'upsertProfiles',
  'updateAttributes',
  'addToSegment',
  'removeFromSegment',
  'subscribe',
  'unsubscribe',
  'suppress',
  'unsuppress',
  'deleteProfiles',
  'fetchProfiles',
  'mergeProfiles',
];

/** A profile's latest state. `version` orders updates of one customer (higher is newer). */
export interface ProfileUpsert {
  customerId: string;
  version: number;
  email?: string;
  phone?: string;
  attributes: Record<string, unknown>;
  /**
   * True while the profile has no member identity yet (a showroom guest known by an anonymous id or an email
   * only). ESPs with anonymous profiles key it apart from members (Braze: a user alias, not an external id).
   */
  guest?: boolean;
  /** The ESP's own id of this contact, when a previous write returned it (spares a lookup). */
  externalId?: string;
}

/**
 * Two profiles the identity graph joined, to be joined at the ESP too. ESP merges are irreversible, so the
 * item says how the merge was decided: destinations send only `deterministic` (a shared strong identifier)
 * and `human` (an operator approved it) merges, after their cooling-off period.
 */
export interface ProfileMerge {
  /** The surviving profile. */
  customerId: string;
  /** The profile merged into it (for a guest that became a member: the guest's customer id). */
  mergedCustomerId: string;
  /** True when the merged profile was a guest at the ESP (Braze: identify its alias instead of merging users). */
  mergedWasGuest: boolean;
  basis: 'deterministic' | 'probabilistic' | 'human';
  /** ISO-8601 time the graph merged them (the cooling-off period runs from here). */
  mergedAt: string;
  /** The ESP's own id of the surviving contact, when a previous write returned it (the pipeline's sync state). */
  externalId?: string;
  /**
   * The ESP's own id of the retired contact, when a previous write returned it. The pipeline sends a merge only
   * where it knows the retired contact is held (its sync state), so a destination keyed by its own ids (Mailchimp's
   * subscriber hash) can find it.
   */
  mergedExternalId?: string;
}

/** Membership of a customer in a named segment (an ESP list, audience or tag). */
export interface SegmentMembership {
  customerId: string;
  segment: string;
  email?: string;
  /** The ESP's own id of this contact, when a previous write returned it (spares a lookup). */
  externalId?: string;
}

/** Points at a profile by customer id and, when known, its contact points. */
export interface ProfileRef {
  customerId: string;
  email?: string;
  phone?: string;
  /** The ESP's own id of this contact, when a previous write returned it (spares a lookup). */
  externalId?: string;
}

/** A marketing subscription to set on one channel (from the consent ledger: a grant, or its withdrawal). */
export interface SubscriptionChange {
  customerId: string;
  channel: 'email' | 'sms';
  email?: string;
  phone?: string;
  /** ISO-8601 time the member consented or withdrew. */
  changedAt?: string;
  /** The ESP's own id of this contact, when a previous write returned it (spares a lookup). */
  externalId?: string;
}

/** The item type each operation receives. */
export interface OperationItems {
  upsertProfiles: ProfileUpsert;
  updateAttributes: ProfileUpsert;
  addToSegment: SegmentMembership;
  removeFromSegment: SegmentMembership;
  subscribe: SubscriptionChange;
  unsubscribe: SubscriptionChange;
  suppress: ProfileRef;
  unsuppress: ProfileRef;
  deleteProfiles: ProfileRef;
  fetchProfiles: ProfileRef;
  mergeProfiles: ProfileMerge;
}

/** A profile as the ESP holds it (what `fetchProfiles` reads back for reconciliation). */
export interface RemoteProfile {
  /** The ESP's own id of the profile. */
  externalId: string;
  customerId?: string;
  email?: string;
  phone?: string;
  attributes: Record<string, unknown>;
  /** Marketing subscription per channel, as the ESP records it. */
  subscriptions?: Partial<Record<'email' | 'sms', 'subscribed' | 'unsubscribed' | 'never_subscribed'>>;
  /** True when the ESP suppresses the profile's email (nothing may be sent to it). */
  suppressed?: boolean;
  /** ISO-8601 time of the ESP's last change. */
  updatedAt?: string;
}

export type ItemResult =
  | {
      status: 'ok';
      externalId?: string;
      profile?: RemoteProfile;
      /** Fields the ESP refused and that were left out so the rest of the profile could land. */
      omittedFields?: { field: string; reason: string }[];
      /**
       * The ESP had no contact for this profile before this write (it created it): it is in no segment, list or
       * tag, so removals from them need not be sent.
       */
      created?: boolean;
    }
  /**
   * A member this destination cannot hold (no email at an email-only ESP): counted, never retried nor
   * dead-lettered.
   */
  | { status: 'skipped'; reason: string }
  | { status: 'retry'; afterMs: number; reason: string }
  | { status: 'rejected'; reason: string };

/** One result per input item, in the same order. */
export type BatchResult = ItemResult[];

/** What the pipeline hands a destination when it runs an operation. */
export interface OperationContext<Settings = Record<string, unknown>> {
  /** Validated settings, defaults applied. */
  settings: Settings;
  /** Client bound to `settings.baseUrl`, sending the destination's `requestHeaders`. */
  http: DestinationHttpClient;
  clock: Clock;
  /** The OAuth access token of this call, for ESPs that also want it in the body (SFMC's SOAP envelope). */
  token?: string;
}

/** At most `requests` per `perMs` milliseconds (one window of an ESP's published limit). */
export interface RateWindow {
  requests: number;
  perMs: number;
}

/**
 * One class of requests the ESP limits together, per ESP account. Every request the kit's http client sends
 * (operations, polls, token requests, testConnection) first acquires each budget whose pattern matches.
 */
export interface RateBudget {
  /** The ESP's published windows for this class of requests, counted per ESP account by every worker. */
  windows: RateWindow[];
  /**
   * The requests counted against it: 'METHOD /path' patterns matched against the request's URL path (any
   * host of the destination), `*` = one path segment, a trailing `/**` = any rest, METHOD may be `*`.
   */
  requests: string[];
}

/** A webhook as received, before anything parsed it: signatures are checked on these exact bytes. */
export interface InboundRequest {
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
  /** HTTP method (default POST): Mailchimp checks a webhook URL with a GET first. */
  method?: string;
  /** Query parameters of the callback URL (a shared secret where the ESP signs nothing). */
  query?: Record<string, string | undefined>;
}

/** What Tessera answers an ESP's webhook handshake with. */
export interface InboundReply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A member's opt-out recorded by the ESP, for the consent ledger. */
export interface InboundUnsubscribe {
  /** The ESP's id of the event, stable across redeliveries (dedup key). */
  eventId: string;
  channel: 'email' | 'sms';
  change: 'unsubscribed' | 'suppressed';
  email?: string;
  phone?: string;
  customerId?: string;
  /** ISO-8601 time the member opted out: the ESP's change time, or when it was observed (see `timeBasis`). */
  occurredAt: string;
  /**
   * `observed` when the ESP gave no change time and `occurredAt` is when the poll saw the opt-out: the ledger then
   * lets it override no grant newer than the last time the ESP was seen holding the member subscribed. Absent:
   * the ESP's own change time.
   */
  timeBasis?: 'observed';
}

/** A member a poll saw subscribed at the ESP, and when (the bound an observed-time opt-out is judged by). */
export interface InboundSubscribedSighting {
  channel: 'email' | 'sms';
  email?: string;
  phone?: string;
  customerId?: string;
  /** ISO-8601 time of the poll that saw it. */
  seenAt: string;
}

export interface InboundPoll {
  changes: InboundUnsubscribe[];
  /** Members the poll saw subscribed (ESPs whose poll reads subscription states, e.g. Klaviyo). */
  subscribed?: InboundSubscribedSighting[];
  /** Hand back on the next poll; opaque to the caller. */
  cursor: string;
}

/** A bearer token and when it stops working (epoch ms). */
export interface AccessToken {
  value: string;
  expiresAt: number;
}

/** OAuth2 client credentials: how a destination obtains a token. The kit caches and refreshes it. */
export interface TokenAuthentication<Settings> {
  fetchToken(
    context: Omit<OperationContext<Settings>, 'http'> & { http: DestinationHttpClient },
  ): Promise<AccessToken>;
}

export interface OperationDefinition<Item, Settings = Record<string, unknown>> {
  /** Most items per `perform` call (positive integer). */
  batchSize: number;
  perform(items: Item[], context: OperationContext<Settings>): Promise<BatchResult>;
}

export interface SettingProperty {
  type: 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';
  description?: string;
  default?: unknown;
  /** Marks a credential: never returned by an API, see `redactSettings`. */
  'x-secret'?: boolean;
  /** Marks a URL setting besides `baseUrl` (an auth or SOAP host) that the sandbox points at its emulator. */
  'x-endpoint'?: boolean;
  [keyword: string]: unknown;
}

/** JSON Schema of a destination's settings; `baseUrl` (string with a default) is required by the kit. */
export interface SettingsSchema {
  type: 'object';
  properties: Record<string, SettingProperty> & { baseUrl: SettingProperty };
  required?: string[];
  additionalProperties?: boolean;
}

export interface DestinationDefinition<Settings = Record<string, unknown>> {
  /** Stable identifier, e.g. `klaviyo`. */
  type: string;
  /** Human-readable name, e.g. `Klaviyo`. */
  name: string;
  /**
   * The ESP's own hosts, as patterns (`a.klaviyo.com`, `*.api.mailchimp.com`, `rest.*.braze.eu`; `*` is one
   * label): every request (token and redirect included) goes to one of them over https, or to a URL the
   * deployment allows (TESSERA_ALLOWED_DESTINATION_HOSTS), and never to a private, loopback or link-local
   * address. Settings naming another host are refused when saved and at start-up.
   */
  hosts: readonly string[];
  settingsSchema: SettingsSchema;
  /** Headers sent with every request: credentials, pinned API version. `token` is set when `authentication` is. */
  requestHeaders(settings: Settings, token?: string): Record<string, string>;
  /** Content type of JSON request bodies (default `application/json`). */
  contentType?: string;
  /**
   * Derives settings the ESP computes from others, after validation (Mailchimp's data center from the API
   * key's suffix, SFMC's hosts from the subdomain). Problems are reported like validation errors.
   */
  resolveSettings?(settings: Settings): SettingsValidation<Settings>;
  /** Most requests in flight at once per ESP account (Mailchimp: 10 connections per key). */
  maxConcurrentRequests?: number;
  /**
   * How the ESP finds a profile: by Tessera's customer id (Braze's external id, an SFMC data extension's primary
   * key) or by a contact point (default: Klaviyo and Mailchimp key members by email). Keyed by customer id, a
   * change-only write leaves out an email or phone the ESP already holds (Braze bills every field written).
   */
  profileKey?: 'customerId' | 'contactPoint';
  /** The ESP's rate limits, by name: each is counted per ESP account (`accountKey`) across every worker. */
  rateBudgets?: Record<string, RateBudget>;
  /**
   * What identifies the ESP account whose limits the ESP counts together (default: a hash of type, baseUrl and
   * every x-secret setting): two destination instances on one account share its budgets.
   */
  accountKey?(settings: Settings): string;
  /** Declared by OAuth destinations: tokens are cached (shared across workers) and refreshed once on a 401. */
  authentication?: TokenAuthentication<Settings>;
  /** Resolves when the settings work against the ESP; throws a DeliveryError otherwise. */
  testConnection(context: OperationContext<Settings>): Promise<void>;
  operations: { [K in OperationName]?: OperationDefinition<OperationItems[K], Settings> };
  /**
   * Verifies an inbound webhook (throws AuthError when its signature is wrong, ValidationError when its body
   * is malformed) and returns the opt-outs it reports.
   */
  parseInboundUnsubscribes?(
    request: InboundRequest,
    context: { settings: Settings; clock: Clock },
  ): InboundUnsubscribe[];
  /**
   * Answers a webhook's set-up handshake (Mailchimp's GET check of the URL; SFMC's verification key, confirmed
   * with a call back to the ESP), or returns undefined when `request` is a notification for
   * `parseInboundUnsubscribes`.
   */
  answerInboundHandshake?(
    request: InboundRequest,
    context: OperationContext<Settings>,
  ): Promise<InboundReply | undefined>;
  /** Reads the opt-outs recorded since `cursor` (undefined: from the start of the ESP's retention). */
  pollInboundUnsubscribes?(
    cursor: string | undefined,
    context: OperationContext<Settings>,
  ): Promise<InboundPoll>;
}

export class DestinationDefinitionError extends Error {
  constructor(destination: string, field: string, problem: string) {
    super(`Destination "${destination}": ${field} ${problem}`);
    this.name = 'DestinationDefinitionError';
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
ajv.addKeyword({ keyword: 'x-secret', schemaType: 'boolean' });
ajv.addKeyword({ keyword: 'x-endpoint', schemaType: 'boolean' });
const compiled = new WeakMap<SettingsSchema, ValidateFunction>();

function validatorFor(schema: SettingsSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

const isPositiveInteger = (value: unknown): boolean => Number.isInteger(value) && (value as number) > 0;

/** Delivery windows wait this long by default (ms) before a flush: `windowMs` absent from the settings. */
export const DEFAULT_DELIVERY_WINDOW_MS = 2_000;

/**
 * The one setting every destination has, added by `defineDestination`: how long items gather in the pipeline's
 * delivery window before they go in one request (ms; absent = DEFAULT_DELIVERY_WINDOW_MS, 0 = no window).
 */
export const DELIVERY_WINDOW_SETTING: SettingProperty = {
  type: 'integer',
  minimum: 0,
  maximum: 60_000,
  description:
    'How long items gather before they are sent together (ms; default 2000, 0 sends each batch at once)',
};

/**
 * What reaches the ESP of a member without a marketing grant for the channel (email) at the destination's
 * brand (withdrawn, no record, or a basis that is no grant): `minimal` (the default) sends a record with the
 * member's identifiers and subscription state only, `none` sends nothing but unsubscribes, suppressions and
 * deletions, `full` sends what the rules and plugins produce. The pipeline enforces it after rules and plugins.
 */
export type WithoutGrantPolicy = 'minimal' | 'none' | 'full';

export const WITHOUT_GRANT_POLICIES: readonly WithoutGrantPolicy[] = ['minimal', 'none', 'full'];

/** The policy of a destination whose settings name none: data minimisation. */
export const DEFAULT_WITHOUT_GRANT: WithoutGrantPolicy = 'minimal';

/** The kit's second setting of every destination, added by `defineDestination`: see WithoutGrantPolicy. */
export const WITHOUT_GRANT_SETTING: SettingProperty = {
  type: 'string',
  enum: [...WITHOUT_GRANT_POLICIES],
  description:
    'What a member without a marketing grant is sent as: minimal (identifiers and subscription state only; default), none (nothing), full (everything the rules and plugins produce)',
};

/** The policy a destination's (validated) settings name; absent = DEFAULT_WITHOUT_GRANT. */
export function withoutGrantPolicyOf(settings: Record<string, unknown>): WithoutGrantPolicy {
  const value = settings['withoutGrant'];
  return (WITHOUT_GRANT_POLICIES as readonly unknown[]).includes(value)
    ? (value as WithoutGrantPolicy)
    : DEFAULT_WITHOUT_GRANT;
}

/** Checks a definition when the destination package loads, so that mistakes fail fast and by name. */
export function defineDestination<Settings>(
  definition: DestinationDefinition<Settings>,
): DestinationDefinition<Settings> {
  const label = typeof definition.type === 'string' && definition.type !== '' ? definition.type : '<unnamed>';
  const fail = (field: string, problem: string): never => {
    throw new DestinationDefinitionError(label, field, problem);
  };
  if (label === '<unnamed>') fail('type', 'must be a non-empty string');
  if (typeof definition.name !== 'string' || definition.name === '')
    fail('name', 'must be a non-empty string');
  if (typeof definition.testConnection !== 'function') fail('testConnection', 'must be a function');
  if (typeof definition.requestHeaders !== 'function') fail('requestHeaders', 'must be a function');
  if (!Array.isArray(definition.hosts) || definition.hosts.length === 0)
    fail('hosts', "must list the ESP's hosts (e.g. ['a.klaviyo.com'])");
  definition.hosts.forEach((pattern, index) => {
    const problem = hostPatternProblem(pattern);
    if (problem !== undefined) fail(`hosts[${index}]`, problem);
  });

  const schema = definition.settingsSchema;
  if (schema?.type !== 'object' || typeof schema.properties !== 'object') {
    fail('settingsSchema', 'must be an object schema with properties');
  }
  const baseUrl = schema.properties['baseUrl'] as SettingProperty | undefined;
  if (baseUrl?.type !== 'string') fail('settingsSchema.properties.baseUrl', 'must be a string property');
  if (typeof baseUrl?.default !== 'string')
    fail('settingsSchema.properties.baseUrl.default', 'must be a string');
  try {
    validatorFor(schema);
  } catch (error) {
    fail('settingsSchema', `is not a valid JSON Schema: ${(error as Error).message}`);
  }

  if (
    definition.maxConcurrentRequests !== undefined &&
    !isPositiveInteger(definition.maxConcurrentRequests)
  ) {
    fail(
      'maxConcurrentRequests',
      `must be a positive integer (got ${String(definition.maxConcurrentRequests)})`,
    );
  }

  try {
    new RateBudgets(definition.rateBudgets);
  } catch (error) {
    if (!(error instanceof RateBudgetError)) throw error;
    fail(error.field, error.problem);
  }
  if (definition.accountKey !== undefined && typeof definition.accountKey !== 'function') {
    fail('accountKey', 'must be a function');
  }

  const operations = Object.entries(definition.operations ?? {}) as [string, OperationDefinition<unknown>][];
  if (operations.length === 0) fail('operations', 'must declare at least one operation');
  for (const [name, operation] of operations) {
    const field = `operations.${name}`;
    if (!(OPERATION_NAMES as readonly string[]).includes(name)) fail(field, 'is not a known operation');
    if (typeof operation?.perform !== 'function') fail(`${field}.perform`, 'must be a function');
    if (!isPositiveInteger(operation.batchSize)) {
      fail(`${field}.batchSize`, `must be a positive integer (got ${String(operation.batchSize)})`);
    }
    // Per-operation limits were replaced by rateBudgets: one left behind would pace nothing.
    for (const gone of ['rateLimits', 'requestCost']) {
      if (gone in operation) fail(`${field}.${gone}`, 'is no longer read: declare the limits in rateBudgets');
    }
  }
  // A definition built from another one already has it; a destination's own `windowMs` would clash.
  const windowSetting = schema.properties['windowMs'];
  if (windowSetting !== undefined && windowSetting !== DELIVERY_WINDOW_SETTING)
    fail('settingsSchema.properties.windowMs', "is the kit's own setting (the delivery window)");
  const grantSetting = schema.properties['withoutGrant'];
  if (grantSetting !== undefined && grantSetting !== WITHOUT_GRANT_SETTING)
    fail('settingsSchema.properties.withoutGrant', "is the kit's own setting (members without a grant)");
  // Every destination that merges shares the kit's cooling-off (the runner holds merges until it ends).
  const merges = definition.operations?.mergeProfiles !== undefined;
  const coolingOffSetting = schema.properties['mergeCoolingOffMinutes'];
  if (coolingOffSetting !== undefined && coolingOffSetting !== MERGE_COOLING_OFF_SETTING)
    fail(
      'settingsSchema.properties.mergeCoolingOffMinutes',
      "is the kit's own setting (the merge cooling-off)",
    );
  return {
    ...definition,
    settingsSchema: {
      ...schema,
      properties: {
        ...schema.properties,
        windowMs: DELIVERY_WINDOW_SETTING,
        withoutGrant: WITHOUT_GRANT_SETTING,
        ...(merges ? { mergeCoolingOffMinutes: MERGE_COOLING_OFF_SETTING } : {}),
      },
    },
  };
}

/** Names of the top-level settings marked `"x-secret": true`. */
export function secretSettingNames(schema: SettingsSchema): string[] {
  return Object.entries(schema.properties)
    .filter(([, property]) => property['x-secret'] === true)
    .map(([name]) => name);
}

/** A copy of the settings with every secret that is set replaced by `'***'`: the only form an API may return. */
export function redactSettings<T extends Record<string, unknown>>(schema: SettingsSchema, settings: T): T {
  const redacted: Record<string, unknown> = { ...settings };
  for (const name of secretSettingNames(schema)) {
    if (redacted[name] !== undefined) redacted[name] = '***';
  }
  return redacted as T;
}

export interface SettingsIssue {
  /** JSON Pointer to the offending setting, e.g. `/apiKey`. */
  pointer: string;
  message: string;
}

export type SettingsValidation<Settings> =
  { ok: true; settings: Settings } | { ok: false; errors: SettingsIssue[] };

/** Validates settings against the schema and applies its defaults (on a copy: the input is untouched). */
export function validateSettings<Settings = Record<string, unknown>>(
  schema: SettingsSchema,
  settings: unknown,
): SettingsValidation<Settings> {
  const validate = validatorFor(schema);
  const copy: unknown = structuredClone(settings);
  if (validate(copy)) return { ok: true, settings: copy as Settings };
  const errors = (validate.errors ?? []).map((error): SettingsIssue => {
    const params = error.params as { missingProperty?: string; additionalProperty?: string };
    const child = params.missingProperty ?? params.additionalProperty;
    const pointer =
      child === undefined ? error.instancePath : `${error.instancePath}/${escapePointer(child)}`;
    return { pointer: pointer === '' ? '/' : pointer, message: error.message ?? 'is invalid' };
  });
  return { ok: false, errors };
}

/** Validates settings, applies their defaults, then lets the destination derive the rest (`resolveSettings`). */
export function resolveDestinationSettings<Settings>(
  definition: Pick<DestinationDefinition<Settings>, 'settingsSchema' | 'resolveSettings'>,
  settings: unknown,
): SettingsValidation<Settings> {
  const validation = validateSettings<Settings>(definition.settingsSchema, settings);
  if (!validation.ok || definition.resolveSettings === undefined) return validation;
  return definition.resolveSettings(validation.settings);
}

/**
 * A copy of the settings with `baseUrl` and every `x-endpoint` setting pointed at `url`: how the sandbox and the
 * harness aim a destination at its emulator, which serves all of the ESP's hosts under one root.
 */
export function pointSettingsAt(
  schema: SettingsSchema,
  settings: Record<string, unknown>,
  url: string,
): Record<string, unknown> {
  const pointed: Record<string, unknown> = { ...settings, baseUrl: url };
  for (const [name, property] of Object.entries(schema.properties)) {
    if (property['x-endpoint'] === true) pointed[name] = url;
  }
  return pointed;
}

function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}
