import { randomBytes } from 'node:crypto';
import type { PiiVault, SqlExecutor, Store } from '@tessera/store';
import {
  DEFAULT_IDENTITY_CONFIG,
  identifierLabel,
  normalizeIdentifiers,
  normalizeIdentifierValue,
  type IdentifierType,
  type IdentityGraphConfig,
  type NormalizedIdentifier,
} from './identifiers';
import { PROFILE_TRAITS, type TraitValues } from './profiles/profile-traits';
import { ProfileBook } from './profiles/profile-book';
import { parseProfileReference, ProfileReferenceError, type ProfileReference } from './profile-reference';
import {
  recomputeComponents,
  type ChangeCause,
  type RecomputeResult,
} from './resolution/component-recompute';
import {
  appendEdges,
  blockPairs,
  identifierByKey,
  identifierContext,
  identifiersOfCustomers,
  IdentifierKeys,
  type IdentifierRow,
  prepareIdentifierRows,
  profilesOfIdentifiers,
  retractEdges,
  TOMBSTONE_KEY_PREFIX,
  upsertIdentifiers,
  type NewEdge,
} from './resolution/graph-repository';
import {
  prepareRecords,
  resolvePrepared,
  type IdentityRecord,
  type ResolutionResult,
} from './resolution/identity-resolver';
import { entryOf } from './resolution/entry-of';
import {
  listSharedIdentifiers,
  maskIdentifierValue,
  sharedIdentifiersOf,
  type SharedIdentifierView,
} from './resolution/shared-identifier-repository';
import { ERASED_REASON, eraseProfileIn, type ErasureReport } from './erasure/profile-erasure';

export type { ErasureReport } from './erasure/profile-erasure';

export interface IdentityGraphOptions {
  store: Store;
  vault: PiiVault;
  config?: IdentityGraphConfig;
  /** Each brand's default country, for phone numbers given without one. */
  brands?: ReadonlyArray<{ id: string; defaultCountry: string }>;
  defaultCountry?: string;
  clock?: () => Date;
}

export interface ProfileIdentifierView {
  type: IdentifierType;
  scope: string;
  label: string;
  /** The value; PII (email, phone) only when the caller may see it, masked otherwise. */
  value: string;
  /** The identifier's blind index: what the consent ledger keys a contact point by (no PII). */
  subjectKey: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
  quarantined: string | null;
}

export interface LineageView {
  id: number;
  /** `join`: new identifiers joined an existing profile (`loser` is the id they would have had alone). */
  kind: 'merge' | 'split' | 'join';
  winner: string;
  loser: string;
  rule: string;
  /** Why the join holds: `shared email`, `account.linked`, `manual`, …; null for splits and rekeys. */
  basis: string | null;
  edgeIds: number[];
  eventSource: string | null;
  eventId: string | null;
  actor: string | null;
  revertedBy: number | null;
  at: Date;
}

/**
 * What the pipeline needs of a profile to sync it: its version, its traits (PII in the clear: this is the
 * payload that leaves for the ESPs), its current contact points with their blind indexes (the consent
 * ledger's subject keys) and whether it is a guest (no member identity: no customer id, member id or card).
 */
export interface CustomerView {
  customerId: string;
  version: number;
  traits: TraitValues;
  /** The event time of each trait's value (ISO 8601): `points_balance`'s is when the points last moved. */
  traitTimes: Record<string, string>;
  email?: { value: string; key: string };
  phone?: { value: string; key: string };
  guest: boolean;
}

/** Identifier types that make a profile a member rather than a guest. */
const MEMBER_IDENTIFIER_TYPES = new Set(['customer_id', 'member', 'loyalty_card']);

export interface ProfileView {
  customerId: string;
  /** Set when the reference named a profile that was merged away: the id it pointed at. */
  requestedCustomerId?: string;
  version: number;
  traits: TraitValues;
  traitTimes: Record<string, string>;
  identifiers: ProfileIdentifierView[];
  /** Contact points this member shares with another (a family email): held by that profile, linking nothing here. */
  sharedContactPoints: SharedIdentifierView[];
  lineage: LineageView[];
}

