import type { AuditLog } from '@tessera/consent';
import type { Store } from '@tessera/store';
import type { PipelineWorker } from '../pipeline-worker';
import type { RehydrationProgress } from './delivery-replay.service';
import type { DeadLetterErrorClass, DeadLetterView, ReplayFilter } from '../store/dead-letter-box.repository';
import type { DestinationState } from '../store/destination-state-book.repository';

/** What an operator names that does not exist (a destination, a source, a brand, a letter): nothing changed. */
export class UnknownReferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownReferenceError';
  }
}

/** An action that makes no sense in the current state (resuming a disabled destination): nothing changed. */
export class OperationRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperationRefusedError';
  }
}

export interface DeadLetterQuery {
  brand?: string;
  destinationId?: string;
  errorClass?: DeadLetterErrorClass;
  /** Text the (masked) error contains, ignoring case. */
  errorContains?: string;
  includeReplayed?: boolean;
}

/** Which letters to replay: by id, every waiting one, or those a query matches. */
export type ReplaySelection = { ids: readonly number[] } | { all: true } | { query: DeadLetterQuery };

export interface ReplayReport {
  /** Items queued again at their destination. */
  replayed: number;
  /** Items the delivery log shows delivered since: their letters are closed, nothing is sent. */
  alreadyDelivered: number;
  /**
   * Letters not sent: their person was erased (deleted with the rest of them) or their contact point is
   * suppressed (closed as discarded; the delivery log says why).
   */
  notSent: { erased: number; suppressed: number };
  /** Ids asked for that were no longer waiting (replayed before), with when. */
  notWaiting: { id: number; replayedAt?: Date }[];
  /** Waiting letters of destinations this deployment does not run: left waiting, untouched. */
  skipped: { destinationId: string; letters: number }[];
}

export interface RehydrationQuery {
  customerId?: string;
  brand?: string;
  from?: Date;
  to?: Date;
}

export interface DestinationStatus {
  id: string;
  brand: string;
  type: string;
  state: DestinationState;
  reason: string | null;
  changedBy: string | null;
  changedAt: Date | null;
  authFailures: number;
  /** Waiting dead letters. */
  deadLetters: number;
  /** False for a destination known to the store that this deployment's workspace no longer runs. */
  deployed: boolean;
}

export type DestinationAction = 'pause' | 'resume' | 'disable' | 'enable';

export interface SourceStatus {
  id: string;
  brand: string | null;
  held: boolean;
  reason: string | null;
  changedBy: string | null;
  changedAt: Date | null;
}

export interface PipelineOperationsOptions {
  /** Built, not started: the operations use its repositories, replay and rehydration, never its workers. */
  worker: PipelineWorker;
  store: Store;
  audit: AuditLog;
  brands: readonly { id: string }[];
  sources: readonly { id: string; brand: string }[];
  /** Who the state book and the audit log record: `ops-cli:<os user>`. */
  actor: string;
}

const REPLAY_BATCH = 1_000;

const TARGET_STATE: Record<DestinationAction, DestinationState> = {
  pause: 'paused',
  resume: 'enabled',
  disable: 'disabled',
  enable: 'enabled',
};

const known = (ids: readonly string[]) => (ids.length === 0 ? 'none' : ids.join(', '));

/**
 * What an operator does to a running pipeline, from any process with the store and Redis: browse and replay
 * dead letters, re-run stored events, pause, resume, disable and enable destinations, hold and release
 * sources. Every reference is checked before anything is written; every change is audited with its actor.
 */
export class PipelineOperations {
  constructor(private readonly options: PipelineOperationsOptions) {}

  private get worker(): PipelineWorker {
    return this.options.worker;
  }

  async listDeadLetters(query: DeadLetterQuery, limit: number): Promise<DeadLetterView[]> {
    await this.checkQuery(query);
    return this.worker.deadLetters.list({ ...query, limit });
  }

