import type { ErasureReport } from '@tessera/identity-graph';
import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { DestinationRunner, ItemResult, ProfileRef } from '@tessera/destination-kit';
import {
  IdentityNotFoundError,
  normalizeEmail,
  normalizePhone,
  type IdentityGraph,
  type ProfileView,
} from '@tessera/identity-graph';
import type { Store } from '@tessera/store';
import { AuditLog, type AuditInput } from '../ledger/audit-log.repository';
import { ConsentLedger, type LedgerEntry } from '../ledger/consent-ledger.repository';
import { ALL_BRANDS, SuppressionList } from '../ledger/suppression-list.repository';
import { EmptyDeliveryLog, type DeliveryLogReader } from './delivery-log-reader';
import {
  DSR_LEGAL_DEADLINE_DAYS,
  DSR_TARGET_HOURS,
  DsrRequestError,
  type DsrDestinationResult,
  type DsrDestinationStatus,
  type DsrRequest,
  type DsrSubject,
  type OpenDsrInput,
} from './dsr-contract';
import { DsrRequestRepository } from './dsr-request.repository';
import { ERASED_CUSTOMER_INDEX, pseudonymizeErasedCustomers } from './erased-customer-pseudonyms';
import type { SubjectDataEraser } from './subject-data-eraser';
import { writeSubjectAccessExport, type SubjectAccessExport } from './subject-access-export';

export interface DsrServiceOptions {
  store: Store;
  graph: IdentityGraph;
  /** Where access exports are written (`<requestId>.json`, mode 0600). */
  exportDir: string;
  deliveryLog?: DeliveryLogReader;
  /**
   * The suppression list erasures write to: the process's own, whose changes reach every consent gate (a gate
   * keeping a cached grant would let a re-send through). Default: one of its own, which tells no gate.
   */
  suppressions?: SuppressionList;
  /**
   * Removes the person from what the pipeline holds (raw events, delivery log, dead letters, queues) on every
   * erasure run, before the request can complete.
   */
  subjectData?: SubjectDataEraser;
  /**
   * The destinations holding data of any of these customers (what they last accepted, what was delivered to
   * them). Given, an erasure goes only to those; absent, to every destination `runErasure` is handed.
   */
  destinationsHolding?: (customerIds: readonly string[]) => Promise<ReadonlySet<string>>;
  /**
   * Run once an erasure completes: makes the rows it deleted or rewrote unreadable from the store's files
   * (`reclaimDeletedRows` of @tessera/store).
   */
  reclaimDeletedRows?: () => Promise<unknown>;
  now?: () => Date;
}

export interface ErasureDestination {
  id: string;
  runner: DestinationRunner;
  /** Paused (by an operator or the auth breaker): its deletion waits, `pending`, until it is resumed. */
  paused?: boolean;
}

export interface ErasureOutcome {
  request: DsrRequest;
  destinations: DsrDestinationResult[];
}

/** The column the pending deletion items are sealed for (AES-GCM associated data). */
const PENDING_CONTEXT = 'dsr_requests.pending_deletion';
/** The `pending` result of a destination that holds the subject and has not been asked yet. */
const HOLDS_DETAIL = "holds the subject's data: deletion not sent yet";
/** The `pending` result of a paused destination. */
const PAUSED_DETAIL = 'destination paused: the deletion is sent once it is resumed';
/** What an erased customer id becomes in the records kept: this, then its keyed hash. */
const ERASED_PREFIX = 'erased_';
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const unique = <T>(values: Iterable<T>): T[] => [...new Set(values)];

/**
 * Data subject requests as tracked jobs (`dsr_requests`): `open` records who asked about whom (blind
 * indexes and resolved customer ids only), `runAccess` writes the subject's data to an export file, and
 * `runErasure` suppresses their contact points, erases them from the identity graph and asks every
 * destination to delete them, recording each destination's answer; a failed erasure is run again for the
 * destinations that did not succeed.
 */
export class DsrService {
  readonly requests: DsrRequestRepository;
  private readonly ledger: ConsentLedger;
  private readonly suppressions: SuppressionList;
  private readonly audit: AuditLog;
  private readonly deliveryLog: DeliveryLogReader;
  private readonly now: () => Date;

