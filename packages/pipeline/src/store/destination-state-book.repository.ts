import type { SqlExecutor, Store } from '@tessera/store';

export type DestinationState = 'enabled' | 'paused' | 'disabled';

export const DESTINATION_STATES: readonly DestinationState[] = ['enabled', 'paused', 'disabled'];

/** A destination instance as the workspace file declares it. */
export interface DeclaredDestination {
  id: string;
  brand: string;
  type: string;
  /** The state a destination starts in when it is first seen; never applied to a known one. */
  state: DestinationState;
}

export interface DestinationStateRow {
  destinationId: string;
  brand: string;
  type: string;
  state: DestinationState;
  reason: string | null;
  changedBy: string;
  changedAt: Date;
  consecutiveAuthFailures: number;
}

export interface SourceHold {
  held: boolean;
  reason: string | null;
  changedBy: string;
  changedAt: Date;
}

export interface StateChange {
  /** Who changed it: `admin:<user>`, `system`, … */
  actor: string;
  reason?: string | null;
}

export class UnknownDestinationError extends Error {
  constructor(readonly destinationId: string) {
    super(`unknown destination "${destinationId}"`);
  }
}

/** Who `ensure` records as having set a destination's first state. */
export const WORKSPACE_ACTOR = 'workspace';
/** Who the auth-failure breaker records as having paused a destination. */
export const SYSTEM_ACTOR = 'system';

const STATE_COLUMNS = `destination_id, brand, type, state, reason, changed_by, changed_at, consecutive_auth_failures`;

interface StateRow {
  destination_id: string;
  brand: string;
  type: string;
  state: DestinationState;
  reason: string | null;
  changed_by: string;
  changed_at: Date;
  consecutive_auth_failures: number;
}

function toRow(row: StateRow): DestinationStateRow {
  return {
    destinationId: row.destination_id,
    brand: row.brand,
    type: row.type,
    state: row.state,
    reason: row.reason,
    changedBy: row.changed_by,
    changedAt: row.changed_at,
    consecutiveAuthFailures: row.consecutive_auth_failures,
  };
}

function checkState(state: string, caller: string): void {
  if (!DESTINATION_STATES.includes(state as DestinationState)) {
    throw new RangeError(`${caller}: state must be one of ${DESTINATION_STATES.join(', ')}, got "${state}"`);
  }
}

function checkActor(actor: string, caller: string): void {
  if (typeof actor !== 'string' || actor.trim() === '') throw new RangeError(`${caller}: actor is required`);
}

/**
 * The operator's and the breaker's control over delivery: each destination's state (enabled, paused,
 * disabled) with who changed it and why, the consecutive auth failures that pause it, and held sources.
 * Every change bumps a shared revision, so `fingerprint()` tells pollers when to reload.
 */
export class DestinationStateBook {
  private readonly now: () => Date;