/** A merge the loyalty platform made and announced (`membership.merged`): `from` was folded into `to`. */
export interface PlatformMerge {
  fromCustomerId: string;
  toCustomerId: string;
  /** The event that announced it: the edge, the lineage and any refusal name it. */
  eventSource: string;
  eventId: string;
  eventTime: Date;
  reason?: string;
}

/**
 * What became of a platform merge: `merged` (one profile now; `customerId` is the survivor), `unchanged` (they
 * already were one), or `refused` by the graph's rules (nothing written; the reason says why).
 */
export type PlatformMergeOutcome =
  { status: 'merged' | 'unchanged'; customerId: string } | { status: 'refused'; reason: string };

/** A merge, unmerge or review decision the graph's rules refuse (e.g. an anchor conflict). */
export class IdentityChangeRefusedError extends Error {}
export class IdentityNotFoundError extends Error {}

// One writer at a time per database: resolution reads components and rewrites them, and two writers
// interleaving could each see half a merge. The lock is transaction-scoped, so a crash releases it.
const GRAPH_WRITE_LOCK = 7_302_115_012;

/**
 * The identity graph's API for the apps: resolve a batch of records, read a profile by any identifier, and
 * change the graph by hand (merge, unmerge) with every change explained in lineage and announced in the
 * outbox.
 */
export class IdentityGraph {
  readonly config: IdentityGraphConfig;
  readonly keys: IdentifierKeys;
  private countries: Map<string, string>;
  private readonly clock: () => Date;

  constructor(private readonly options: IdentityGraphOptions) {
    this.config = options.config ?? DEFAULT_IDENTITY_CONFIG;
    this.keys = new IdentifierKeys(options.vault, this.config);
    this.countries = new Map((options.brands ?? []).map((brand) => [brand.id, brand.defaultCountry]));
    this.clock = options.clock ?? (() => new Date());
  }

  get store(): Store {
    return this.options.store;
  }

  get vault(): PiiVault {
    return this.options.vault;
  }

  now(): Date {
    return this.clock();
  }

  /** Replaces the brands' default countries (the workspace reloaded: a brand added or changed). */
  useBrands(brands: ReadonlyArray<{ id: string; defaultCountry: string }>): void {
    this.countries = new Map(brands.map((brand) => [brand.id, brand.defaultCountry]));
  }

  /** The brands the graph was given (the workspace's). */
  brandIds(): string[] {
    return [...this.countries.keys()];
  }

  defaultCountry(brand: string): string {
    return this.countries.get(brand) ?? this.options.defaultCountry ?? 'GB';
  }