  constructor(private readonly options: DsrServiceOptions) {
    this.now = options.now ?? (() => new Date());
    this.requests = new DsrRequestRepository(options.store);
    this.ledger = new ConsentLedger(options.store, { now: this.now });
    this.suppressions = options.suppressions ?? new SuppressionList(options.store, { now: this.now });
    this.audit = new AuditLog(options.store, { now: this.now });
    this.deliveryLog = options.deliveryLog ?? new EmptyDeliveryLog();
  }

  private get graph(): IdentityGraph {
    return this.options.graph;
  }

  /**
   * Opens a request: normalizes the identities given, keeps their blind indexes, resolves them through the
   * identity graph (the request then covers every identifier and merged profile linked to them), and
   * records it due in 72 hours (the legal deadlines in `detail.legalDeadlines`).
   */
  async open(input: OpenDsrInput): Promise<DsrRequest> {
    if (input.type !== 'access' && input.type !== 'erasure')
      throw new DsrRequestError(`unknown request type ${JSON.stringify(input.type)}`);
    if (typeof input.requestedBy !== 'string' || input.requestedBy.trim() === '')
      throw new DsrRequestError('a request needs requestedBy');
    const { email, phone, customerId } = input.identities;
    if (email === undefined && phone === undefined && customerId === undefined)
      throw new DsrRequestError('a request needs an email, a phone number or a customer id');

    const subjects: DsrSubject[] = [];
    if (email !== undefined) {
      const normalized = normalizeEmail(email);
      if (!normalized.ok) throw new DsrRequestError(`email: ${normalized.reason}`);
      subjects.push({
        type: 'email',
        key: this.graph.keys.lookupKey({ type: 'email', value: normalized.value }),
      });
    }
    if (phone !== undefined) {
      const normalized = normalizePhone(phone, this.graph.defaultCountry(input.brand ?? ''));
      if (!normalized.ok) throw new DsrRequestError(`phone: ${normalized.reason}`);
      subjects.push({
        type: 'phone',
        key: this.graph.keys.lookupKey({ type: 'phone', value: normalized.value }),
      });
    }

    const store = this.options.store;
    const found: string[] = [];
    const resolve = async (type: 'email' | 'phone' | 'customer_id', value: string | undefined) => {
      if (value === undefined) return;
      const id = await this.graph.resolveReference(store, { type, scope: '', value });
      if (id !== undefined) found.push(id);
    };
    await resolve('customer_id', customerId);
    await resolve('email', email);
    await resolve('phone', phone);
    const linked = await this.linked(unique(found));

    const requestedAt = this.now();
    return this.requests.insert({
      id: `dsr_${randomBytes(12).toString('hex')}`,
      type: input.type,
      subjectKeys: unique([...subjects, ...linked.subjects].map((subject) => subject.key)),
      customerIds: linked.customerIds,
      requestedAt,
      dueAt: new Date(requestedAt.getTime() + DSR_TARGET_HOURS * HOUR_MS),
      requestedBy: input.requestedBy,
      detail: {
        ...(input.brand === undefined ? {} : { brand: input.brand }),
        targetHours: DSR_TARGET_HOURS,
        legalDeadlines: {
          gdpr: new Date(requestedAt.getTime() + DSR_LEGAL_DEADLINE_DAYS.gdpr * DAY_MS).toISOString(),
          ccpa: new Date(requestedAt.getTime() + DSR_LEGAL_DEADLINE_DAYS.ccpa * DAY_MS).toISOString(),
        },
        subjects: dedupeSubjects([...subjects, ...linked.subjects]),
        resolved: found.length > 0,
      },
    });
  }

