import { profileFamily } from '@tessera/identity-graph';
import type { SqlExecutor, Store } from '@tessera/store';
import {
  DsrRequestError,
  type DsrDestinationResult,
  type DsrDestinationStatus,
  type DsrRequest,
  type DsrStatus,
  type DsrType,
} from './dsr-contract';

interface DsrRow {
  id: string;
  type: DsrType;
  status: DsrStatus;
  subject_keys: string[];
  customer_ids: string[];
  requested_at: Date;
  due_at: Date;
  completed_at: Date | null;
  requested_by: string;
  detail: Record<string, unknown>;
}

const COLUMNS =
  'id, type, status, subject_keys, customer_ids, requested_at, due_at, completed_at, requested_by, detail';

const toRequest = (row: DsrRow): DsrRequest => ({
  id: row.id,
  type: row.type,
  status: row.status,
  subjectKeys: row.subject_keys,
  customerIds: row.customer_ids,
  requestedAt: row.requested_at,
  dueAt: row.due_at,
  completedAt: row.completed_at,
  requestedBy: row.requested_by,
  detail: row.detail,
});

/** `dsr_requests` and `dsr_destination_results`: data subject requests as tracked jobs. */
export class DsrRequestRepository {
  constructor(private readonly store: Store) {}

  async insert(request: Omit<DsrRequest, 'status' | 'completedAt'>): Promise<DsrRequest> {
    const [row] = await this.store.query<DsrRow>(
      `INSERT INTO dsr_requests (id, type, status, subject_keys, customer_ids, requested_at, due_at, requested_by, detail)
       VALUES ($1, $2, 'open', $3::text[], $4::text[], $5, $6, $7, $8::jsonb)
       RETURNING ${COLUMNS}`,
      [
        request.id,
        request.type,
        request.subjectKeys,
        request.customerIds,
        request.requestedAt,
        request.dueAt,
        request.requestedBy,
        JSON.stringify(request.detail),
      ],
    );
    return toRequest(row);
  }

  async get(id: string): Promise<DsrRequest | undefined> {
    const [row] = await this.store.query<DsrRow>(`SELECT ${COLUMNS} FROM dsr_requests WHERE id = $1`, [id]);
    return row === undefined ? undefined : toRequest(row);
  }

  /** Requests by status, the most urgent first. */
  async list(filter: { status?: DsrStatus; limit?: number } = {}): Promise<DsrRequest[]> {
    const rows = await this.store.query<DsrRow>(
      `SELECT ${COLUMNS} FROM dsr_requests WHERE ($1::text IS NULL OR status = $1)
        ORDER BY due_at, id LIMIT $2`,
      [filter.status ?? null, Math.max(0, Math.floor(filter.limit ?? 1_000))],
    );
    return rows.map(toRequest);
  }

  /** Requests not completed (open, running or failed) due before `cutoff`, the most urgent first. */
  async unfinishedDueBefore(cutoff: Date, limit = 10_000): Promise<DsrRequest[]> {
    const rows = await this.store.query<DsrRow>(
      `SELECT ${COLUMNS} FROM dsr_requests WHERE status IN ('open', 'running', 'failed') AND due_at < $1
        ORDER BY due_at, id LIMIT $2`,
      [cutoff, Math.max(0, Math.floor(limit))],
    );
    return rows.map(toRequest);
  }

