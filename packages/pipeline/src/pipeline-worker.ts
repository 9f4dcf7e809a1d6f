import stringify from 'safe-stable-stringify';
import { createHash } from 'node:crypto';
import type { Worker } from 'bullmq';
import Redis from 'ioredis';
import {
  DsrRequestRepository,
  DsrService,
  ExportFolderRetention,
  RetentionJob,
  type AuditLog,
  type ConsentGate,
  type ConsentLedger,
  type RetentionPolicy,
  type SuppressionList,
} from '@tessera/consent';
import { KeyRing } from '@tessera/crypto';
import {
  type AllowedDestinationHosts,
  DestinationRunner,
  type InboundSubscribedSighting,
  type InboundUnsubscribe,
} from '@tessera/destination-kit';
import { IdentityOutbox, MatchReview, type IdentityGraph } from '@tessera/identity-graph';
import {
  assertNoEviction,
  deliverQueueName,
  type DeliveryItem,
  type IngestedEvent,
  JobQueue,
  QUEUE_PAYLOAD_KEY_PURPOSE,
  RedisConnectionGate,
  RedisRateGate,
  RedisTokenCache,
  type ResolvedEvent,
  startStageWorker,
  TOKEN_CACHE_KEY_PURPOSE,
} from '@tessera/queues';
import { reclaimDeletedRows, type PiiVault, type Store } from '@tessera/store';
import type { BrandContext, PluginPool } from '@tessera/transform';
import { DestinationDirectory, type PipelineDestination } from './destination-directory';
import { PipelineSubjectErasure } from './erasure/pipeline-subject-erasure.service';
import { contactKeysOf, RedisErasureSweep } from './erasure/redis-erasure-sweep';
import { UnresolvedEvents } from './store/unresolved-events.repository';
import { InboundQueue } from './inbound/inbound-queue';
import { InboundSync, type InboundSyncOutcome } from './inbound/inbound-sync.service';
import { InboundCursorBook } from './store/inbound-cursor-book.repository';
import { InboundSightingBook } from './store/inbound-sighting-book.repository';
import type { PipelineMetrics } from './pipeline-metrics';
import {
  DeliverStage,
  emptyDeliverOutcome,
  type DeliverOutcome,
  type SettledItem,
} from './stages/deliver-stage.service';
import { eventKeyOf, eventKeyString } from './stages/event-identity';
import { redactEspText } from './stages/esp-text-redaction';
import { RedisDeliveryWindow } from './stages/delivery-window';
import { RedisProfileVersionGuard } from './stages/redis-profile-version-guard';
import {
  DeliveryReplay,
  type DeadLetterReplayOutcome,
  type RehydrationProgress,
} from './operations/delivery-replay.service';
import { ReplayAdmission } from './operations/replay-admission';
import { WindowedDelivery, windowPolicyOf } from './stages/windowed-delivery.service';
import { ResolveStage } from './stages/resolve-stage.service';
import { RouteStage } from './stages/route-stage.service';
import { CustomerBrands } from './scheduled/customer-brands.repository';
import { DsrDueWatch } from './scheduled/dsr-due-watch.service';
import { IdentityLineageReader } from './scheduled/identity-lineage.repository';
import { LineagePublisher } from './scheduled/lineage-publisher.service';
import { PointsStagnationCheck } from './scheduled/points-stagnation.service';
import { ProbableMatchScan } from './scheduled/probable-match-scan.service';
import { ScheduleCursorBook } from './scheduled/schedule-cursor-book.repository';
import { DeadLetterBox, type ReplayFilter } from './store/dead-letter-box.repository';
import { DeliveryLog } from './store/delivery-log.repository';
import { DestinationStateBook } from './store/destination-state-book.repository';
import { DestinationSyncState } from './store/destination-sync-state.repository';
import { ErasureTargets } from './store/erasure-targets.repository';
import { RawEventLog, type RawEventFilter } from './store/raw-event-log.repository';

export interface PipelineLogger {
  info(detail: Record<string, unknown>, message: string): void;
  warn(detail: Record<string, unknown>, message: string): void;
  error(detail: Record<string, unknown>, message: string): void;
  debug?(detail: Record<string, unknown>, message: string): void;
}

export interface PipelineWorkerOptions {
  /** The process's shared connection (producers, gates, caches). */
  redis: Redis;
  /** Workers block on connections of their own, opened from this URL. */
  redisUrl: string;
  prefix: string;
  masterKeys: Buffer[];
  store: Store;
  vault: PiiVault;
  graph: IdentityGraph;
  ledger: ConsentLedger;
  suppressions: SuppressionList;
  gate: ConsentGate;
  audit: AuditLog;
  brands: readonly BrandContext[];
  destinations: readonly PipelineDestination[];
  /**
   * Hosts the deployment allows its destinations beyond their ESPs' own (TESSERA_ALLOWED_DESTINATION_HOSTS, the
   * embedded sandbox). Default none: an ESP's hosts over https only.
   */
  allowedDestinationHosts?: AllowedDestinationHosts;
  /** Runs the destinations' plugins (a pool started on first use may stand in for it). */
  pool?: Pick<PluginPool, 'run'>;
  /**
   * The stored workspace, when the process follows it: read at every state refresh, reloaded and applied
   * (`reloadWorkspace`) when its fingerprint moved. Without it, the destinations are those given at start.
   */
  workspace?: {
    fingerprint(): Promise<string>;
    load(): Promise<PipelineWorkspace>;
  };
  metrics: PipelineMetrics;
  logger: PipelineLogger;
  /** How often destination states (and the workspace) are re-read (default 1 s: a toggle applies within 5 s). */
  stateRefreshMs?: number;
  /** How often polling ESPs (Braze, Klaviyo) are asked for opt-outs (default 5 minutes). */
  inboundPollMs?: number;
  /** Where data subjects' access exports are written. */
  exportDir: string;
  /** How long raw events, the delivery log and exports are kept (TESSERA_RETENTION); the run is daily. */
  retention: RetentionPolicy;
  /**
   * Jobs each stage runs at once in this process (default: resolve 1 — it takes the waiting jobs as one batch,
   * and one member's events stay in order — route 2, deliver 2).
   */
  concurrency?: { resolve?: number; route?: number; deliver?: number };
  /** How often the identity graph's outbox (merges, splits) is published to the route stage (default 5 s). */
  lineagePublishMs?: number;
  /** The clock of routing and the scheduled checks (tests set it; default the system clock). */
  clock?: () => Date;
}