  /**
   * Runs an access request: writes the subject's profiles (PII revealed), identifiers, merge lineage,
   * consent history (by customer id and by contact point), suppressions and delivery log to
   * `<exportDir>/<requestId>.json`, and records `dsr.export` in the audit log.
   */
  async runAccess(requestId: string): Promise<{ request: DsrRequest; path: string }> {
    const request = await this.requests.claim(requestId, 'access');
    try {
      const active = await this.activeProfiles(request.customerIds);
      const linked = await this.linked(active.map((profile) => profile.customerId));
      const customerIds = unique([...request.customerIds, ...linked.customerIds]);
      const subjectKeys = unique([...request.subjectKeys, ...linked.subjects.map((subject) => subject.key)]);
      const entries = new Map<number, LedgerEntry>();
      for (const id of customerIds)
        for (const entry of await this.ledger.history({ customerId: id })) entries.set(entry.id, entry);
      for (const key of subjectKeys)
        for (const entry of await this.ledger.history({ subjectKey: key })) entries.set(entry.id, entry);
      const document: SubjectAccessExport = {
        requestId: request.id,
        generatedAt: this.now().toISOString(),
        requestedAt: request.requestedAt.toISOString(),
        subject: { customerIds, subjectKeys },
        profiles: active,
        consentHistory: [...entries.values()].sort((a, b) => a.id - b.id),
        suppressions: subjectKeys.length === 0 ? [] : await this.suppressions.list({ subjectKeys }),
        deliveryLog: await this.deliveryLog.entriesFor(customerIds),
      };
      const written = await writeSubjectAccessExport(this.options.exportDir, document);
      const summary = {
        requestId: request.id,
        file: basename(written.path),
        bytes: written.bytes,
        profiles: document.profiles.length,
        consentEntries: document.consentHistory.length,
        deliveryEntries: document.deliveryLog.length,
      };
      await this.audit.record(
        (customerIds.length === 0 ? [undefined] : customerIds).map((customerId) => ({
          actor: request.requestedBy,
          action: 'dsr.export',
          ...(customerId === undefined ? {} : { customerId }),
          detail: summary,
        })),
      );
      const done = await this.requests.update(request.id, {
        status: 'completed',
        completedAt: this.now(),
        customerIds,
        subjectKeys,
        patch: { export: summary },
        remove: ['failure'],
      });
      return { request: done, path: written.path };
    } catch (error) {
      await this.fail(request.id, error);
      throw error;
    }
  }

  /**
   * Runs an erasure request. The first run suppresses every contact point of the subject (brand `*`,
   * reason `erasure`), erases each profile from the identity graph and records `dsr.erasure`; then each
   * destination that has not yet answered ok is asked to delete the profiles (`deleteProfiles`), and its
   * answer is recorded. The request completes when every destination answered ok; otherwise it is
   * `failed`, with the details, and a later run re-calls only the destinations that did not succeed. The
   * contact points the destinations need are kept sealed in the request until then, and deleted after.
   * With `destinationsHolding`, only the destinations holding the subject's data are asked (recorded `pending`
   * first, so that later runs still know them once the sync state and delivery log have forgotten the person).
   * A paused destination is not called: its result stays `pending` and the request `open` (when nothing
   * else is unfinished) until a run after its resume. A disabled one is still asked: disabling stops the
   * marketing sync, not the duty to erase what the ESP holds.
   */
  async runErasure(requestId: string, destinations: ErasureDestination[]): Promise<ErasureOutcome> {
    const request = await this.requests.claim(requestId, 'erasure');
    try {
      await this.noteHolders(request, destinations);
      const items =
        request.detail.graphErased === true
          ? this.unsealItems(request)
          : await this.eraseFromTessera(request);
      // Profiles linked since the request was opened (found by the graph erasure): their holders too.
      const expanded = await this.requests.get(request.id);
      if (expanded !== undefined) await this.noteHolders(expanded, destinations);
      await this.eraseHeldData(request.id);
      const known = new Map(
        (await this.requests.destinationResults(request.id)).map((result) => [result.destinationId, result]),
      );
      const targets =
        this.options.destinationsHolding === undefined
          ? destinations
          : destinations.filter((destination) => known.has(destination.id));
      const redact = redactor(items);
      for (const destination of targets) {
        const previous = known.get(destination.id);
        if (previous?.status === 'ok') continue;
        if (destination.paused === true) {
          if (previous?.status !== 'pending' || previous.detail !== PAUSED_DETAIL)
            await this.requests.recordDestinationResult(
              request.id,
              { destinationId: destination.id, status: 'pending', detail: PAUSED_DETAIL },
              this.now(),
            );
          continue;
        }
        const answer = await this.deleteAt(destination, items);
        const result = {
          destinationId: destination.id,
          status: answer.status,
          detail: redact(answer.detail),
        };
        await this.requests.recordDestinationResult(request.id, result, this.now());
        await this.audit.record([
          {
            actor: request.requestedBy,
            action: 'dsr.erasure',
            detail: { requestId: request.id, step: 'destination', ...result },
          },
        ]);
      }
      const results = await this.requests.destinationResults(request.id);
      const pending = results.filter((result) => result.status !== 'ok');
      const waiting = pending.filter((result) => result.status === 'pending');
      if (pending.length === 0) await this.pseudonymizeCustomerIds(request.id);
      const done =
        pending.length === 0
          ? await this.requests.update(request.id, {
              status: 'completed',
              completedAt: this.now(),
              remove: ['pendingDeletion', 'failure', 'waitingFor'],
            })
          : waiting.length === pending.length
            ? await this.requests.update(request.id, {
                status: 'open',
                patch: { waitingFor: waiting.map((result) => result.destinationId) },
                remove: ['failure'],
              })
            : await this.requests.update(request.id, {
                status: 'failed',
                patch: {
                  failure: {
                    at: this.now().toISOString(),
                    destinations: pending.map(({ destinationId, status, detail }) => ({
                      destinationId,
                      status,
                      detail,
                    })),
                  },
                },
                remove: ['waitingFor'],
              });
      if (pending.length === 0) await this.options.reclaimDeletedRows?.();
      return { request: done, destinations: results };
    } catch (error) {
      await this.fail(request.id, error);
      throw error;
    }
  }