  /** Runs `work` as the graph's single writer, in one transaction. */
  write<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.options.store.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [GRAPH_WRITE_LOCK]);
      return work(tx);
    });
  }

  /**
   * Resolves a batch of records to customer ids in one transaction (see `resolvePrepared`). The CPU work
   * (normalizing, keying, sealing) happens before the write lock, so concurrent calls overlap it with the
   * database work of the batch ahead.
   */
  resolveIdentities(
    records: IdentityRecord[],
    options: {
      /**
       * Runs in the same transaction after resolution: the pipeline marks the events resolved there, so a
       * crash can neither lose their effect nor apply it twice (sums would double).
       */
      alsoInTransaction?: (tx: SqlExecutor, result: ResolutionResult) => Promise<void>;
    } = {},
  ): Promise<ResolutionResult> {
    if (records.length === 0) return Promise.resolve({ records: [], merges: [], splits: [], joins: [] });
    const deps = {
      vault: this.options.vault,
      keys: this.keys,
      config: this.config,
      defaultCountry: (brand: string) => this.defaultCountry(brand),
    };
    const batch = prepareRecords(records, deps);
    return this.write(async (tx) => {
      const result = await resolvePrepared(tx, batch, deps);
      await options.alsoInTransaction?.(tx, result);
      return result;
    });
  }

  /** Finds the stored identifier a reference names (normalized the way events are). */
  async findIdentifier(
    executor: SqlExecutor,
    reference: ProfileReference,
    brand?: string,
  ): Promise<IdentifierRow | undefined> {
    const normalized = normalizeIdentifierValue(
      reference.type,
      reference.value,
      this.defaultCountry(brand ?? ''),
    );
    if (!normalized.ok)
      throw new ProfileReferenceError(`${identifierLabel(reference)}: ${normalized.reason}`);
    const lookupKey = this.keys.lookupKey({ type: reference.type, value: normalized.value });
    return identifierByKey(executor, reference.type, reference.scope, lookupKey);
  }

  /** The customer id a reference resolves to now (following merges), or undefined. */
  async resolveReference(
    executor: SqlExecutor,
    reference: string | ProfileReference,
  ): Promise<string | undefined> {
    const parsed = typeof reference === 'string' ? parseProfileReference(reference) : reference;
    if (parsed.type === 'customer_id') {
      const [row] = await executor.query<{ customer_id: string }>(
        `WITH RECURSIVE chain(customer_id, merged_into, depth) AS (
           SELECT customer_id, merged_into, 0 FROM identity_profiles WHERE customer_id = $1
           UNION ALL
           SELECT p.customer_id, p.merged_into, c.depth + 1 FROM identity_profiles p
             JOIN chain c ON p.customer_id = c.merged_into WHERE c.depth < 64)
         SELECT customer_id FROM chain WHERE merged_into IS NULL LIMIT 1`,
        [parsed.value.trim()],
      );
      if (row !== undefined) return row.customer_id;
    }
    return (await this.findIdentifier(executor, parsed))?.customerId;
  }

  /** Where each customer id lives now (its active profile, following merges), in one statement. */
  async survivorsOf(executor: SqlExecutor, customerIds: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (customerIds.length === 0) return found;
    const rows = await executor.query<{ start: string; customer_id: string }>(
      `WITH RECURSIVE chain (start, customer_id, merged_into, depth) AS (
         SELECT customer_id, customer_id, merged_into, 0 FROM identity_profiles
          WHERE customer_id = ANY ($1::text[])
         UNION ALL
         SELECT c.start, p.customer_id, p.merged_into, c.depth + 1 FROM identity_profiles p
           JOIN chain c ON p.customer_id = c.merged_into WHERE c.depth < 64)
       SELECT start, customer_id FROM chain WHERE merged_into IS NULL`,
      [[...new Set(customerIds)]],
    );
    for (const row of rows) found.set(row.start, row.customer_id);
    return found;
  }

  /**
   * Contact points shared by two members (a family email), each linking nothing to the second member's
   * profile: oldest first, a page after the id `after`; values masked without `revealPii`.
   */
  async listSharedIdentifiers(
    page: { limit: number; after?: number },
    options: { revealPii?: boolean } = {},
  ): Promise<{ sharedIdentifiers: SharedIdentifierView[]; nextAfter: number | null }> {
    return listSharedIdentifiers(this.options.store, page, {
      vault: this.options.vault,
      revealPii: options.revealPii,
    });
  }

  /** A profile by any identifier, with its identifiers and lineage; PII in the clear only with `revealPii`. */
  async getProfile(
    reference: string,
    options: { revealPii?: boolean } = {},
  ): Promise<ProfileView | undefined> {
    const store = this.options.store;
    const parsed = parseProfileReference(reference);
    const customerId = await this.resolveReference(store, parsed);
    if (customerId === undefined) return undefined;
    const book = new ProfileBook(this.options.vault);
    await book.load(store, [customerId]);
    const profile = book.get(customerId);
    if (profile.version === 0) return undefined;
    const identifiers = await identifiersOfCustomers(store, [customerId]);
    // An erased person's tombstone is internal: never shown as a profile (nor is one a later event left there).
    if (identifiers.every((identifier) => identifier.quarantinedReason === ERASED_REASON)) return undefined;
    const lineage = await store.query<{
      id: number;
      kind: 'merge' | 'split' | 'join';
      winner: string;
      loser: string;
      rule: string;
      basis: string | null;
      edge_ids: number[];
      event_source: string | null;
      event_id: string | null;
      actor: string | null;
      reverted_by: number | null;
      created_at: Date;
    }>(
      `SELECT id, kind, winner, loser, rule, basis, edge_ids, event_source, event_id, actor, reverted_by,
              created_at
         FROM identity_lineage WHERE winner = $1 OR loser = $1 ORDER BY id`,
      [customerId],
    );
    const traits: TraitValues = {};
    for (const [name, value] of Object.entries(profile.state.values) as Array<
      [keyof typeof PROFILE_TRAITS, unknown]
    >) {
      traits[name] = PROFILE_TRAITS[name]?.pii && !options.revealPii ? '***' : value;
    }
    return {
      customerId,
      ...(parsed.type === 'customer_id' && parsed.value.trim() !== customerId
        ? { requestedCustomerId: parsed.value.trim() }
        : {}),
      version: profile.version,
      traits,
      traitTimes: profile.state.times,
      identifiers: identifiers
        .sort((a, b) => a.priority - b.priority || a.firstSeenAt.getTime() - b.firstSeenAt.getTime())
        .map((identifier) => {
          const clear =
            identifier.encrypted === null
              ? identifier.key
              : this.options.vault.decrypt(identifier.encrypted, identifierContext(identifier.type));
          return {
            type: identifier.type,
            scope: identifier.scope,
            label: identifierLabel(identifier),
            value:
              identifier.encrypted === null || options.revealPii
                ? clear
                : maskIdentifierValue(identifier.type, clear),
            subjectKey: identifier.key,
            firstSeenAt: identifier.firstSeenAt,
            lastSeenAt: identifier.lastSeenAt,
            quarantined: identifier.quarantinedReason,
          };
        }),
      sharedContactPoints: await sharedIdentifiersOf(store, [customerId], {
        vault: this.options.vault,
        revealPii: options.revealPii,
      }),
      lineage: lineage.map((row) => ({
        id: row.id,
        kind: row.kind,
        winner: row.winner,
        loser: row.loser,
        rule: row.rule,
        basis: row.basis,
        edgeIds: row.edge_ids,
        eventSource: row.event_source,
        eventId: row.event_id,
        actor: row.actor,
        revertedBy: row.reverted_by,
        at: row.created_at,
      })),
    };
  }

  /**
   * The sync view of many profiles in two set-based reads (profiles, identifiers). Each contact point is the
   * most recently seen, unquarantined identifier of its type. Ids with no active profile are left out.
   */
  async customerViews(customerIds: readonly string[]): Promise<Map<string, CustomerView>> {
    const views = new Map<string, CustomerView>();
    const ids = [...new Set(customerIds)];
    if (ids.length === 0) return views;
    const store = this.options.store;
    const book = new ProfileBook(this.options.vault);
    await book.load(store, ids);
    const identifiers = await identifiersOfCustomers(store, ids);
    const byCustomer = new Map<string, IdentifierRow[]>();
    for (const identifier of identifiers) {
      const list = byCustomer.get(identifier.customerId) ?? [];
      list.push(identifier);
      byCustomer.set(identifier.customerId, list);
    }
    for (const customerId of ids) {
      const profile = book.get(customerId);
      if (profile.version === 0 || profile.status !== 'active') continue;
      const own = (byCustomer.get(customerId) ?? []).filter((row) => row.quarantinedReason === null);
      const latest = (type: 'email' | 'phone'): { value: string; key: string } | undefined => {
        const row = own
          .filter((candidate) => candidate.type === type && candidate.encrypted !== null)
          .sort((a, b) => b.lastSeenAt.getTime() - a.lastSeenAt.getTime())[0];
        if (row?.encrypted === undefined || row.encrypted === null) return undefined;
        return { value: this.options.vault.decrypt(row.encrypted, identifierContext(type)), key: row.key };
      };
      const email = latest('email');
      const phone = latest('phone');
      views.set(customerId, {
        customerId,
        version: profile.version,
        traits: { ...profile.state.values },
        traitTimes: { ...profile.state.times },
        ...(email === undefined ? {} : { email }),
        ...(phone === undefined ? {} : { phone }),
        guest: !own.some((row) => MEMBER_IDENTIFIER_TYPES.has(row.type)),
      });
    }
    return views;
  }

  /**
   * Erases a profile (a data subject's erasure request), as the graph's single writer in one transaction:
   * the profile and every profile merged into it lose their sealed PII (identifier values, names, address,
   * date of birth), match keys, review pairs and link tokens, and their identifiers become tombstones that
   * keep only their blind index, link nothing and resolve to an empty id of their own, so a later event
   * carrying the same email or member id never revives the profile. Lineage stays (customer ids only).
   * `customerId` may name a merged-away profile: the active one it was merged into is erased. `reason` and
   * `actor` are kept on the retracted edges and must hold no PII. Throws IdentityNotFoundError when there
   * is no such profile (e.g. already erased).
   */
  async eraseProfile(customerId: string, input: { actor: string; reason: string }): Promise<ErasureReport> {
    if (input.actor.trim() === '' || input.reason.trim() === '')
      throw new Error('eraseProfile: an actor and a reason are required');
    return this.write(async (tx) => {
      const active =
        (await this.resolveReference(tx, { type: 'customer_id', scope: '', value: customerId })) ??
        customerId.trim();
      const report = await eraseProfileIn(tx, active, {
        ...input,
        now: this.clock(),
        tombstoneKey: (type, lookupKey) => this.keys.tombstoneKey(type, lookupKey),
      });
      if (report === undefined) throw new IdentityNotFoundError(`no profile ${customerId} to erase`);
      return report;
    });
  }

  /**
   * Re-keys erased identifiers still keyed by their value (tombstones written before erasure re-keyed them) by
   * their blind index. Idempotent; reads the tombstones only (a partial index). Returns how many were re-keyed.
   */
  async rekeyClearTombstones(): Promise<number> {
    return this.write(async (tx) => {
      const rows = await tx.query<{ id: number; type: IdentifierType; lookup_key: string }>(
        `SELECT id, type, lookup_key FROM identity_identifiers
          WHERE quarantined_reason = $1 AND lookup_key NOT LIKE $2`,
        [ERASED_REASON, `${TOMBSTONE_KEY_PREFIX}%`],
      );
      const rekeyed = rows.flatMap((row) => {
        const key = this.keys.tombstoneKey(row.type, row.lookup_key);
        return key === undefined ? [] : [{ id: row.id, key }];
      });
      if (rekeyed.length > 0)
        await tx.query(
          `UPDATE identity_identifiers AS i SET lookup_key = v.key
             FROM unnest($1::bigint[], $2::text[]) AS v(id, key) WHERE i.id = v.id`,
          [rekeyed.map((row) => row.id), rekeyed.map((row) => row.key)],
        );
      return rekeyed.length;
    });
  }

  /** The identifier a profile is named after (its canonical one), to hang a hand-made edge on. */
  async canonicalIdentifier(executor: SqlExecutor, customerId: string): Promise<IdentifierRow> {
    const identifiers = await identifiersOfCustomers(executor, [customerId]);
    const canonical =
      identifiers.find((identifier) => identifier.ownCustomerId === customerId) ?? identifiers[0];
    if (canonical === undefined) throw new IdentityNotFoundError(`no active profile ${customerId}`);
    return canonical;
  }

  /**
   * Writes edges and recomputes around them; `expectJoined` pairs of customer ids must end up as one
   * profile, or the whole change is rolled back and refused with the graph's reason.
   */
  async connect(
    tx: SqlExecutor,
    edges: NewEdge[],
    cause: ChangeCause,
    expectJoined: Array<[number, number]> = [],
    /** Identifiers just written by the caller (new ones are not yet a profile of their own: no merge). */
    seedNodes: IdentifierRow[] = [],
  ): Promise<RecomputeResult> {
    const written = await appendEdges(tx, edges);
    const ids = [...new Set(edges.flatMap((edge) => [edge.a, edge.b]))];
    const seeds = await profilesOfIdentifiers(tx, ids);
    const book = new ProfileBook(this.options.vault);
    const origin = { eventSource: cause.eventSource ?? null, eventId: cause.eventId ?? null };
    const result = await recomputeComponents(
      tx,
      {
        seedCustomerIds: seeds,
        seedNodes,
        newEdges: new Map([...written.values()].map((id) => [id, origin])),
        cause,
      },
      book,
      this.config,
    );
    if (expectJoined.length > 0 && result.splits.length > 0) {
      // A hand-made edge outranks event edges, so it could pull an identifier away from a third profile:
      // a person asked to join two profiles, not to split another one.
      const splitOff = new Set(result.splits.map((split) => split.to));
      const labels = [...result.nodes.values()]
        .filter((node) => splitOff.has(entryOf(result.customerIdOf, node.id)) && node.anchor)
        .map((node) => identifierLabel(node));
      throw new IdentityChangeRefusedError(
        `the change conflicts with identifiers these profiles already hold: it would split off ${[...new Set(labels)].sort().join(', ') || [...splitOff].join(', ')}`,
      );
    }
    for (const [a, b] of expectJoined) {
      if (result.customerIdOf.get(a) !== result.customerIdOf.get(b)) {
        const blocked = result.blocked.has(a < b ? `${a}:${b}` : `${b}:${a}`);
        const reason =
          [...result.rejected.values()][0] ??
          (blocked
            ? 'blocked pair: these identities were separated (a reversed merge or a rejected review)'
            : 'the graph rules keep these profiles apart');
        throw new IdentityChangeRefusedError(reason);
      }
    }
    await book.flush(tx);
    return result;
  }

  /** Merges two profiles by hand (an operator's decision), unless the graph's rules forbid it. */
  async merge(input: {
    customerIds: [string, string];
    actor: string;
    reason: string;
  }): Promise<RecomputeResult> {
    const [left, right] = input.customerIds;
    if (left === right) throw new IdentityChangeRefusedError('a profile cannot be merged with itself');
    return this.write(async (tx) => {
      const a = await this.canonicalIdentifier(tx, left);
      const b = await this.canonicalIdentifier(tx, right);
      return this.connect(
        tx,
        [{ a: a.id, b: b.id, kind: 'manual', eventTime: this.clock(), actor: input.actor }],
        { rule: `manual: ${input.reason}`, actor: input.actor },
        [[a.id, b.id]],
      );
    });
  }

  /**
   * Applies merges the loyalty platform made (`membership.merged`), in order, each deterministic and
   * attributed to its event. The platform issues group customer ids, and two of them never share a profile
   * (an anchor conflict), so the merged-away id is retired into the survivor's (`retired_into`): it keeps
   * resolving, to the survivor, but is no anchor there. An `event` edge joins the two; lineage and outbox
   * record the merge like any other. A customer id never seen is created from the event: an unknown merged-away
   * id simply joins the survivor (no merge to announce), an unknown survivor takes over the other profile.
   * Each merge is all or nothing (a savepoint): one the rules refuse (another anchor conflict, a blocked pair,
   * a cap) writes nothing and comes back `refused` with the reason, and the others go on. Runs in the caller's
   * transaction under the graph's write lock (`write`, or `resolveIdentities`' `alsoInTransaction`, where the
   * resolve stage marks the event resolved: a merge is applied once). Repeating one changes nothing.
   */
  async mergeByEvents(tx: SqlExecutor, merges: readonly PlatformMerge[]): Promise<PlatformMergeOutcome[]> {
    const outcomes: PlatformMergeOutcome[] = [];
    for (const merge of merges) outcomes.push(await this.applyPlatformMerge(tx, merge));
    return outcomes;
  }

  /** One platform merge in a transaction of its own (see `mergeByEvents`). */
  mergeByEvent(merge: PlatformMerge): Promise<PlatformMergeOutcome> {
    return this.write(async (tx) => (await this.mergeByEvents(tx, [merge]))[0]);
  }

  private async applyPlatformMerge(tx: SqlExecutor, merge: PlatformMerge): Promise<PlatformMergeOutcome> {
    const customerIdentifier = (
      field: string,
      value: string,
    ): { identifier: NormalizedIdentifier } | { reason: string } => {
      const { identifiers, dropped } = normalizeIdentifiers(
        { customer_id: value },
        { defaultCountry: '' },
        this.config,
      );
      return identifiers[0] === undefined
        ? { reason: `${field}: ${dropped[0]?.reason ?? 'not a customer id'}` }
        : { identifier: identifiers[0] };
    };
    const from = customerIdentifier('from_customer_id', merge.fromCustomerId);
    if ('reason' in from) return { status: 'refused', reason: from.reason };
    const to = customerIdentifier('to_customer_id', merge.toCustomerId);
    if ('reason' in to) return { status: 'refused', reason: to.reason };
    if (from.identifier.value === to.identifier.value)
      return { status: 'refused', reason: 'a profile cannot be merged with itself' };

    await tx.query('SAVEPOINT platform_merge');
    try {
      const rows = await upsertIdentifiers(
        tx,
        prepareIdentifierRows(
          [from, to].map(({ identifier }) => ({ identifier, seenAt: merge.eventTime })),
          this.keys,
          this.config,
        ),
        this.keys,
      );
      const fromRow = entryOf(rows, this.keys.key(from.identifier));
      const toRow = entryOf(rows, this.keys.key(to.identifier));
      const apart = fromRow.isNew || toRow.isNew || fromRow.customerId !== toRow.customerId;
      // A later merge of the same id elsewhere keeps the first retirement: the edge decides where it lives.
      await tx.query(
        'UPDATE identity_identifiers SET retired_into = $2 WHERE id = $1 AND retired_into IS NULL',
        [fromRow.id, to.identifier.value],
      );
      const result = await this.connect(
        tx,
        [
          {
            a: fromRow.id,
            b: toRow.id,
            kind: 'event',
            eventTime: merge.eventTime,
            eventSource: merge.eventSource,
            eventId: merge.eventId,
          },
        ],
        {
          rule: `platform merge: ${merge.reason ?? 'membership.merged'}`,
          eventSource: merge.eventSource,
          eventId: merge.eventId,
        },
        [[fromRow.id, toRow.id]],
        [{ ...fromRow, anchor: false, retired: true }, toRow],
      );
      await tx.query('RELEASE SAVEPOINT platform_merge');
      return { status: apart ? 'merged' : 'unchanged', customerId: entryOf(result.customerIdOf, toRow.id) };
    } catch (error) {
      await tx.query('ROLLBACK TO SAVEPOINT platform_merge');
      await tx.query('RELEASE SAVEPOINT platform_merge');
      if (error instanceof IdentityChangeRefusedError) return { status: 'refused', reason: error.message };
      throw error;
    }
  }

  /**
   * Reverses a merge or a join: retracts the edges that made it, blocks those pairs so replaying old events
   * cannot link them again, recomputes only that component and gives the split-off part a new id (a group
   * `customer_id` keeps its own; a join's identifiers take the id they would have had alone). Emits
   * `membership.split`.
   */
  async unmerge(input: { lineageId: number; actor: string; reason: string }): Promise<RecomputeResult> {
    return this.write(async (tx) => {
      const [merge] = await tx.query<{
        kind: string;
        winner: string;
        loser: string;
        edge_ids: number[];
        reverted_by: number | null;
      }>('SELECT kind, winner, loser, edge_ids, reverted_by FROM identity_lineage WHERE id = $1 FOR UPDATE', [
        input.lineageId,
      ]);
      if (merge === undefined) throw new IdentityNotFoundError(`no merge ${input.lineageId} in the lineage`);
      if (merge.kind === 'split')
        throw new IdentityChangeRefusedError(`lineage ${input.lineageId} is a split, not a merge`);
      if (merge.edge_ids.length === 0) {
        throw new IdentityChangeRefusedError(
          `lineage ${input.lineageId} re-keyed one profile to its oldest anchor's id; there is no join to reverse`,
        );
      }
      if (merge.reverted_by !== null) {
        throw new IdentityChangeRefusedError(
          `merge ${input.lineageId} was already reversed (lineage ${merge.reverted_by})`,
        );
      }
      const reason = `unmerge of ${input.lineageId}: ${input.reason}`;
      const edges = await retractEdges(tx, { edgeIds: merge.edge_ids }, reason);
      // A platform merge retired the merged-away customer id into the survivor's across one of these edges:
      // reversing it gives that id its anchor back.
      await tx.query(
        `UPDATE identity_identifiers r SET retired_into = NULL
           FROM unnest($1::bigint[], $2::bigint[]) AS e(low, high)
           JOIN identity_identifiers o ON o.id IN (e.low, e.high)
          WHERE r.id IN (e.low, e.high) AND r.id <> o.id AND r.retired_into = o.own_customer_id`,
        [edges.map((edge) => edge.low_identifier), edges.map((edge) => edge.high_identifier)],
      );
      await blockPairs(
        tx,
        edges.map((edge) => [edge.low_identifier, edge.high_identifier]),
        reason,
        input.actor,
      );
      // Both sides live wherever later merges took them: seed with the endpoints' current profiles.
      const current = await profilesOfIdentifiers(
        tx,
        edges.flatMap((edge) => [edge.low_identifier, edge.high_identifier]),
      );
      // The loser's own canonical identifier founds the split-off part, under a new id.
      const loserCanonical = await tx.query<{ id: number; type: IdentifierType }>(
        'SELECT id, type FROM identity_identifiers WHERE customer_id = ANY($2::text[]) AND own_customer_id = $1',
        [merge.loser, current],
      );
      // A join's identifiers never had a profile of their own: they take back the id they would have had alone,
      // unless a profile by that id exists (an earlier join, reversed and joined again).
      const ownProfile =
        merge.kind === 'join'
          ? await tx.query('SELECT 1 FROM identity_profiles WHERE customer_id = $1', [merge.loser])
          : [];
      const reuseOwn = merge.kind === 'join' && ownProfile.length === 0;
      const fresh = new Map(
        loserCanonical
          .filter((row) => row.type !== 'customer_id')
          .map((row) => [row.id, reuseOwn ? merge.loser : `cus_${randomBytes(13).toString('hex')}`]),
      );
      const book = new ProfileBook(this.options.vault);
      const result = await recomputeComponents(
        tx,
        {
          seedCustomerIds: current,
          freshCustomerIds: fresh,
          cause: { rule: reason, actor: input.actor },
        },
        book,
        this.config,
      );
      await book.flush(tx);
      const together = await tx.query<{ low_identifier: number }>(
        `SELECT e.low_identifier FROM identity_edges e
           JOIN identity_identifiers l ON l.id = e.low_identifier
           JOIN identity_identifiers h ON h.id = e.high_identifier
          WHERE e.id = ANY($1::bigint[]) AND l.customer_id = h.customer_id`,
        [edges.map((edge) => edge.id)],
      );
      if (together.length > 0) {
        throw new IdentityChangeRefusedError(
          `merge ${input.lineageId} cannot be reversed: the profile is too large to recompute in one step`,
        );
      }
      let revertedBy = result.splits[0]?.lineageId;
      if (revertedBy === undefined) {
        // Later events had already moved the two sides apart; the reversal is still recorded and blocked.
        const [sides] = await tx.query<{ low: string; high: string }>(
          `SELECT l.customer_id AS low, h.customer_id AS high FROM identity_edges e
             JOIN identity_identifiers l ON l.id = e.low_identifier
             JOIN identity_identifiers h ON h.id = e.high_identifier WHERE e.id = $1`,
          [edges[0]?.id ?? merge.edge_ids[0]],
        );
        const [row] = await tx.query<{ id: number }>(
          `INSERT INTO identity_lineage (kind, winner, loser, rule, actor)
           VALUES ('split', $1, $2, $3, $4) RETURNING id`,
          [
            sides?.low ?? merge.winner,
            sides?.high ?? merge.loser,
            `unmerge of ${input.lineageId}: ${input.reason} (already apart)`,
            input.actor,
          ],
        );
        revertedBy = row.id;
      }
      await tx.query('UPDATE identity_lineage SET reverted_by = $2 WHERE id = $1', [
        input.lineageId,
        revertedBy,
      ]);
      return result;
    });
  }
}