/** The workspace as a reload gives it: its brands, and its destinations this process runs, resolved. */
export interface PipelineWorkspace {
  brands: readonly BrandContext[];
  destinations: readonly PipelineDestination[];
  /** Stored destinations whose config did not resolve (bad settings, rules, plugins): they keep the one they run. */
  unresolved: readonly { id: string; reason: string }[];
}

/** What a workspace reload changed. */
export interface WorkspaceReloadOutcome {
  added: string[];
  removed: string[];
  /** Destinations whose settings (or type) changed: their runner was replaced. */
  reconfigured: string[];
  /** Destinations kept on their previous config because the new one did not resolve. */
  kept: string[];
}

/** How often the events of a held source are looked at again. */
export const HELD_RECHECK_MS = 5_000;

/** Two refused credentials in a row pause a destination. */
export const AUTH_FAILURES_BEFORE_PAUSE = 2;

const digest = (parts: readonly string[]) =>
  createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);

/**
 * The worker side of the pipeline in one process: the resolve, route and deliver stages on their BullMQ
 * queues (one deliver queue per destination instance), the shared gates and token cache, destination states
 * applied as they change, and a graceful drain on close. Several processes may run it on one Redis and one
 * store: every hand-off is a job with a deterministic id, and every stage redoes only what the store says
 * is left.
 */
export class PipelineWorker {
  readonly directory: DestinationDirectory;
  readonly rawLog: RawEventLog;
  readonly deliveryLog: DeliveryLog;
  readonly deadLetters: DeadLetterBox;
  readonly states: DestinationStateBook;
  readonly versions: RedisProfileVersionGuard;
  private readonly keyRing: KeyRing;
  private readonly routeQueue: JobQueue<'route'>;
  private readonly resolveQueue: JobQueue<'resolve'>;
  readonly inboundQueue: JobQueue<'inbound'>;
  readonly dsrQueue: JobQueue<'dsr'>;
  readonly maintenanceQueue: JobQueue<'maintenance'>;
  readonly dsr: DsrService;
  readonly cursors: InboundCursorBook;
  /**
   * The scheduled maintenance work (`maintenance.lineage`, `.stagnation`, `.dsr-due`, `.matching`), runnable
   * directly too.
   */
  readonly lineagePublisher: LineagePublisher;
  readonly stagnationCheck: PointsStagnationCheck;
  readonly dsrDueWatch: DsrDueWatch;
  readonly probableMatchScan: ProbableMatchScan;
  private readonly inboundSync: InboundSync;
  private readonly deliverQueues = new Map<string, JobQueue<'deliver'>>();
  private readonly runners = new Map<string, DestinationRunner>();
  private readonly workers: Worker[] = [];
  private readonly deliverWorkers = new Map<string, Worker>();
  /** Deliver workers of removed destinations, draining: `close` waits for them. */
  private readonly retiring = new Set<Promise<void>>();
  private readonly tokenCache: RedisTokenCache;
  private readonly rateGate: RedisRateGate;
  private readonly connectionGate: RedisConnectionGate;
  private brands: Map<string, BrandContext>;
  private workspaceFingerprint: string | undefined;
  private started = false;
  private readonly connections: Redis[] = [];
  private readonly resolveStage: ResolveStage;
  private readonly routeStage: RouteStage;
  private readonly deliverStage: DeliverStage;
  /** Every hand-off to a destination goes through its delivery window (see WindowedDelivery). */
  readonly delivery: WindowedDelivery;
  readonly deliveryWindow: RedisDeliveryWindow;
  /** What each destination last accepted per customer (change-only writes). */
  readonly syncState: DestinationSyncState;
  private readonly replay: DeliveryReplay;
  private readonly subjectErasure: PipelineSubjectErasure;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** Destinations whose credentials this process saw refused since their last success. */
  private readonly authFailing = new Set<string>();
  private refreshing: Promise<void> | undefined;