  /**
   * Records `pending` at each destination handed in that holds data of the request's customers and has no
   * result yet: the targets of the fan-out (nothing without `destinationsHolding`).
   */
  private async noteHolders(request: DsrRequest, destinations: ErasureDestination[]): Promise<void> {
    const holding = this.options.destinationsHolding;
    if (holding === undefined) return;
    const holders = await holding(request.customerIds);
    const recorded = new Set(
      (await this.requests.destinationResults(request.id)).map((result) => result.destinationId),
    );
    for (const destination of destinations) {
      if (!holders.has(destination.id) || recorded.has(destination.id)) continue;
      await this.requests.recordDestinationResult(
        request.id,
        { destinationId: destination.id, status: 'pending', detail: HOLDS_DETAIL },
        this.now(),
      );
    }
  }

  /** Suppression, sealing of what destinations need, graph erasure and audit: the first run's part. */
  private async eraseFromTessera(request: DsrRequest): Promise<ProfileRef[]> {
    const active = await this.activeProfiles(request.customerIds);
    const linked = await this.linked(active.map((profile) => profile.customerId));
    const subjects = dedupeSubjects([
      ...((request.detail.subjects as DsrSubject[] | undefined) ?? []),
      ...linked.subjects,
    ]);
    await this.suppressions.suppress(
      subjects.map((subject) => ({
        subjectType: subject.type,
        subjectKey: subject.key,
        brand: ALL_BRANDS,
        reason: 'erasure',
      })),
    );
    // What each destination needs to find the profile (Klaviyo deletes by email or phone): taken before
    // the graph forgets it, and kept sealed in the request until every destination has answered ok.
    const fromGraph: ProfileRef[] = active.map((profile) => {
      const email = profile.identifiers.find((identifier) => identifier.type === 'email')?.value;
      const phone = profile.identifiers.find((identifier) => identifier.type === 'phone')?.value;
      return {
        customerId: profile.customerId,
        ...(email === undefined ? {} : { email }),
        ...(phone === undefined ? {} : { phone }),
      };
    });
    // A run that stopped after the graph forgot the profile sealed its items already: keep them.
    const earlier = this.unsealItems(request).filter(
      (item) => !fromGraph.some((known) => known.customerId === item.customerId),
    );
    const items = [...fromGraph, ...earlier];
    const sealed = this.graph.vault.encrypt(JSON.stringify(items), PENDING_CONTEXT);
    const customerIds = unique([...request.customerIds, ...linked.customerIds]);
    await this.requests.update(request.id, {
      customerIds,
      subjectKeys: unique([...request.subjectKeys, ...subjects.map((subject) => subject.key)]),
      patch: { subjects, pendingDeletion: sealed },
    });

    const reports: ErasureReport[] = [];
    for (const profile of active) {
      try {
        reports.push(
          await this.graph.eraseProfile(profile.customerId, {
            actor: request.requestedBy,
            reason: `erasure request ${request.id}`,
          }),
        );
      } catch (error) {
        if (!(error instanceof IdentityNotFoundError)) throw error;
      }
    }
    const audit: AuditInput[] = [
      ...reports.map((report) => ({
        actor: request.requestedBy,
        action: 'dsr.erasure',
        customerId: report.customerId,
        detail: { requestId: request.id, step: 'identity-graph', ...countsOf(report) },
      })),
      ...subjects.map((subject) => ({
        actor: request.requestedBy,
        action: 'dsr.erasure',
        subjectKey: subject.key,
        detail: { requestId: request.id, step: 'suppressed', subjectType: subject.type, brand: ALL_BRANDS },
      })),
    ];
    await this.audit.record(audit);
    await this.requests.update(request.id, {
      patch: {
        graphErased: true,
        erasure: reports.map((report) => ({ customerId: report.customerId, ...countsOf(report) })),
      },
    });
    return items;
  }

