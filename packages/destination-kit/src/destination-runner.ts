import { settleBatch, type SettleOptions } from './batch-outcome';
import {
  type AccessToken,
  type BatchResult,
  type DestinationDefinition,
  type InboundPoll,
  type InboundReply,
  type InboundRequest,
  type InboundUnsubscribe,
  type OperationContext,
  type OperationDefinition,
  type ProfileMerge,
  type OperationItems,
  type OperationName,
  resolveDestinationSettings,
} from './destination-definition';
import { AuthError, isDeliveryError } from './delivery-errors';
import { AllowedDestinationHosts, DestinationHostPolicy, type HostLookup } from './destination-hosts';
import { type ConnectionGate, processConnectionGate } from './connection-gate';
import { DestinationHttpClient } from './http-client';
import { mergeCoolingOffMsOf, releaseDueMerges } from './merge-cooling-off';
import { type RateGate } from './rate-gate';
import {
  destinationAccountKey,
  destinationHostUrls,
  type RateBudgetPacing,
  rateBudgetsOf,
} from './rate-budgets';
import { type Clock, systemClock } from './retry-policy';
import { isTokenUsable, MemoryTokenCache, type TokenCache } from './token-cache';

export class DestinationSettingsError extends Error {
  constructor(
    readonly destination: string,
    readonly issues: { pointer: string; message: string }[],
  ) {
    super(
      `Destination "${destination}" settings are invalid: ${issues
        .map((issue) => `${issue.pointer} ${issue.message}`)
        .join('; ')}`,
    );
    this.name = 'DestinationSettingsError';
  }
}

export interface DestinationRunnerOptions {
  /** Raw settings of this destination instance; validated (defaults applied) when the runner is built. */
  settings: unknown;
  clock?: Clock;
  /** Shared OAuth token store (default: in memory). */
  tokenCache?: TokenCache;
  /** Key of this destination instance in the token cache (default `{type}:{baseUrl}`). */
  instanceKey?: string;
  /** Enforces the definition's `rateBudgets` on every request, per ESP account. Default: none, the caller paces itself. */
  rateGate?: RateGate;
  /** Enforces the definition's `maxConcurrentRequests` per ESP account (default: one gate for the process). */
  connectionGate?: ConnectionGate;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  settle?: SettleOptions;
  /**
   * What the deployment allows beyond the definition's own `hosts` (TESSERA_ALLOWED_DESTINATION_HOSTS, the
   * embedded sandbox, a test's local server). Default: nothing, so only the ESP's hosts over https.
   */
  allowedHosts?: AllowedDestinationHosts;
  /** Resolves host names before connecting (default node's dns.lookup; tests stand in a DNS of their own). */
  hostLookup?: HostLookup;
}

/**
 * Runs a destination's operations the way the pipeline does: settings validated once, items cut into the
 * operation's batch size, every request paced by the ESP account's rate budgets and connection cap,
 * whole-batch failures settled into per-item results, and an OAuth token fetched, cached and refreshed once
 * when the ESP answers 401/403.
 */
export class DestinationRunner<Settings extends Record<string, unknown> = Record<string, unknown>> {
  readonly settings: Settings;
  /** The ESP account this instance sends as (see destinationAccountKey): budgets and connections count per it. */
  readonly accountKey: string;
  private readonly clock: Clock;
  private readonly tokens: TokenCache;
  private readonly key: string;
  private readonly pacing: RateBudgetPacing | undefined;
  private readonly timeoutMs: number;
  private readonly connectionGate: ConnectionGate;
  private readonly settle: SettleOptions;
  private readonly hosts: DestinationHostPolicy;
  private pendingToken: Promise<AccessToken> | undefined;

  constructor(
    readonly definition: DestinationDefinition<Settings>,
    options: DestinationRunnerOptions,
  ) {
    const validation = resolveDestinationSettings<Settings>(definition, options.settings);
    if (!validation.ok) throw new DestinationSettingsError(definition.type, validation.errors);
    this.settings = validation.settings;
    this.clock = options.clock ?? systemClock;
    this.tokens = options.tokenCache ?? new MemoryTokenCache(this.clock);
    this.key = options.instanceKey ?? `${definition.type}:${String(this.settings['baseUrl'])}`;
    this.accountKey = destinationAccountKey(definition, this.settings);
    const budgets = rateBudgetsOf(definition);
    this.pacing =
      options.rateGate === undefined || budgets.size === 0
        ? undefined
        : {
            gate: options.rateGate,
            accountKey: this.accountKey,
            budgets,
            hosts: destinationHostUrls(definition.settingsSchema, this.settings),
          };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.connectionGate = options.connectionGate ?? processConnectionGate;
    this.settle = options.settle ?? {};
    this.hosts = new DestinationHostPolicy(
      definition,
      options.allowedHosts ?? AllowedDestinationHosts.none,
      options.hostLookup === undefined ? {} : { lookup: options.hostLookup },
    );
  }