  constructor(private readonly options: PipelineWorkerOptions) {
    const { redis, prefix, store, vault } = options;
    this.keyRing = new KeyRing(options.masterKeys, QUEUE_PAYLOAD_KEY_PURPOSE);
    this.rawLog = new RawEventLog(store, vault);
    this.deliveryLog = new DeliveryLog(store);
    this.deadLetters = new DeadLetterBox(store, vault);
    this.states = new DestinationStateBook(store);
    this.syncState = new DestinationSyncState(store, vault);
    this.versions = new RedisProfileVersionGuard(redis, prefix);
    this.directory = new DestinationDirectory(options.destinations, this.states);
    this.routeQueue = new JobQueue('route', redis, prefix);
    this.resolveQueue = new JobQueue('resolve', redis, prefix);
    this.inboundQueue = new JobQueue('inbound', redis, prefix);
    this.dsrQueue = new JobQueue('dsr', redis, prefix);
    this.maintenanceQueue = new JobQueue('maintenance', redis, prefix);
    const erasureTargets = new ErasureTargets(store);
    this.dsr = new DsrService({
      store,
      graph: options.graph,
      exportDir: options.exportDir,
      // The rest of the person (raw events, deliveries, dead letters, queues) goes before an erasure completes.
      subjectData: { erase: (subject) => this.subjectErasure.erase(subject) },
      // Erasure's suppressions reach every consent gate at once: no cached grant lets a re-send through.
      suppressions: options.suppressions,
      deliveryLog: {
        entriesFor: async (customerIds) =>
          (
            await Promise.all(customerIds.map((id) => this.deliveryLog.forCustomer(id, { limit: 10_000 })))
          ).flat(),
      },
      // An erasure goes to the destinations that hold the person, not to every destination of every brand.
      destinationsHolding: (customerIds) => erasureTargets.holding(customerIds),
      // The embedded store's files keep no deleted row of the person (PostgreSQL: the operator's VACUUM FULL).
      reclaimDeletedRows: () => reclaimDeletedRows(store),
    });
    this.cursors = new InboundCursorBook(store);
    const clock = options.clock ?? (() => new Date());
    const lineage = new IdentityLineageReader(store);
    this.lineagePublisher = new LineagePublisher({
      outbox: new IdentityOutbox(store),
      lineage,
      brands: new CustomerBrands(store),
      route: (events, jobId) => this.enqueueRouteJob(events, jobId),
      now: clock,
    });
    const scheduleCursors = new ScheduleCursorBook(store, { now: clock });
    this.stagnationCheck = new PointsStagnationCheck({
      store,
      cursors: scheduleCursors,
      destinations: () => this.directory.all(),
      route: (events, jobId) => this.enqueueRouteJob(events, jobId),
      now: clock,
    });
    this.dsrDueWatch = new DsrDueWatch({
      store,
      requests: new DsrRequestRepository(store),
      audit: options.audit,
      report: (counts) => options.metrics.setDsrDue(counts),
      warn: (detail, message) => options.logger.warn(detail, message),
      now: clock,
    });
    this.probableMatchScan = new ProbableMatchScan({
      store,
      cursors: scheduleCursors,
      review: new MatchReview(options.graph),
    });

    this.tokenCache = new RedisTokenCache(
      redis,
      prefix,
      new KeyRing(options.masterKeys, TOKEN_CACHE_KEY_PURPOSE),
    );
    this.rateGate = new RedisRateGate(redis, prefix);
    this.connectionGate = new RedisConnectionGate(redis, prefix);
    for (const destination of options.destinations) {
      this.deliverQueues.set(
        destination.id,
        new JobQueue('deliver', redis, prefix, deliverQueueName(destination.id)),
      );
      this.runners.set(destination.id, this.runnerFor(destination));
    }

    this.brands = new Map(options.brands.map((brand) => [brand.id, brand]));
    this.resolveStage = new ResolveStage({
      journal: this.rawLog,
      graph: options.graph,
      ledger: options.ledger,
      vault,
      route: (events) => this.enqueueRoute(events),
      suppressions: options.suppressions,
    });
    this.routeStage = new RouteStage({
      graph: options.graph,
      gate: options.gate,
      destinationsOf: (brand) => this.directory.destinationsOf(brand),
      brandOf: (brand) => this.brands.get(brand) ?? { id: brand, name: brand, defaultCountry: 'GB' },
      ...(options.pool === undefined ? {} : { pool: options.pool }),
      deliver: (destinationId, items) => this.delivery.enqueue(destinationId, items),
      now: clock,
    });
    this.inboundSync = new InboundSync({
      directory: this.directory,
      graph: options.graph,
      ledger: options.ledger,
      suppressions: options.suppressions,
      vault,
      deliver: (destinationId, items) => this.delivery.enqueue(destinationId, items),
      sent: this.deliveryLog,
      syncState: this.syncState,
      sightings: new InboundSightingBook(store),
    });
    this.deliverStage = new DeliverStage({
      runnerOf: (id) => this.runners.get(id),
      record: (settled) => this.recordDeliveries(settled),
      deadLetter: (letters) =>
        this.deadLetters
          .add(
            letters.map((letter) => ({
              brand: this.directory.get(letter.destinationId)?.brand ?? '',
              destinationId: letter.destinationId,
              operation: letter.item.operation.operation,
              itemKey: letter.item.itemKey,
              item: letter.item,
              ...eventColumns(letter.item),
              errorClass: letter.errorClass,
              error: letter.error,
              attempts: letter.attempts,
            })),
          )
          .then(() => undefined),
      requeue: (destinationId, items, delayMs) => this.delivery.enqueue(destinationId, items, delayMs),
      versions: this.versions,
      mergesStanding: (merges) => lineage.mergesStanding(merges),
      authFailed: (destinationId, reason) => this.authFailed(destinationId, reason),
      syncState: this.syncState,
      // Only a destination this process saw refused needs its counter reset: no statement per job otherwise.
      authSucceeded: async (destinationId) => {
        if (!this.authFailing.delete(destinationId)) return;
        await this.states.recordSuccess(destinationId);
      },
    });
    this.deliveryWindow = new RedisDeliveryWindow(redis, prefix, this.keyRing);
    this.delivery = new WindowedDelivery({
      window: this.deliveryWindow,
      queueOf: (id) => this.deliverQueues.get(id),
      policyOf: (id) => {
        const runner = this.runners.get(id);
        return runner === undefined
          ? undefined
          : windowPolicyOf(runner.settings, runner.definition.operations);
      },
      deliver: (destinationId, items, holder) => this.deliverUnlessStopped(destinationId, items, holder),
    });
    const admission = new ReplayAdmission({
      store,
      graph: options.graph,
      suppressions: options.suppressions,
      rawLog: this.rawLog,
      contactKeysOf: contactKeysOf(options.graph),
    });
    this.replay = new DeliveryReplay({
      deadLetters: this.deadLetters,
      deliveryLog: this.deliveryLog,
      rawLog: this.rawLog,
      runHere: () => [...this.deliverQueues.keys()],
      refusals: (entries) => admission.refusals(entries),
      deliver: (destinationId, items) => this.delivery.enqueue(destinationId, items),
      route: (events, jobId) => this.enqueueRouteJob(events, jobId),
    });
    this.subjectErasure = new PipelineSubjectErasure({
      rawLog: this.rawLog,
      unresolved: new UnresolvedEvents(store, vault),
      contactKeysOf: contactKeysOf(options.graph),
      deliveryLog: this.deliveryLog,
      deadLetters: this.deadLetters,
      syncState: this.syncState,
      sweep: new RedisErasureSweep({
        redis,
        prefix,
        keyRing: this.keyRing,
        queues: () => [this.resolveQueue, this.routeQueue, this.inboundQueue, ...this.deliverQueues.values()],
        window: this.deliveryWindow,
        versions: this.versions,
        destinationIds: () => [...this.deliverQueues.keys()],
        contactKeysOf: contactKeysOf(options.graph),
      }),
    });
  }