  /** Letters per destination (waiting ones, unless the query includes replayed ones), largest first. */
  async countDeadLetters(query: DeadLetterQuery): Promise<{ destinationId: string; letters: number }[]> {
    await this.checkQuery(query);
    const counts = await this.worker.deadLetters.countByDestination(query);
    return [...counts]
      .map(([destinationId, letters]) => ({ destinationId, letters }))
      .sort((a, b) => b.letters - a.letters || a.destinationId.localeCompare(b.destinationId));
  }

  async showDeadLetter(id: number): Promise<DeadLetterView> {
    const letter = await this.worker.deadLetters.get(id);
    if (letter === undefined) throw new UnknownReferenceError(`no dead letter ${id}`);
    return letter;
  }

  /**
   * Discards waiting letters: they will never be sent. Audited in the same transaction, with the reason.
   * Returns the ids discarded and those that were not waiting (unknown, replayed or discarded before).
   */
  async discardDeadLetters(
    ids: readonly number[],
    reason: string,
  ): Promise<{ discarded: number[]; notWaiting: number[] }> {
    const { actor } = this.options;
    const discarded = await this.options.store.transaction(async (tx) => {
      const closed = await this.worker.deadLetters.discard(ids, { actor, reason }, tx);
      if (closed.length > 0)
        await this.options.audit.record(
          [
            {
              actor,
              action: 'dead_letters.discarded',
              detail: {
                entity: 'dead-letters',
                id: closed.join(','),
                before: { waiting: closed },
                after: { discarded: closed, reason },
              },
            },
          ],
          tx,
        );
      return closed;
    });
    const closed = new Set(discarded);
    return { discarded, notWaiting: [...new Set(ids)].filter((id) => !closed.has(id)).sort((a, b) => a - b) };
  }

  /**
   * Replays letters through the worker's replay (each taken once, items delivered since skipped), in batches;
   * the worker takes only letters of destinations this deployment runs, and another deployment's stay waiting.
   */
  async replayDeadLetters(selection: ReplaySelection): Promise<ReplayReport> {
    const report: ReplayReport = {
      replayed: 0,
      alreadyDelivered: 0,
      notSent: { erased: 0, suppressed: 0 },
      notWaiting: [],
      skipped: [],
    };
    let filter: Omit<ReplayFilter, 'limit'> | undefined;
    if ('ids' in selection) {
      const waiting: number[] = [];
      for (const id of selection.ids) {
        const letter = await this.showDeadLetter(id);
        const closedAt = letter.replayedAt ?? letter.discardedAt;
        if (closedAt === undefined) waiting.push(id);
        else report.notWaiting.push({ id, replayedAt: closedAt });
      }
      if (waiting.length > 0) filter = { ids: waiting };
    } else {
      const query: DeadLetterQuery = 'all' in selection ? {} : selection.query;
      await this.checkQuery(query);
      const { includeReplayed: _waitingOnly, ...rest } = query;
      filter = rest;
    }

    if (filter !== undefined) {
      for (;;) {
        const outcome = await this.worker.replayDeadLetters({ ...filter, limit: REPLAY_BATCH });
        report.replayed += outcome.replayed;
        report.alreadyDelivered += outcome.alreadyDelivered;
        report.notSent.erased += outcome.notSent.erased;
        report.notSent.suppressed += outcome.notSent.suppressed;
        report.skipped = outcome.notRunHere;
        const taken =
          outcome.replayed + outcome.alreadyDelivered + outcome.notSent.erased + outcome.notSent.suppressed;
        // A full batch may have left more behind it; anything less was the last of them.
        if (taken < REPLAY_BATCH) break;
      }
    }

    if (report.replayed + report.alreadyDelivered + report.notSent.erased + report.notSent.suppressed > 0) {
      await this.options.audit.record([
        {
          actor: this.options.actor,
          action: 'dead_letters.replayed',
          detail: {
            selection:
              'ids' in selection
                ? { ids: selection.ids }
                : 'all' in selection
                  ? { all: true }
                  : selection.query,
            replayed: report.replayed,
            alreadyDelivered: report.alreadyDelivered,
            notSent: report.notSent,
          },
        },
      ]);
    }
    return report;
  }