  /**
   * Notes in each request's `detail.dueAlerts` that it was flagged `alert` (e.g. `overdue`) at `at`, unless
   * it already was; returns the ids flagged now. A conditional update, so two workers never both flag one.
   */
  async flagDueAlert(
    ids: readonly string[],
    alert: string,
    at: Date,
    executor: SqlExecutor = this.store,
  ): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await executor.query<{ id: string }>(
      `UPDATE dsr_requests
          SET detail = jsonb_set(detail, '{dueAlerts}',
                COALESCE(detail -> 'dueAlerts', '{}'::jsonb) || jsonb_build_object($2::text, $3::text))
        WHERE id = ANY ($1::text[]) AND NOT (COALESCE(detail -> 'dueAlerts', '{}'::jsonb) ? $2::text)
        RETURNING id`,
      [[...ids], alert, at.toISOString()],
    );
    return rows.map((row) => row.id);
  }

  /**
   * Moves an open or failed request of `type` to `running` and returns it; refuses a request that is
   * running (another worker has it), completed, or of another type.
   */
  async claim(id: string, type: DsrType): Promise<DsrRequest> {
    const [row] = await this.store.query<DsrRow>(
      `UPDATE dsr_requests SET status = 'running'
        WHERE id = $1 AND type = $2 AND status IN ('open', 'failed')
        RETURNING ${COLUMNS}`,
      [id, type],
    );
    if (row !== undefined) return toRequest(row);
    const existing = await this.get(id);
    if (existing === undefined) throw new DsrRequestError(`no data subject request ${id}`);
    if (existing.type !== type)
      throw new DsrRequestError(`request ${id} is an ${existing.type} request, not ${type}`);
    throw new DsrRequestError(`request ${id} is ${existing.status}: it cannot be run now`);
  }

  /** Merges `patch` into the detail (top-level keys), removes `remove` keys, and updates the given columns. */
  async update(
    id: string,
    change: {
      status?: DsrStatus;
      completedAt?: Date | null;
      subjectKeys?: string[];
      customerIds?: string[];
      patch?: Record<string, unknown>;
      remove?: string[];
    },
    executor: SqlExecutor = this.store,
  ): Promise<DsrRequest> {
    const [row] = await executor.query<DsrRow>(
      `UPDATE dsr_requests SET
         status = COALESCE($2, status),
         completed_at = CASE WHEN $3::boolean THEN $4::timestamptz ELSE completed_at END,
         subject_keys = COALESCE($5::text[], subject_keys),
         customer_ids = COALESCE($6::text[], customer_ids),
         detail = (detail || $7::jsonb) - $8::text[]
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [
        id,
        change.status ?? null,
        change.completedAt !== undefined,
        change.completedAt ?? null,
        change.subjectKeys ?? null,
        change.customerIds ?? null,
        JSON.stringify(change.patch ?? {}),
        change.remove ?? [],
      ],
    );
    if (row === undefined) throw new DsrRequestError(`no data subject request ${id}`);
    return toRequest(row);
  }

  async destinationResults(requestId: string): Promise<DsrDestinationResult[]> {
    const rows = await this.store.query<{
      destination_id: string;
      status: DsrDestinationStatus;
      detail: string | null;
      updated_at: Date;
    }>(
      `SELECT destination_id, status, detail, updated_at FROM dsr_destination_results
        WHERE request_id = $1 ORDER BY destination_id`,
      [requestId],
    );
    return rows.map((row) => ({
      destinationId: row.destination_id,
      status: row.status,
      detail: row.detail,
      updatedAt: row.updated_at,
    }));
  }

  async recordDestinationResult(
    requestId: string,
    result: Omit<DsrDestinationResult, 'updatedAt'>,
    at: Date,
  ): Promise<void> {
    await this.store.query(
      `INSERT INTO dsr_destination_results (request_id, destination_id, status, detail, updated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (request_id, destination_id) DO UPDATE
         SET status = EXCLUDED.status, detail = EXCLUDED.detail, updated_at = EXCLUDED.updated_at`,
      [requestId, result.destinationId, result.status, result.detail, at],
    );
  }

  /**
   * Erasures not finished whose deletion at `destinationId` is pending (it was paused), with when that was
   * recorded: run again once the destination is resumed.
   */
  async waitingOn(destinationId: string): Promise<{ requestId: string; since: Date }[]> {
    const rows = await this.store.query<{ request_id: string; updated_at: Date }>(
      `SELECT r.request_id, r.updated_at FROM dsr_destination_results r
         JOIN dsr_requests q ON q.id = r.request_id
        WHERE r.destination_id = $1 AND r.status = 'pending'
          AND q.type = 'erasure' AND q.status IN ('open', 'failed')
        ORDER BY q.due_at, q.id`,
      [destinationId],
    );
    return rows.map((row) => ({ requestId: row.request_id, since: row.updated_at }));
  }

  /** Access requests about any of these customers or contact points (their exports go with an erasure). */
  async accessRequestsOf(
    customerIds: readonly string[],
    subjectKeys: readonly string[],
  ): Promise<DsrRequest[]> {
    const rows = await this.store.query<DsrRow>(
      `SELECT ${COLUMNS} FROM dsr_requests
        WHERE type = 'access' AND (customer_ids && $1::text[] OR subject_keys && $2::text[]) ORDER BY id`,
      [[...customerIds], [...subjectKeys]],
    );
    return rows.map(toRequest);
  }

  /** The profile and every profile merged into it: consent and audit rows may carry any of these ids. */
  profileFamily(customerId: string): Promise<string[]> {
    return profileFamily(this.store, customerId);
  }
}