  /** Checks Redis, records and loads destination states, applies pauses, then starts every stage's worker. */
  async start(): Promise<void> {
    await assertNoEviction(this.options.redis);
    // Tombstones an older release left keyed by their value (a member id in clear) take their blind index.
    await this.options.graph.rekeyClearTombstones();
    await this.directory.start();
    for (const destination of this.directory.all()) {
      await this.applyState(destination.id);
    }
    const concurrency = this.options.concurrency ?? {};
    const { prefix } = this.options;
    this.workers.push(
      startStageWorker({
        stage: 'resolve',
        connection: this.connection(),
        prefix,
        // One batch at a time: the identity graph writes one batch at a time anyway, and two batches taken side by
        // side could apply one member's events out of their order (a later event resolved first leaves the
        // profile on the earlier one). Jobs waiting behind the one started are resolved with it, as one batch (up
        // to 1,000 events), which is where the throughput comes from.
        concurrency: concurrency.resolve ?? 1,
        batchHandlers: {
          'resolve.events': async (jobs) => {
            const opened = jobs.map(({ data, job }) => this.keyRing.openJson(data.events, job.id));
            const all = opened.flat();
            const events = all.filter((event) => !this.directory.isHeld(event.sourceId));
            const held = all.filter((event) => this.directory.isHeld(event.sourceId));
            // Held sources' events wait on the queue (checked again every few seconds) until released.
            if (held.length > 0)
              await this.holdEvents(held, Math.max(...jobs.map(({ job }) => job.attemptsMade)));
            const outcome = await this.resolveStage.handle(events);
            this.options.metrics.stage('resolve', 'resolved', outcome.resolved);
            this.options.metrics.stage('resolve', 'duplicate', outcome.duplicates);
            this.options.metrics.stage('resolve', 'erased', outcome.erased);
            this.options.metrics.stage('resolve', 'unresolved', outcome.unresolved);
            this.options.metrics.stage('resolve', 'merged', outcome.merged);
            this.options.metrics.stage('resolve', 'merge_refused', outcome.mergesRefused.length);
            this.options.metrics.stage('resolve', 'linked', outcome.linked);
            this.options.metrics.stage('resolve', 'link_refused', outcome.linksRefused.length);
            if (outcome.erased > 0) await this.forgetErasedEvents(jobs, opened);
            const { mergesRefused, linksRefused, ...counts } = outcome;
            return opened.map((mine) => {
              const keys = new Set(mine.map((event) => eventKeyString(eventKeyOf(event))));
              return {
                events: mine.length,
                mergesRefused: mergesRefused.filter((refusal) => keys.has(eventKeyString(refusal.key))),
                linksRefused: linksRefused.filter((refusal) => keys.has(eventKeyString(refusal.key))),
                batch: { jobs: jobs.length, ...counts },
              };
            });
          },
        },
      }),
      startStageWorker({
        stage: 'route',
        connection: this.connection(),
        prefix,
        concurrency: concurrency.route ?? 2,
        // Jobs waiting behind the one started are routed with it, as one batch (up to 1,000 events).
        batchHandlers: {
          'route.events': async (jobs) => {
            const events = jobs.flatMap(({ data, job }) => this.keyRing.openJson(data.events, job.id));
            const outcome = await this.routeStage.handle(events);
            this.options.metrics.stage('route', 'routed', outcome.events);
            for (const [id, count] of outcome.dropped)
              this.options.metrics.routeDropped(id, 'disabled', count);
            for (const [id, count] of outcome.refused)
              this.options.metrics.routeDropped(id, 'consent', count);
            for (const error of outcome.errors) this.options.logger.warn({ error }, 'transformation error');
            const batch = {
              jobs: jobs.length,
              events: outcome.events,
              items: Object.fromEntries(outcome.items),
            };
            return jobs.map(({ data }) => ({ events: data.count, batch }));
          },
        },
      }),
    );
    this.workers.push(
      startStageWorker({
        stage: 'inbound',
        connection: this.connection(),
        prefix,
        concurrency: 1,
        handlers: {
          'inbound.changes': async (data, job) =>
            this.syncInbound(data.destinationId, this.keyRing.openJson(data.changes, job.id)),
          'inbound.poll': async (data) => this.pollInbound(data.destinationId),
        },
      }),
    );
    await this.schedulePolls();
    this.workers.push(
      startStageWorker({
        stage: 'maintenance',
        connection: this.connection(),
        prefix,
        // Two at once: a long retention or stagnation run must not hold up the lineage publisher for its length.
        concurrency: 2,
        handlers: {
          'maintenance.retention': async () => this.runRetention(),
          'maintenance.lineage': async () => this.lineagePublisher.publish(),
          'maintenance.stagnation': async () => {
            const outcome = await this.stagnationCheck.run();
            this.options.logger.info({ ...outcome }, 'points-stagnation check');
            return outcome;
          },
          'maintenance.dsr-due': async () => this.dsrDueWatch.run(),
          'maintenance.matching': async () => {
            // Counts only: the profiles' ids and traits stay out of the log.
            const outcome = await this.probableMatchScan.run();
            this.options.logger.info({ ...outcome }, 'probable-match scan');
            return outcome;
          },
        },
      }),
    );
    await this.maintenanceQueue.queue.upsertJobScheduler(
      'retention-daily',
      { every: 24 * 3_600_000 },
      { name: 'maintenance.retention', data: {} },
    );
    await this.maintenanceQueue.queue.upsertJobScheduler(
      'lineage-publish',
      { every: this.options.lineagePublishMs ?? 5_000 },
      { name: 'maintenance.lineage', data: {} },
    );
    await this.maintenanceQueue.queue.upsertJobScheduler(
      'stagnation-daily',
      { every: 24 * 3_600_000 },
      { name: 'maintenance.stagnation', data: {} },
    );
    await this.maintenanceQueue.queue.upsertJobScheduler(
      'dsr-due-hourly',
      { every: 3_600_000 },
      { name: 'maintenance.dsr-due', data: {} },
    );
    await this.maintenanceQueue.queue.upsertJobScheduler(
      'matching-minutely',
      { every: 60_000 },
      { name: 'maintenance.matching', data: {} },
    );
    this.workers.push(
      startStageWorker({
        stage: 'dsr',
        connection: this.connection(),
        prefix,
        concurrency: 1,
        handlers: {
          'dsr.erasure': async (data) => {
            const outcome = await this.dsr.runErasure(
              data.requestId,
              this.directory.all().flatMap((destination) => {
                const runner = this.runners.get(destination.id);
                const paused = this.directory.stateOf(destination.id) === 'paused';
                return runner === undefined ? [] : [{ id: destination.id, runner, paused }];
              }),
            );
            // Nothing of the person stays in the sync state (their ESP ids, their attributes' hashes).
            await this.syncState.forget(outcome.request.customerIds);
            const unfinished = outcome.destinations.filter(
              (result) => result.status === 'retry' || result.status === 'error',
            );
            // BullMQ retries the job with backoff; the next run calls only these destinations again.
            if (unfinished.length > 0) {
              throw new Error(
                `erasure ${data.requestId} not finished at ${unfinished.map((result) => result.destinationId).join(', ')}`,
              );
            }
            // Pending at a destination resumed while this ran (its resume looked for waiting erasures before
            // this one was recorded): run again now rather than wait for the next resume.
            const waiting = outcome.destinations.filter((result) => result.status === 'pending');
            for (const result of waiting)
              if (this.directory.stateOf(result.destinationId) !== 'paused')
                await this.runWaitingErasures(result.destinationId);
            return { destinations: outcome.destinations.length, waiting: waiting.length };
          },
          'dsr.access': async (data) => {
            const { path } = await this.dsr.runAccess(data.requestId);
            return { path };
          },
        },
      }),
    );
    for (const worker of this.workers) this.reportFailures(worker);
    for (const destination of this.directory.all()) this.startDeliverWorker(destination.id);
    this.started = true;
    const every = this.options.stateRefreshMs ?? 1000;
    this.refreshTimer = setInterval(() => void this.refreshStates(), every);
    this.refreshTimer.unref();
  }