  constructor(
    private readonly store: Store,
    options: { now?: () => Date } = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Inserts the destinations not yet known, in one statement; known ones keep whatever state an operator or
   * the breaker gave them. Returns the ids inserted.
   */
  async ensure(destinations: readonly DeclaredDestination[], actor = WORKSPACE_ACTOR): Promise<string[]> {
    checkActor(actor, 'DestinationStateBook.ensure');
    for (const destination of destinations) checkState(destination.state, 'DestinationStateBook.ensure');
    const unique = new Map<string, DeclaredDestination>();
    for (const destination of destinations) {
      if (!unique.has(destination.id)) unique.set(destination.id, destination);
    }
    if (unique.size === 0) return [];
    const list = [...unique.values()];
    const rows = await this.store.query<{ destination_id: string }>(
      `INSERT INTO destination_states (destination_id, brand, type, state, changed_by, changed_at)
       SELECT v.destination_id, v.brand, v.type, v.state, $5, $6
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS v(destination_id, brand, type, state)
       ON CONFLICT (destination_id) DO NOTHING
       RETURNING destination_id`,
      [
        list.map((d) => d.id),
        list.map((d) => d.brand),
        list.map((d) => d.type),
        list.map((d) => d.state),
        actor,
        this.now(),
      ],
    );
    const inserted = new Set(rows.map((row) => row.destination_id));
    return list.map((d) => d.id).filter((id) => inserted.has(id));
  }

  async all(): Promise<DestinationStateRow[]> {
    const rows = await this.store.query<StateRow>(
      `SELECT ${STATE_COLUMNS} FROM destination_states ORDER BY destination_id`,
    );
    return rows.map(toRow);
  }

  /**
   * Sets a destination's state (an operator's action, or the system's). Enabling clears the auth-failure
   * count, so a re-enabled destination gets its full allowance again. Pass `executor` to change it inside a
   * caller's transaction (with its audit entry, say).
   */
  async setState(
    destinationId: string,
    state: DestinationState,
    change: StateChange,
    executor?: SqlExecutor,
  ): Promise<DestinationStateRow> {
    checkState(state, 'DestinationStateBook.setState');
    checkActor(change.actor, 'DestinationStateBook.setState');
    const rows = await (executor ?? this.store).query<StateRow>(
      `UPDATE destination_states SET
         state = $2, reason = $3, changed_by = $4, changed_at = $5,
         consecutive_auth_failures = CASE WHEN $2 = 'enabled' THEN 0 ELSE consecutive_auth_failures END,
         revision = nextval('pipeline_control_revision')
       WHERE destination_id = $1
       RETURNING ${STATE_COLUMNS}`,
      [destinationId, state, change.reason ?? null, change.actor, this.now()],
    );
    const [row] = rows;
    if (row === undefined) throw new UnknownDestinationError(destinationId);
    return toRow(row);
  }

  /**
   * Counts one more consecutive auth failure. When the count reaches `pauseAfter` on an enabled destination,
   * pauses it (by `system`, with `reason`) in the same transaction; `paused` is true only for the call that
   * made that transition, so exactly one caller alerts.
   */
  async recordAuthFailure(
    destinationId: string,
    options: { pauseAfter: number; reason: string },
  ): Promise<{ failures: number; paused: boolean }> {
    if (!Number.isInteger(options.pauseAfter) || options.pauseAfter < 1) {
      throw new RangeError(
        `DestinationStateBook.recordAuthFailure: pauseAfter must be a positive integer, got ${options.pauseAfter}`,
      );
    }
    return this.store.transaction(async (tx: SqlExecutor) => {
      // Locks the row: concurrent failures are counted one after the other, and only one sees the transition.
      const [current] = await tx.query<{ state: DestinationState; consecutive_auth_failures: number }>(
        `SELECT state, consecutive_auth_failures FROM destination_states WHERE destination_id = $1 FOR UPDATE`,
        [destinationId],
      );
      if (current === undefined) throw new UnknownDestinationError(destinationId);
      const failures = current.consecutive_auth_failures + 1;
      const paused = current.state === 'enabled' && failures >= options.pauseAfter;
      if (paused) {
        await tx.query(
          `UPDATE destination_states SET
             consecutive_auth_failures = $2, state = 'paused', reason = $3, changed_by = $4, changed_at = $5,
             revision = nextval('pipeline_control_revision')
           WHERE destination_id = $1`,
          [destinationId, failures, options.reason, SYSTEM_ACTOR, this.now()],
        );
      } else {
        await tx.query(
          `UPDATE destination_states SET consecutive_auth_failures = $2 WHERE destination_id = $1`,
          [destinationId, failures],
        );
      }
      return { failures, paused };
    });
  }

  /** Clears the auth-failure count after a successful call; writes nothing when it is already 0. */
  async recordSuccess(destinationId: string): Promise<void> {
    await this.store.query(
      `UPDATE destination_states SET consecutive_auth_failures = 0
        WHERE destination_id = $1 AND consecutive_auth_failures > 0`,
      [destinationId],
    );
  }

  /** Holds (or releases) a source: its events are kept, not processed. `executor`: as for `setState`. */
  async setSourceHold(
    sourceId: string,
    held: boolean,
    change: StateChange,
    executor?: SqlExecutor,
  ): Promise<SourceHold> {
    checkActor(change.actor, 'DestinationStateBook.setSourceHold');
    const [row] = await (executor ?? this.store).query<HoldRow>(
      `INSERT INTO source_holds (source_id, held, reason, changed_by, changed_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (source_id) DO UPDATE SET
         held = EXCLUDED.held, reason = EXCLUDED.reason, changed_by = EXCLUDED.changed_by,
         changed_at = EXCLUDED.changed_at, revision = nextval('pipeline_control_revision')
       RETURNING source_id, held, reason, changed_by, changed_at`,
      [sourceId, held, change.reason ?? null, change.actor, this.now()],
    );
    if (row === undefined)
      throw new Error(`DestinationStateBook.setSourceHold: nothing returned for ${sourceId}`);
    return toHold(row);
  }

  /** Every source an operator ever held or released, by source id (released ones have `held: false`). */
  async sourceHolds(): Promise<Map<string, SourceHold>> {
    const rows = await this.store.query<HoldRow>(
      'SELECT source_id, held, reason, changed_by, changed_at FROM source_holds ORDER BY source_id',
    );
    return new Map(rows.map((row) => [row.source_id, toHold(row)]));
  }

  /**
   * Changes whenever a destination state or a source hold changes (not on failure counts): poll it every
   * second and reload `all()` / `sourceHolds()` only when it differs. Two tiny aggregates, one round trip.
   */
  async fingerprint(): Promise<string> {
    const [row] = await this.store.query<{ d_rev: number; d_n: number; h_rev: number; h_n: number }>(
      `SELECT (SELECT coalesce(max(revision), 0) FROM destination_states) AS d_rev,
              (SELECT count(*)::int FROM destination_states) AS d_n,
              (SELECT coalesce(max(revision), 0) FROM source_holds) AS h_rev,
              (SELECT count(*)::int FROM source_holds) AS h_n`,
    );
    return row === undefined ? '' : `${row.d_rev}.${row.d_n}.${row.h_rev}.${row.h_n}`;
  }
}

interface HoldRow {
  source_id: string;
  held: boolean;
  reason: string | null;
  changed_by: string;
  changed_at: Date;
}

function toHold(row: HoldRow): SourceHold {
  return { held: row.held, reason: row.reason, changedBy: row.changed_by, changedAt: row.changed_at };
}