  /** Re-runs a profile's or a time range's stored events through routing and delivery (see `rehydrate`). */
  async rehydrate(
    query: RehydrationQuery,
    onProgress?: (progress: RehydrationProgress) => void,
  ): Promise<{ events: number }> {
    if (query.brand !== undefined) this.checkBrand(query.brand);
    const outcome = await this.worker.rehydrate(query, onProgress === undefined ? {} : { onProgress });
    await this.options.audit.record([
      {
        actor: this.options.actor,
        action: 'events.rehydrated',
        ...(query.customerId === undefined ? {} : { customerId: query.customerId }),
        detail: {
          ...(query.brand === undefined ? {} : { brand: query.brand }),
          ...(query.from === undefined ? {} : { from: query.from.toISOString() }),
          ...(query.to === undefined ? {} : { to: query.to.toISOString() }),
          events: outcome.events,
        },
      },
    ]);
    return outcome;
  }

  /** The deployment's destinations with their state, then any the store knows that it no longer runs. */
  async listDestinations(): Promise<DestinationStatus[]> {
    const rows = new Map((await this.worker.states.all()).map((row) => [row.destinationId, row]));
    const letters = await this.worker.deadLetters.countByDestination();
    const deployed = this.worker.directory.all();
    const statuses: DestinationStatus[] = deployed.map((destination) => {
      const row = rows.get(destination.id);
      return {
        id: destination.id,
        brand: destination.brand,
        type: destination.type,
        // A destination no worker has started yet has no row: it starts in its declared state.
        state: row?.state ?? destination.initialState,
        reason: row?.reason ?? null,
        changedBy: row?.changedBy ?? null,
        changedAt: row?.changedAt ?? null,
        authFailures: row?.consecutiveAuthFailures ?? 0,
        deadLetters: letters.get(destination.id) ?? 0,
        deployed: true,
      };
    });
    const deployedIds = new Set(deployed.map((destination) => destination.id));
    for (const row of rows.values()) {
      if (deployedIds.has(row.destinationId)) continue;
      statuses.push({
        id: row.destinationId,
        brand: row.brand,
        type: row.type,
        state: row.state,
        reason: row.reason,
        changedBy: row.changedBy,
        changedAt: row.changedAt,
        authFailures: row.consecutiveAuthFailures,
        deadLetters: letters.get(row.destinationId) ?? 0,
        deployed: false,
      });
    }
    return statuses;
  }

  /**
   * Puts a destination in a state (the console's toggle): the pause, resume, disable or enable that gets it
   * there from its current state. `check` sees the current state first and may throw to refuse the change.
   */
  async setDestinationState(
    destinationId: string,
    target: DestinationState,
    options: { reason?: string; check?: (current: DestinationState) => void } = {},
  ): Promise<{ destination: DestinationStatus; changed: boolean }> {
    const current = (await this.listDestinations()).find((destination) => destination.id === destinationId);
    if (current !== undefined) options.check?.(current.state);
    const action: DestinationAction =
      target === 'paused'
        ? 'pause'
        : target === 'disabled'
          ? 'disable'
          : current?.state === 'paused'
            ? 'resume'
            : 'enable';
    return this.changeDestinationState(destinationId, action, options.reason);
  }