  private startDeliverWorker(destinationId: string): void {
    const worker = startStageWorker({
      stage: 'deliver',
      queueName: deliverQueueName(destinationId),
      connection: this.connection(),
      prefix: this.options.prefix,
      concurrency: this.options.concurrency?.deliver ?? 2,
      handlers: {
        // Queued before delivery windows existed: the items join the window.
        'deliver.items': async (data, job) => {
          const items = this.keyRing.openJson(data.items, job.id);
          await this.delivery.enqueue(data.destinationId, items);
          return { windowed: items.length };
        },
        'deliver.flush': async (data, job) => {
          const flushed = await this.delivery
            .flush(data.destinationId, String(job.id))
            .catch((error: unknown) => {
              // BullMQ keeps a failed job's message and stack in Redis: never an ESP's echo of a contact point.
              const redacted = new Error(
                redactEspText(error instanceof Error ? error.message : String(error)),
              );
              redacted.name = error instanceof Error ? error.name : 'Error';
              throw redacted;
            });
          if (flushed.outcome !== undefined) this.observe(data.destinationId, flushed.outcome);
          return flushed;
        },
      },
    });
    this.reportFailures(worker);
    this.deliverWorkers.set(destinationId, worker);
  }

  private reportFailures(worker: Worker): void {
    worker.on('failed', (job, error) =>
      this.options.logger.error({ queue: worker.name, job: job?.id, error: error.message }, 'job failed'),
    );
  }

  private runnerFor(destination: PipelineDestination): DestinationRunner {
    return new DestinationRunner(destination.definition, {
      settings: destination.settings,
      tokenCache: this.tokenCache,
      rateGate: this.rateGate,
      connectionGate: this.connectionGate,
      instanceKey: destination.id,
      ...(this.options.allowedDestinationHosts === undefined
        ? {}
        : { allowedHosts: this.options.allowedDestinationHosts }),
    });
  }

  /** Drains: jobs in progress finish, no new one starts; then queues and connections close. */
  async close(): Promise<void> {
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    await this.refreshing;
    await Promise.all([
      ...this.workers.map((worker) => worker.close()),
      ...[...this.deliverWorkers.values()].map((worker) => worker.close()),
      ...this.retiring,
    ]);
    await this.routeQueue.close();
    await this.resolveQueue.close();
    await this.inboundQueue.close();
    await this.dsrQueue.close();
    await this.maintenanceQueue.close();
    await Promise.all([...this.deliverQueues.values()].map((queue) => queue.close()));
    await Promise.all(
      this.connections.map((connection) => connection.quit().catch(() => connection.disconnect())),
    );
  }

  /** Queues opt-outs an ESP's webhook reported (the intake calls it once it verified them). */
  enqueueInbound(destinationId: string, changes: InboundUnsubscribe[], jobId: string): Promise<void> {
    return new InboundQueue(this.inboundQueue, this.keyRing).add(destinationId, changes, jobId);
  }

  /** Deletes raw events, delivery log entries and exports past their retention (batched, resumable). */
  async runRetention(): Promise<{ purged: number; failures: number }> {
    const job = new RetentionJob(
      [
        {
          dataClass: 'raw_events',
          purgeOlderThan: (cutoff, limit) => this.rawLog.deleteReceivedBefore(cutoff, limit),
        },
        {
          dataClass: 'delivery_log',
          purgeOlderThan: (cutoff, limit) => this.deliveryLog.deleteBefore(cutoff, limit),
        },
        new ExportFolderRetention(this.options.exportDir),
      ],
      this.options.retention,
    );
    const report = await job.run();
    this.options.logger.info({ purged: report.purged, failures: report.failures }, 'retention run');
    return { purged: report.purged, failures: report.failures };
  }