  /** Delivers `items` with operation `name`: one result per item, in order. Throws AuthError when credentials fail. */
  async run<K extends OperationName>(name: K, items: OperationItems[K][]): Promise<BatchResult> {
    const operation = this.definition.operations[name];
    if (operation === undefined) {
      throw new Error(`Destination "${this.definition.type}" has no operation ${name}`);
    }
    if (name === 'mergeProfiles') {
      // Merges still cooling off (or never to be sent) are answered here; the destination sees only due ones.
      return releaseDueMerges(
        items as ProfileMerge[],
        {
          coolingOffMs: mergeCoolingOffMsOf(this.settings),
          nowMs: this.clock.now(),
          espName: this.definition.name,
        },
        (due) => this.runBatches(operation as OperationDefinition<unknown, Settings>, due),
      );
    }
    return this.runBatches(operation as OperationDefinition<unknown, Settings>, items);
  }

  private async runBatches(
    operation: OperationDefinition<unknown, Settings>,
    items: unknown[],
  ): Promise<BatchResult> {
    const results: BatchResult = [];
    for (let start = 0; start < items.length; start += operation.batchSize) {
      const batch = items.slice(start, start + operation.batchSize);
      const settled = await settleBatch(
        batch,
        (group) => this.withContext((context) => operation.perform(group, context)),
        this.settle,
      );
      results.push(...settled);
    }
    return results;
  }

  testConnection(): Promise<void> {
    return this.withContext((context) => this.definition.testConnection(context));
  }

  /** Verifies and parses an inbound webhook; throws when the destination has no webhook or its signature is wrong. */
  parseInboundUnsubscribes(request: InboundRequest): InboundUnsubscribe[] {
    const parse = this.definition.parseInboundUnsubscribes;
    if (parse === undefined) {
      throw new Error(`Destination "${this.definition.type}" does not receive unsubscribe webhooks`);
    }
    return parse.call(this.definition, request, { settings: this.settings, clock: this.clock });
  }

  /** The reply to a webhook handshake, or undefined when `request` is a notification (or the ESP has none). */
  async answerInboundHandshake(request: InboundRequest): Promise<InboundReply | undefined> {
    const answer = this.definition.answerInboundHandshake;
    if (answer === undefined) return undefined;
    return this.withContext((context) => answer.call(this.definition, request, context));
  }

  pollInboundUnsubscribes(cursor: string | undefined): Promise<InboundPoll> {
    const poll = this.definition.pollInboundUnsubscribes;
    if (poll === undefined) {
      throw new Error(`Destination "${this.definition.type}" cannot poll for unsubscribes`);
    }
    return this.withContext((context) => poll.call(this.definition, cursor, context));
  }

  /** Runs `work` with a client carrying the current credentials; on an auth failure refreshes the token once. */
  private async withContext<T>(work: (context: OperationContext<Settings>) => Promise<T>): Promise<T> {
    if (this.definition.authentication === undefined) return work(this.context(undefined));
    const token = await this.token(false);
    try {
      return await work(this.context(token.value));
    } catch (error) {
      if (!(isDeliveryError(error) && error.kind === 'auth')) throw error;
      const fresh = await this.token(true, token.value);
      try {
        return await work(this.context(fresh.value));
      } catch (retryError) {
        if (isDeliveryError(retryError) && retryError.kind === 'auth') {
          throw new AuthError(`${retryError.message} (after refreshing the access token)`, {
            ...(retryError.status === undefined ? {} : { status: retryError.status }),
            ...(retryError.body === undefined ? {} : { body: retryError.body }),
          });
        }
        throw retryError;
      }
    }
  }

  /**
   * The cached token, or a new one. `refresh` drops the cached token first unless another caller already
   * replaced the one that failed (`failed`), so concurrent 401s cause one token request, not many.
   */
  private async token(refresh: boolean, failed?: string): Promise<AccessToken> {
    const cacheKey = `token:${this.key}`;
    if (refresh) {
      const current = await this.tokens.get(cacheKey);
      if (current !== undefined && current.value !== failed && isTokenUsable(current, this.clock.now())) {
        return current;
      }
      await this.tokens.delete(cacheKey);
    } else {
      const cached = await this.tokens.get(cacheKey);
      if (isTokenUsable(cached, this.clock.now())) return cached;
    }
    if (this.pendingToken === undefined) {
      this.pendingToken = this.fetchToken(cacheKey).finally(() => {
        this.pendingToken = undefined;
      });
    }
    return this.pendingToken;
  }

  private async fetchToken(cacheKey: string): Promise<AccessToken> {
    const authentication = this.definition.authentication;
    if (authentication === undefined) throw new Error('unreachable: no authentication declared');
    const token = await authentication.fetchToken({ ...this.context(undefined), http: this.client({}) });
    await this.tokens.set(cacheKey, token);
    return token;
  }

  private context(token: string | undefined): OperationContext<Settings> {
    return {
      settings: this.settings,
      clock: this.clock,
      http: this.client(this.definition.requestHeaders(this.settings, token)),
      ...(token === undefined ? {} : { token }),
    };
  }

  private client(headers: Record<string, string>): DestinationHttpClient {
    return new DestinationHttpClient({
      baseUrl: String(this.settings['baseUrl']),
      hosts: this.hosts,
      headers,
      timeoutMs: this.timeoutMs,
      clock: this.clock,
      ...(this.definition.contentType === undefined ? {} : { contentType: this.definition.contentType }),
      ...(this.definition.maxConcurrentRequests === undefined
        ? {}
        : {
            connections: {
              gate: this.connectionGate,
              key: this.accountKey,
              limit: this.definition.maxConcurrentRequests,
            },
          }),
      ...(this.pacing === undefined ? {} : { rateBudgets: this.pacing }),
    });
  }
}
