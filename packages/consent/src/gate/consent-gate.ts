import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import type { ConsentChannel, ConsentScope, ConsentState } from '../consent-contract';
import { decideConsent, decidingState, type ConsentVerdict } from './consent-decision';
import type { ConsentStateReader } from './consent-state-reader';
import { LruCache } from './lru-cache';

export const DEFAULT_CONSENT_CACHE_SIZE = 100_000;
export const DEFAULT_CONSENT_CACHE_TTL_MS = 60_000;

export interface ConsentGateOptions {
  reader: ConsentStateReader;
  /** A connection to share for PUBLISH; the gate subscribes on a `duplicate()` of it, which it owns. */
  redis: Redis;
  /** The deployment's key prefix: invalidations go on `${prefix}:consent:invalidate`. */
  prefix: string;
  /** Contact point × brand entries kept (default 100,000). */
  cacheSize?: number;
  /** How long a loaded entry is trusted without an invalidation (default 60 s): bounds a lost message. */
  ttlMs?: number;
  /** Milliseconds now (injectable for tests). */
  now?: () => number;
  /** Errors of the subscription connection (it reconnects by itself, and the cache is dropped when it does). */
  onError?: (error: Error) => void;
}

/** A verdict and the ledger state that decided it (absent: no record for the scope). */
export interface ConsentDecisionWithState {
  verdict: ConsentVerdict;
  state?: ConsentState;
}

export interface ConsentRequest {
  subjectKey: string;
  scope: ConsentScope;
}

/** An invalidation as published: the contact points of one brand whose consent or suppression changed. */
interface InvalidationMessage {
  /** The publishing gate, which has dropped the keys already and ignores its own echo. */
  origin: string;
  brand: string;
  keys: string[];
}

/** What the gate keeps per contact point and brand. */
interface CacheEntry {
  states: readonly ConsentState[];
  suppressed: boolean;
  expiresAt: number;
  /** Verdicts already decided for this entry, by `channel \0 purpose`. */
  verdicts: Map<string, ConsentVerdict>;
}

const cacheKey = (subjectKey: string, brand: string) => `${brand}\u0000${subjectKey}`;
const scopeKey = (channel: ConsentChannel, purpose: string) => `${channel}\u0000${purpose}`;

/**
 * The question the pipeline asks per event and destination: may this contact point's record be synced to
 * this brand's ESP, subscribed, sent messages — which operations?
 *
 * Loaded consent (every state of one contact point for one brand, and whether it is suppressed) is kept in a
 * bounded in-process LRU, so a warm decision is a map lookup (`decideCached`). Writers of the ledger and the
 * suppression list call `invalidate`, which drops the entries here and PUBLISHes them to every other gate;
 * each gate SUBSCRIBEs on a connection of its own. Pub/sub is fire-and-forget, so entries also expire after
 * `ttlMs`, and a resubscription after a lost connection drops the whole cache. A load that was in flight when
 * its key was invalidated answers its callers but is not cached (per-key generations).
 */
export class ConsentGate {
  readonly channel: string;
  private readonly id = randomUUID();
  private readonly reader: ConsentStateReader;
  private readonly redis: Redis;
  private readonly cache: LruCache<string, CacheEntry>;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly onError: ((error: Error) => void) | undefined;
  private subscriber: Redis | undefined;
  /** Loads in flight per cache key, and the key's invalidation generation while any is. */
  private readonly inflight = new Map<string, { loads: number; generation: number }>();
  /** Bumped by a full drop (resubscription): no load started before it is cached. */
  private epoch = 0;
  private readonly stats = { hits: 0, misses: 0, loads: 0, invalidations: 0, staleLoadsDiscarded: 0 };

  constructor(options: ConsentGateOptions) {
    this.reader = options.reader;
    this.redis = options.redis;
    this.channel = `${options.prefix}:consent:invalidate`;
    this.cache = new LruCache(options.cacheSize ?? DEFAULT_CONSENT_CACHE_SIZE);
    this.ttlMs = options.ttlMs ?? DEFAULT_CONSENT_CACHE_TTL_MS;
    this.now = options.now ?? Date.now;
    this.onError = options.onError;
  }

  /** Counters for metrics and tests. */
  get counters(): Readonly<typeof this.stats> & { cached: number } {
    return { ...this.stats, cached: this.cache.size };
  }