  /** Queues a data subject request's work (erasure at every destination, or the access export). */
  async enqueueDsr(kind: 'erasure' | 'access', requestId: string): Promise<void> {
    if (kind === 'erasure') await this.dsrQueue.add('dsr.erasure', { requestId }, `dsr-erasure-${requestId}`);
    else await this.dsrQueue.add('dsr.access', { requestId }, `dsr-access-${requestId}`);
  }

  /** The runner of a destination this process runs (the intake's webhook receiver uses it in one process). */
  runnerOf(destinationId: string): DestinationRunner | undefined {
    return this.runners.get(destinationId);
  }

  /**
   * Reads a polling ESP's opt-outs since the stored cursor, syncs them, then moves the cursor on. A paused or
   * disabled destination is not polled: its cursor stays, so the first poll after a resume reads what it missed.
   */
  async pollInbound(destinationId: string): Promise<{ changes: number; skipped?: string }> {
    const runner = this.runners.get(destinationId);
    if (runner === undefined || runner.definition.pollInboundUnsubscribes === undefined)
      return { changes: 0 };
    const state = this.directory.stateOf(destinationId);
    if (state !== 'enabled') return { changes: 0, skipped: state ?? 'removed' };
    const cursor = await this.cursors.get(destinationId);
    const poll = await runner.pollInboundUnsubscribes(cursor);
    const outcome =
      poll.changes.length > 0 || (poll.subscribed?.length ?? 0) > 0
        ? await this.syncInbound(destinationId, poll.changes, poll.subscribed, true)
        : undefined;
    // Only after the changes are in the ledger: a crash re-reads them, and the ledger dedupes. Fresh opt-outs
    // left for the next poll keep the cursor where it was, so that poll reads them again.
    const deferred = (outcome?.deferred ?? 0) > 0;
    // A first poll that deferred some stores no cursor: the next one looks back from the start again.
    if (!deferred || cursor !== undefined)
      await this.cursors.set(
        destinationId,
        deferred && cursor !== undefined ? cursor : poll.cursor,
        new Date(),
      );
    return { changes: poll.changes.length };
  }

  /** Syncs an ESP's opt-outs; echoes of Tessera's own writes are counted and logged (no contact point). */
  private async syncInbound(
    destinationId: string,
    changes: InboundUnsubscribe[],
    subscribed?: InboundSubscribedSighting[],
    deferFresh = false,
  ): Promise<InboundSyncOutcome> {
    const outcome = await this.inboundSync.handle(destinationId, changes, subscribed, deferFresh);
    if (outcome.echoes > 0) {
      this.options.metrics.inboundEchoes(destinationId, outcome.echoes);
      this.options.logger.debug?.({ destinationId, echoes: outcome.echoes }, 'inbound echoes of own writes');
    }
    return outcome;
  }

  /** One BullMQ job scheduler per polling destination (upserted: every worker may call it). */
  private async schedulePolls(): Promise<void> {
    const every = this.options.inboundPollMs ?? 5 * 60_000;
    for (const destination of this.directory.all()) {
      if (destination.definition.pollInboundUnsubscribes === undefined) continue;
      await this.schedulePoll(destination.id, every);
    }
  }

  private async schedulePoll(destinationId: string, every: number): Promise<void> {
    await this.inboundQueue.queue.upsertJobScheduler(
      `poll-${destinationId}`,
      { every },
      { name: 'inbound.poll', data: { destinationId } },
    );
  }

  /**
   * Jobs per queue and state, and the items waiting in each destination's delivery window (state `in_window`:
   * its flush jobs carry none), for the metrics.
   */
  async queueDepths(): Promise<{ queue: string; state: string; count: number }[]> {
    const depths: { queue: string; state: string; count: number }[] = [];
    for (const queue of this.queues) {
      const counts = await queue.queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
      for (const [state, count] of Object.entries(counts))
        depths.push({ queue: queue.queueName, state, count });
    }
    for (const [id, queue] of this.deliverQueues) {
      const { waiting } = await this.deliveryWindow.size(id);
      depths.push({ queue: queue.queueName, state: 'in_window', count: waiting });
    }
    return depths;
  }

  /** The deliver queue of a destination (tests, metrics, the console). */
  deliverQueue(destinationId: string): JobQueue<'deliver'> | undefined {
    return this.deliverQueues.get(destinationId);
  }

  get queues(): JobQueue<'route' | 'deliver' | 'inbound' | 'dsr' | 'maintenance'>[] {
    return [
      this.routeQueue,
      this.inboundQueue,
      this.dsrQueue,
      this.maintenanceQueue,
      ...this.deliverQueues.values(),
    ];
  }

  /**
   * Replays dead letters (by ids or a filter) as full writes, at destinations this process runs (see
   * `DeliveryReplay.replayDeadLetters`).
   */
  replayDeadLetters(filter: ReplayFilter): Promise<DeadLetterReplayOutcome> {
    return this.replay.replayDeadLetters(filter);
  }

  /** Re-runs stored events through routing and delivery with today's profiles, rules and consent. */
  rehydrate(
    filter: Omit<RawEventFilter, 'afterKey' | 'limit'>,
    options: { onProgress?: (progress: RehydrationProgress) => void } = {},
  ): Promise<{ events: number }> {
    return this.replay.rehydrate(filter, options);
  }