  /**
   * Pauses, resumes, disables or enables a destination: the state every worker applies within seconds, and an
   * audit entry, in one transaction. A destination already in the target state is left as it is (`changed`
   * false, nothing written); `resume` only resumes a paused destination.
   */
  async changeDestinationState(
    destinationId: string,
    action: DestinationAction,
    reason?: string,
  ): Promise<{ destination: DestinationStatus; changed: boolean }> {
    const destinations = await this.listDestinations();
    const current = destinations.find((destination) => destination.id === destinationId);
    if (current === undefined) {
      const ids = destinations.map((destination) => destination.id);
      throw new UnknownReferenceError(`unknown destination "${destinationId}" (known: ${known(ids)})`);
    }
    if (action === 'resume' && current.state === 'disabled') {
      throw new OperationRefusedError(
        `destination "${destinationId}" is disabled, not paused: \`destinations enable ${destinationId}\` enables it`,
      );
    }
    const target = TARGET_STATE[action];
    if (current.state === target) return { destination: current, changed: false };

    const { actor } = this.options;
    const destination = this.worker.directory.get(destinationId);
    if (destination !== undefined) {
      // A destination no worker has recorded yet gets its row first (never overwriting one that exists).
      await this.worker.states.ensure([
        {
          id: destination.id,
          brand: destination.brand,
          type: destination.type,
          state: destination.initialState,
        },
      ]);
    }
    const row = await this.options.store.transaction(async (tx) => {
      const changed = await this.worker.states.setState(
        destinationId,
        target,
        { actor, reason: reason ?? null },
        tx,
      );
      await this.options.audit.record(
        [
          {
            actor,
            action: `destination.${target}`,
            detail: {
              entity: 'destination',
              id: destinationId,
              before: { state: current.state },
              after: { state: target, reason: reason ?? null },
              destinationId,
              from: current.state,
              ...(reason === undefined ? {} : { reason }),
            },
          },
        ],
        tx,
      );
      return changed;
    });
    return {
      destination: {
        ...current,
        state: row.state,
        reason: row.reason,
        changedBy: row.changedBy,
        changedAt: row.changedAt,
        authFailures: row.consecutiveAuthFailures,
      },
      changed: true,
    };
  }

  /** The workspace's sources with their holds, then any the store holds that the workspace no longer has. */
  async listSources(): Promise<SourceStatus[]> {
    const holds = await this.worker.states.sourceHolds();
    const statuses: SourceStatus[] = this.options.sources.map((source) => {
      const hold = holds.get(source.id);
      return {
        id: source.id,
        brand: source.brand,
        held: hold?.held ?? false,
        reason: hold?.reason ?? null,
        changedBy: hold?.changedBy ?? null,
        changedAt: hold?.changedAt ?? null,
      };
    });
    const declared = new Set(this.options.sources.map((source) => source.id));
    for (const [id, hold] of holds) {
      if (declared.has(id)) continue;
      statuses.push({ id, brand: null, ...hold });
    }
    return statuses;
  }

  /** Holds or releases a source (its events are accepted and wait), audited in the same transaction. */
  async holdSource(
    sourceId: string,
    held: boolean,
    reason?: string,
  ): Promise<{ source: SourceStatus; changed: boolean }> {
    const sources = await this.listSources();
    const current = sources.find((source) => source.id === sourceId);
    if (current === undefined) {
      throw new UnknownReferenceError(
        `unknown source "${sourceId}" (known: ${known(sources.map((source) => source.id))})`,
      );
    }
    if (current.held === held) return { source: current, changed: false };
    const { actor } = this.options;
    const hold = await this.options.store.transaction(async (tx) => {
      const written = await this.worker.states.setSourceHold(
        sourceId,
        held,
        { actor, reason: reason ?? null },
        tx,
      );
      await this.options.audit.record(
        [
          {
            actor,
            action: held ? 'source.held' : 'source.released',
            detail: {
              entity: 'source',
              id: sourceId,
              before: { held: current.held },
              after: { held, reason: reason ?? null },
              sourceId,
              ...(reason === undefined ? {} : { reason }),
            },
          },
        ],
        tx,
      );
      return written;
    });
    return { source: { id: sourceId, brand: current.brand, ...hold }, changed: true };
  }

  private async checkQuery(query: DeadLetterQuery): Promise<void> {
    if (query.brand !== undefined) this.checkBrand(query.brand);
    if (query.destinationId !== undefined) {
      const ids = (await this.listDestinations()).map((destination) => destination.id);
      if (!ids.includes(query.destinationId)) {
        throw new UnknownReferenceError(
          `unknown destination "${query.destinationId}" (known: ${known(ids)})`,
        );
      }
    }
  }

  private checkBrand(brand: string): void {
    const brands = this.options.brands.map((candidate) => candidate.id);
    if (!brands.includes(brand))
      throw new UnknownReferenceError(`unknown brand "${brand}" (known: ${known(brands)})`);
  }
}