  /** Subscribes to invalidations; resolves once subscribed. */
  async start(): Promise<void> {
    if (this.subscriber !== undefined) return;
    const subscriber = this.redis.duplicate({ connectionName: `${this.channel}:${this.id}` });
    this.subscriber = subscriber;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.receive(message);
    });
    // ioredis reconnects and re-subscribes by itself; without a listener an error would crash the process.
    subscriber.on('error', (error: Error) => this.onError?.(error));
    if (subscriber.status === 'wait') await subscriber.connect();
    else if (subscriber.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        subscriber.once('ready', resolve);
        subscriber.once('end', () => reject(new Error('the consent gate could not connect to Redis')));
      });
    }
    await subscriber.subscribe(this.channel);
    // Every later `ready` is a reconnection (ioredis re-subscribes): messages published while disconnected
    // are lost, so trust nothing loaded before.
    subscriber.on('ready', () => this.dropAll());
  }

  /** The verdict when this contact point and brand are cached and fresh; undefined otherwise. Synchronous. */
  decideCached(subjectKey: string, scope: ConsentScope): ConsentVerdict | undefined {
    const entry = this.cachedEntry(subjectKey, scope.brand);
    if (entry === undefined) return undefined;
    this.stats.hits += 1;
    return verdictOf(entry, scope);
  }

  /** The cached entry of a contact point and brand, unless it expired (then it is dropped). */
  private cachedEntry(subjectKey: string, brand: string): CacheEntry | undefined {
    const key = cacheKey(subjectKey, brand);
    const entry = this.cache.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.cache.delete(key);
      return undefined;
    }
    return entry;
  }

  async decide(subjectKey: string, scope: ConsentScope): Promise<ConsentVerdict> {
    const cached = this.decideCached(subjectKey, scope);
    if (cached !== undefined) return cached;
    const [verdict] = await this.decideMany([{ subjectKey, scope }]);
    return verdict as ConsentVerdict;
  }

  /**
   * Verdicts in request order. Misses are loaded once per brand for the whole batch (one reader call, i.e. two
   * set-based queries, per brand).
   */
  async decideMany(requests: readonly ConsentRequest[]): Promise<ConsentVerdict[]> {
    const verdicts: (ConsentVerdict | undefined)[] = new Array(requests.length);
    await this.entriesFor(requests, (i, entry) => {
      verdicts[i] = verdictOf(entry, (requests[i] as ConsentRequest).scope);
    });
    return verdicts as ConsentVerdict[];
  }

  /**
   * As `decideMany`, each verdict with the ledger state that decided it (none without a record): the route
   * stage stamps subscriptions at the ESP with the consent's time.
   */
  async decideManyWithStates(requests: readonly ConsentRequest[]): Promise<ConsentDecisionWithState[]> {
    const decided: ConsentDecisionWithState[] = new Array(requests.length);
    await this.entriesFor(requests, (i, entry) => {
      const scope = (requests[i] as ConsentRequest).scope;
      const state = decidingState({ ...scope, states: entry.states });
      decided[i] = { verdict: verdictOf(entry, scope), ...(state === undefined ? {} : { state }) };
    });
    return decided;
  }

  /**
   * Calls `each` with every request's entry (cached, or loaded once per brand for the whole batch: one reader
   * call, i.e. two set-based queries, per brand).
   */
  private async entriesFor(
    requests: readonly ConsentRequest[],
    each: (index: number, entry: CacheEntry) => void,
  ): Promise<void> {
    const missed: number[] = [];
    const missesByBrand = new Map<string, Set<string>>();
    for (let i = 0; i < requests.length; i++) {
      const request = requests[i] as ConsentRequest;
      const entry = this.cachedEntry(request.subjectKey, request.scope.brand);
      if (entry !== undefined) {
        this.stats.hits += 1;
        each(i, entry);
        continue;
      }
      missed.push(i);
      let keys = missesByBrand.get(request.scope.brand);
      if (keys === undefined) missesByBrand.set(request.scope.brand, (keys = new Set()));
      keys.add(request.subjectKey);
    }
    if (missesByBrand.size === 0) return;
    const loaded = new Map<string, CacheEntry>();
    await Promise.all(
      [...missesByBrand].map(async ([brand, keys]) => {
        for (const [key, entry] of await this.load([...keys], brand)) loaded.set(key, entry);
      }),
    );
    for (const i of missed) {
      const request = requests[i] as ConsentRequest;
      each(i, loaded.get(cacheKey(request.subjectKey, request.scope.brand)) as CacheEntry);
    }
  }

  /**
   * Drops these contact points of this brand here and in every other gate. Call it after the ledger or the
   * suppression list changed (after the commit). `brand` `'*'` (a suppression for every brand) drops them for
   * all brands.
   */
  async invalidate(subjectKeys: readonly string[], brand: string): Promise<void> {
    if (subjectKeys.length === 0) return;
    this.drop(subjectKeys, brand);
    const message: InvalidationMessage = { origin: this.id, brand, keys: [...subjectKeys] };
    await this.redis.publish(this.channel, JSON.stringify(message));
  }

  /** Unsubscribes and closes the gate's own connection (not the shared one). */
  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber === undefined) return;
    try {
      await subscriber.quit();
    } catch {
      subscriber.disconnect();
    }
  }

  private async load(subjectKeys: string[], brand: string): Promise<Map<string, CacheEntry>> {
    const keys = subjectKeys.map((subjectKey) => cacheKey(subjectKey, brand));
    const startEpoch = this.epoch;
    const startGenerations = keys.map((key) => {
      let flight = this.inflight.get(key);
      if (flight === undefined) this.inflight.set(key, (flight = { loads: 0, generation: 0 }));
      flight.loads += 1;
      return flight.generation;
    });
    this.stats.misses += subjectKeys.length;
    this.stats.loads += 1;
    try {
      const { states, suppressed } = await this.reader.load(subjectKeys, brand);
      const bySubject = new Map<string, ConsentState[]>();
      for (const state of states) {
        if (state.scope.brand !== brand) continue;
        let list = bySubject.get(state.subject.key);
        if (list === undefined) bySubject.set(state.subject.key, (list = []));
        list.push(state);
      }
      const expiresAt = this.now() + this.ttlMs;
      const entries = new Map<string, CacheEntry>();
      for (let i = 0; i < subjectKeys.length; i++) {
        const subjectKey = subjectKeys[i] as string;
        const key = keys[i] as string;
        const entry: CacheEntry = {
          states: bySubject.get(subjectKey) ?? [],
          suppressed: suppressed.has(subjectKey),
          expiresAt,
          verdicts: new Map(),
        };
        entries.set(key, entry);
        const current = this.inflight.get(key)?.generation ?? 0;
        if (this.epoch === startEpoch && current === startGenerations[i]) this.cache.set(key, entry);
        else this.stats.staleLoadsDiscarded += 1;
      }
      return entries;
    } finally {
      for (const key of keys) {
        const flight = this.inflight.get(key);
        if (flight !== undefined && --flight.loads === 0) this.inflight.delete(key);
      }
    }
  }

  private receive(message: string): void {
    let parsed: InvalidationMessage;
    try {
      parsed = JSON.parse(message) as InvalidationMessage;
    } catch {
      return;
    }
    if (typeof parsed?.brand !== 'string' || !Array.isArray(parsed.keys)) return;
    if (parsed.origin === this.id) return;
    this.drop(
      parsed.keys.filter((key): key is string => typeof key === 'string'),
      parsed.brand,
    );
  }

  private drop(subjectKeys: readonly string[], brand: string): void {
    this.stats.invalidations += 1;
    if (brand === '*') {
      // A suppression for every brand: drop these contact points whatever the brand.
      const wanted = new Set(subjectKeys);
      for (const key of [...this.cache.keys()]) {
        if (wanted.has(key.slice(key.indexOf('\u0000') + 1))) this.cache.delete(key);
      }
      for (const [key, flight] of this.inflight) {
        if (wanted.has(key.slice(key.indexOf('\u0000') + 1))) flight.generation += 1;
      }
      return;
    }
    for (const subjectKey of subjectKeys) {
      const key = cacheKey(subjectKey, brand);
      this.cache.delete(key);
      const flight = this.inflight.get(key);
      if (flight !== undefined) flight.generation += 1;
    }
  }

  private dropAll(): void {
    this.epoch += 1;
    this.cache.clear();
  }
}

function verdictOf(entry: CacheEntry, scope: ConsentScope): ConsentVerdict {
  const key = scopeKey(scope.channel, scope.purpose);
  let verdict = entry.verdicts.get(key);
  if (verdict === undefined) {
    verdict = decideConsent({
      states: entry.states,
      suppressed: entry.suppressed,
      channel: scope.channel,
      purpose: scope.purpose,
      brand: scope.brand,
    });
    entry.verdicts.set(key, verdict);
  }
  return verdict;
}