  /**
   * Reloads the workspace if its fingerprint moved (when the process follows the store), then reads
   * destination states again and applies what changed (pause or resume the deliver queue).
   */
  async refreshStates(): Promise<void> {
    if (this.refreshing !== undefined) return this.refreshing;
    this.refreshing = (async () => {
      try {
        await this.followWorkspace();
        const changed = await this.directory.refresh();
        for (const id of changed.keys()) await this.applyState(id);
      } catch (error) {
        this.options.logger.warn({ error: (error as Error).message }, 'could not refresh destination states');
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private async followWorkspace(): Promise<void> {
    const source = this.options.workspace;
    if (source === undefined) return;
    try {
      const fingerprint = await source.fingerprint();
      if (fingerprint === this.workspaceFingerprint) return;
      await this.reloadWorkspace(await source.load());
      this.workspaceFingerprint = fingerprint;
    } catch (error) {
      // The store is down, say: everything runs on as it was, and the next refresh tries again.
      this.options.logger.warn(
        { error: (error as Error).message },
        'could not reload the workspace; running on the previous one',
      );
    }
  }

  /**
   * Applies a reloaded workspace: brands (their default countries) for routing and the identity graph; for
   * each destination, its rules and plugins from the next route batch, a new runner when its settings changed
   * (the next deliver job uses it); a new destination gets its queue, runner, state and deliver worker (and
   * its opt-out poll); a removed one is no longer routed to and its deliver worker drains and closes. A
   * destination whose new config did not resolve keeps the one it runs with. On a worker that was never
   * started (the console alone) only the directory, runners and queues follow: no stage worker starts.
   */
  async reloadWorkspace(workspace: PipelineWorkspace): Promise<WorkspaceReloadOutcome> {
    const outcome: WorkspaceReloadOutcome = { added: [], removed: [], reconfigured: [], kept: [] };
    this.brands = new Map(workspace.brands.map((brand) => [brand.id, brand]));
    this.options.graph.useBrands(workspace.brands);

    const unresolved = new Map(workspace.unresolved.map((entry) => [entry.id, entry.reason]));
    for (const [id, reason] of unresolved) {
      this.options.logger.warn(
        { destinationId: id, reason, running: this.directory.get(id) !== undefined },
        `destination ${id}: its stored config does not resolve; it keeps the config it runs with`,
      );
      if (this.directory.get(id) !== undefined) outcome.kept.push(id);
    }
    const wanted = new Map(workspace.destinations.map((destination) => [destination.id, destination]));
    for (const destination of this.directory.all()) {
      if (wanted.has(destination.id) || unresolved.has(destination.id)) continue;
      this.retire(destination.id);
      outcome.removed.push(destination.id);
    }

    for (const destination of wanted.values()) {
      const running = this.directory.get(destination.id);
      if (running === undefined) outcome.added.push(destination.id);
      else if (
        running.definition !== destination.definition ||
        stableJson(running.settings) !== stableJson(destination.settings)
      )
        outcome.reconfigured.push(destination.id);
    }
    // Runners first: a route batch that sees a new destination finds its queue, and its first job its runner.
    for (const id of [...outcome.added, ...outcome.reconfigured]) {
      const destination = wanted.get(id);
      if (destination === undefined) continue;
      this.runners.set(id, this.runnerFor(destination));
      if (!this.deliverQueues.has(id))
        this.deliverQueues.set(
          id,
          new JobQueue('deliver', this.options.redis, this.options.prefix, deliverQueueName(id)),
        );
    }
    await this.directory.adopt([...wanted.values()]);
    if (outcome.added.length > 0 && this.started) {
      await this.directory.refresh();
      const every = this.options.inboundPollMs ?? 5 * 60_000;
      for (const id of outcome.added) {
        await this.applyState(id);
        if (!this.deliverWorkers.has(id)) this.startDeliverWorker(id);
        if (wanted.get(id)?.definition.pollInboundUnsubscribes !== undefined)
          await this.schedulePoll(id, every);
      }
    }
    if (outcome.added.length + outcome.removed.length + outcome.reconfigured.length + outcome.kept.length > 0)
      this.options.logger.info({ ...outcome }, 'workspace reloaded');
    return outcome;
  }

  /** A destination the workspace no longer has: no new routing to it; its deliver worker drains, then closes. */
  private retire(destinationId: string): void {
    this.directory.remove(destinationId);
    const worker = this.deliverWorkers.get(destinationId);
    this.deliverWorkers.delete(destinationId);
    const retired = (async () => {
      try {
        await worker?.close();
        await this.inboundQueue.queue.removeJobScheduler(`poll-${destinationId}`);
        // Unless it came back meanwhile: its items wait on its queue for a worker that runs it again.
        if (this.directory.get(destinationId) === undefined) {
          this.runners.delete(destinationId);
          await this.deliverQueues.get(destinationId)?.close();
          this.deliverQueues.delete(destinationId);
        }
      } catch (error) {
        this.options.logger.warn(
          { destinationId, error: (error as Error).message },
          'could not close the deliver worker of a removed destination',
        );
      }
    })();
    this.retiring.add(retired);
    void retired.finally(() => this.retiring.delete(retired));
  }

  private async applyState(destinationId: string): Promise<void> {
    const queue = this.deliverQueues.get(destinationId);
    if (queue === undefined) return;
    const paused = this.directory.stateOf(destinationId) === 'paused';
    // BullMQ pauses a queue for every worker at once; jobs keep arriving and wait.
    if (paused) await queue.queue.pause();
    else await queue.queue.resume();
    this.options.metrics.setPaused(destinationId, paused);
    if (!paused) await this.runWaitingErasures(destinationId);
  }

  /**
   * Queues again the erasures whose deletion waited at this destination while it was paused. The job id names
   * the wait, so every worker that sees the resume queues the same job, and a later pause and resume a new one.
   */
  private async runWaitingErasures(destinationId: string): Promise<void> {
    for (const { requestId, since } of await this.dsr.requests.waitingOn(destinationId)) {
      await this.dsrQueue.add(
        'dsr.erasure',
        { requestId },
        `dsr-erasure-${requestId}-${destinationId}-${since.getTime()}`,
      );
    }
  }

  /**
   * The deliver stage, unless an operator stopped the destination after this flush's job was started (pausing
   * the queue holds only jobs not started yet): a paused destination's items go back into its window, whose
   * flush waits on the paused queue until the resume; a disabled one's are dropped, and logged as such.
   */
  private async deliverUnlessStopped(
    destinationId: string,
    items: DeliveryItem[],
    holder: string,
  ): Promise<DeliverOutcome> {
    const state = this.directory.stateOf(destinationId);
    if (state !== 'paused' && state !== 'disabled')
      return this.deliverStage.handle(destinationId, items, holder);
    if (state === 'paused') await this.delivery.enqueue(destinationId, items);
    else
      await this.recordDeliveries(
        items.map((item) => ({
          destinationId,
          item,
          status: 'dropped' as const,
          detail: 'destination disabled: not sent',
          attempts: item.attempts,
        })),
      );
    return emptyDeliverOutcome(state === 'paused');
  }

  private connection(): Redis {
    const connection = new Redis(this.options.redisUrl, {
      maxRetriesPerRequest: null,
      connectionName: 'tessera-worker',
    });
    connection.on('error', (error) =>
      this.options.logger.warn({ error: error.message }, 'worker redis connection error'),
    );
    this.connections.push(connection);
    return connection;
  }

  private async holdEvents(events: IngestedEvent[], attempt: number): Promise<void> {
    const jobId = `held-${digest([String(Date.now()), String(attempt), ...events.map((event) => eventKeyString(eventKeyOf(event)))])}`;
    await this.resolveQueue.add(
      'resolve.events',
      { count: events.length, events: this.keyRing.sealJson(events, jobId) },
      jobId,
      { delayMs: HELD_RECHECK_MS },
    );
  }

  /**
   * Retried events of erased people (recognised by their tombstone) are taken out of the jobs that carried them:
   * BullMQ keeps a finished job's data for a day, and theirs must not stay readable there.
   */
  private async forgetErasedEvents(
    jobs: { job: { id: string } }[],
    opened: IngestedEvent[][],
  ): Promise<void> {
    const erased = await this.rawLog.erasedAmong(opened.flat().map(eventKeyOf));
    for (const [index, { job }] of jobs.entries()) {
      const mine = opened[index] ?? [];
      const kept = mine.filter((event) => !erased.has(eventKeyString(eventKeyOf(event))));
      if (kept.length === mine.length) continue;
      const bull = await this.resolveQueue.queue.getJob(job.id);
      await bull?.updateData({ count: kept.length, events: this.keyRing.sealJson(kept, job.id) });
    }
  }

  private async enqueueRoute(events: ResolvedEvent[]): Promise<void> {
    const jobId = `route-${digest(events.map((event) => eventKeyString(event.key)).sort())}`;
    await this.routeQueue.add(
      'route.events',
      { count: events.length, events: this.keyRing.sealJson(events, jobId) },
      jobId,
    );
  }

  /** A route job whose id the caller derived from its content (the scheduled work's events). */
  private async enqueueRouteJob(events: ResolvedEvent[], jobId: string): Promise<void> {
    await this.routeQueue.add(
      'route.events',
      { count: events.length, events: this.keyRing.sealJson(events, jobId) },
      jobId,
    );
  }

  private async recordDeliveries(settled: SettledItem[]): Promise<void> {
    await this.deliveryLog.record(
      settled.map((entry) => ({
        ...eventColumns(entry.item),
        brand: this.directory.get(entry.destinationId)?.brand ?? '',
        destinationId: entry.destinationId,
        operation: entry.item.operation.operation,
        itemKey: entry.item.itemKey,
        status: entry.status,
        ...(entry.detail === undefined ? {} : { detail: entry.detail }),
        attempts: entry.attempts,
      })),
    );
    const now = Date.now();
    const byDestination = new Map<string, SettledItem[]>();
    for (const entry of settled) {
      const list = byDestination.get(entry.destinationId) ?? [];
      list.push(entry);
      byDestination.set(entry.destinationId, list);
    }
    for (const [destinationId, entries] of byDestination) {
      this.options.metrics.delivered(
        destinationId,
        entries.filter((entry) => entry.status === 'delivered').map((entry) => entry.item.receivedAt),
        now,
      );
      this.options.metrics.settled(
        destinationId,
        'dropped',
        entries.filter((entry) => entry.status === 'dropped').length,
      );
    }
  }

  private observe(destinationId: string, outcome: DeliverOutcome): void {
    const metrics = this.options.metrics;
    metrics.settled(destinationId, 'dead_lettered', outcome.deadLettered + outcome.rejected);
    metrics.failed(destinationId, 'rejected', outcome.rejected);
    metrics.failed(destinationId, 'retryable', outcome.retried + outcome.deadLettered);
    metrics.retried(destinationId, outcome.retried);
    if (outcome.authFailed) metrics.failed(destinationId, 'auth');
  }

  private async authFailed(destinationId: string, reason: string): Promise<boolean> {
    this.authFailing.add(destinationId);
    const { paused } = await this.states.recordAuthFailure(destinationId, {
      pauseAfter: AUTH_FAILURES_BEFORE_PAUSE,
      reason: `credentials refused: ${reason}`,
    });
    if (paused) {
      await this.options.audit.record([
        {
          actor: 'system:deliver',
          action: 'destination.paused',
          detail: {
            destinationId,
            reason: `${AUTH_FAILURES_BEFORE_PAUSE} refused credentials in a row: ${reason}`,
          },
        },
      ]);
      this.options.logger.error({ destinationId, reason }, 'destination paused after refused credentials');
      await this.refreshStates();
    }
    return paused;
  }
}

function eventColumns(item: DeliveryItem): {
  sourceId?: string;
  eventSource?: string;
  eventId?: string;
  customerId?: string;
} {
  return {
    ...(item.event === undefined
      ? {}
      : { sourceId: item.event.sourceId, eventSource: item.event.eventSource, eventId: item.event.eventId }),
    ...(item.customerId === undefined ? {} : { customerId: item.customerId }),
  };
}

/** JSON with object keys sorted (safe-stable-stringify): equal values compare equal whatever their key order. */
const stableJson = (value: unknown): string => stringify(value) ?? 'null';