  /**
   * After the graph erasure, on every run: the person's data held elsewhere (`subjectData`) and the files of
   * their access requests are removed; each access request keeps `exportErased` (its download answers 410).
   */
  private async eraseHeldData(requestId: string): Promise<void> {
    const request = await this.requests.get(requestId);
    if (request === undefined) return;
    const { customerIds, subjectKeys } = request;
    const removed: Record<string, number> = {};
    if (this.options.subjectData !== undefined) {
      const counts = await this.options.subjectData.erase({ requestId, customerIds, subjectKeys });
      const before = (request.detail.dataErased ?? {}) as Record<string, number>;
      for (const [name, count] of Object.entries(counts)) removed[name] = (before[name] ?? 0) + count;
    }
    const exports = await this.requests.accessRequestsOf(customerIds, subjectKeys);
    for (const access of exports) {
      const exported = access.detail['export'] as { file?: unknown } | undefined;
      if (typeof exported?.file === 'string')
        await unlink(join(this.options.exportDir, basename(exported.file))).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        });
      if (access.detail['exportErased'] === undefined)
        await this.requests.update(access.id, {
          patch: { exportErased: { at: this.now().toISOString(), byRequest: requestId } },
        });
    }
    if (this.options.subjectData === undefined && exports.length === 0) return;
    await this.requests.update(requestId, {
      patch: {
        ...(this.options.subjectData === undefined ? {} : { dataErased: removed }),
        exportsErased: exports.map((access) => access.id),
      },
    });
    await this.audit.record([
      {
        actor: request.requestedBy,
        action: 'dsr.erasure',
        detail: { requestId, step: 'held-data', ...removed, exportsDeleted: exports.length },
      },
    ]);
  }

  /**
   * The erasure is complete: from here on the records kept (audit log, consent ledger, DSR requests) name the
   * person's customer ids only by their tombstone key (see `pseudonymizeErasedCustomers`).
   */
  private async pseudonymizeCustomerIds(requestId: string): Promise<void> {
    const request = await this.requests.get(requestId);
    if (request === undefined) return;
    const pseudonyms = new Map(
      request.customerIds
        .filter((id) => !id.startsWith(ERASED_PREFIX))
        .map((id) => [id, `${ERASED_PREFIX}${this.graph.vault.blindIndex(ERASED_CUSTOMER_INDEX, id)}`]),
    );
    await this.options.store.transaction((tx) => pseudonymizeErasedCustomers(tx, pseudonyms));
  }

  private unsealItems(request: DsrRequest): ProfileRef[] {
    const sealed = request.detail.pendingDeletion as { ciphertext: string; keyId: string } | undefined;
    if (sealed === undefined) return [];
    return JSON.parse(this.graph.vault.decrypt(sealed, PENDING_CONTEXT)) as ProfileRef[];
  }

  /** One destination's answer to the deletion of every profile of the request. */
  private async deleteAt(
    destination: ErasureDestination,
    items: ProfileRef[],
  ): Promise<{ status: DsrDestinationStatus; detail: string | null }> {
    if (items.length === 0) return { status: 'ok', detail: 'no profile to delete' };
    let results: ItemResult[];
    try {
      results = await destination.runner.run('deleteProfiles', items);
    } catch (error) {
      return { status: 'error', detail: error instanceof Error ? error.message : String(error) };
    }
    const rejected = results.flatMap((result, index) =>
      result.status === 'rejected' ? [`${items[index]?.customerId}: ${result.reason}`] : [],
    );
    const retry = results.flatMap((result, index) =>
      result.status === 'retry'
        ? [`${items[index]?.customerId}: ${result.reason} (retry after ${result.afterMs} ms)`]
        : [],
    );
    if (results.length !== items.length)
      return { status: 'error', detail: `${results.length} results for ${items.length} items` };
    if (rejected.length > 0) return { status: 'rejected', detail: [...rejected, ...retry].join('; ') };
    if (retry.length > 0) return { status: 'retry', detail: retry.join('; ') };
    return { status: 'ok', detail: null };
  }

  /** The active profiles (PII revealed: the subject's own data) the request's customer ids lead to now. */
  private async activeProfiles(customerIds: string[]): Promise<ProfileView[]> {
    const profiles = new Map<string, ProfileView>();
    for (const id of customerIds) {
      const profile = await this.graph.getProfile(`customer_id:${id}`, { revealPii: true });
      if (profile !== undefined && !profiles.has(profile.customerId)) {
        const { requestedCustomerId: _, ...view } = profile;
        profiles.set(profile.customerId, view);
      }
    }
    return [...profiles.values()];
  }

  /** Every customer id (merged-away included) and contact point linked to these profiles. */
  private async linked(customerIds: string[]): Promise<{ customerIds: string[]; subjects: DsrSubject[] }> {
    const ids: string[] = [];
    const subjects: DsrSubject[] = [];
    for (const profile of await this.activeProfiles(customerIds)) {
      ids.push(...(await this.requests.profileFamily(profile.customerId)));
      for (const identifier of profile.identifiers) {
        if (identifier.type !== 'email' && identifier.type !== 'phone') continue;
        if (identifier.quarantined !== null) continue;
        subjects.push({
          type: identifier.type,
          key: this.graph.keys.lookupKey({ type: identifier.type, value: identifier.value }),
        });
      }
    }
    return { customerIds: unique([...customerIds, ...ids]), subjects: dedupeSubjects(subjects) };
  }

  private async fail(requestId: string, error: unknown): Promise<void> {
    await this.requests.update(requestId, {
      status: 'failed',
      patch: {
        failure: {
          at: this.now().toISOString(),
          // Our own errors name ids and reasons, never contact points.
          error: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 500) : 'unknown error',
        },
      },
    });
  }
}

function dedupeSubjects(subjects: DsrSubject[]): DsrSubject[] {
  const byKey = new Map(subjects.map((subject) => [`${subject.type}:${subject.key}`, subject]));
  return [...byKey.values()];
}

function countsOf(report: ErasureReport) {
  return {
    customerIds: report.customerIds,
    identifiersTombstoned: report.identifiersTombstoned,
    sealedValuesDeleted: report.sealedValuesDeleted,
    profilesErased: report.profilesErased,
    matchKeysDeleted: report.matchKeysDeleted,
    reviewPairsDeleted: report.reviewPairsDeleted,
    linkTokensDeleted: report.linkTokensDeleted,
    edgesRetracted: report.edgesRetracted,
  };
}

/** Removes the contact points being deleted from a destination's answer (an ESP may echo them back). */
function redactor(items: ProfileRef[]): (text: string | null) => string | null {
  const values = items
    .flatMap((item) => [item.email, item.phone])
    .filter((value): value is string => value !== undefined && value !== '');
  return (text) =>
    text === null ? null : values.reduce((result, value) => result.split(value).join('[redacted]'), text);
}
