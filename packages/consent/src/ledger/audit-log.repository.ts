import { sqlFilter } from './sql-filter';
import type { SqlExecutor, Store } from '@tessera/store';

/** One thing done to someone's consent or data, for "who did what to whose data, and when". */
export interface AuditInput {
  /** `source:<id>`, `esp:<destination id>`, `admin:<user>`, `system:<job>`. */
  actor: string;
  /** e.g. `consent.granted`, `consent.withdrawn`, `consent.refused`, `dsr.export`. */
  action: string;
  customerId?: string;
  /** A blind index, never a plaintext contact point. */
  subjectKey?: string;
  /** Structured detail; must hold no plaintext PII. */
  detail?: Record<string, unknown>;
}

export interface AuditRecord {
  id: number;
  at: Date;
  actor: string;
  action: string;
  customerId?: string;
  subjectKey?: string;
  detail: Record<string, unknown>;
}

export interface AuditQuery {
  customerId?: string;
  actor?: string;
  subjectKey?: string;
  action?: string;
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
  /** Default 1,000. */
  limit?: number;
}

const DEFAULT_LIMIT = 1_000;

interface AuditRow {
  id: number;
  at: Date;
  actor: string;
  action: string;
  customer_id: string | null;
  subject_key: string | null;
  detail: Record<string, unknown>;
}

/** Writes audit rows in one statement through `executor` (the store, or a transaction it belongs to). */
export async function writeAuditRows(
  executor: SqlExecutor,
  entries: readonly AuditInput[],
  at: Date,
): Promise<number> {
  if (entries.length === 0) return 0;
  const rows = await executor.query<{ id: number }>(
    `INSERT INTO audit_log (at, actor, action, customer_id, subject_key, detail)
     SELECT $1::timestamptz, v.actor, v.action, v.customer_id, v.subject_key, v.detail::jsonb
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
         AS v(actor, action, customer_id, subject_key, detail)
     RETURNING id`,
    [
      at,
      entries.map((entry) => entry.actor),
      entries.map((entry) => entry.action),
      entries.map((entry) => entry.customerId ?? null),
      entries.map((entry) => entry.subjectKey ?? null),
      entries.map((entry) => JSON.stringify(entry.detail ?? {})),
    ],
  );
  return rows.length;
}

/** The audit log: append-only, queried by customer, subject, action and time. */
export class AuditLog {
  private readonly now: () => Date;

  constructor(
    private readonly store: Store,
    options: { now?: () => Date } = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** Records entries (one statement); pass `tx` to record them inside a caller's transaction. */
  record(entries: readonly AuditInput[], tx?: SqlExecutor): Promise<number> {
    for (const entry of entries) {
      if (entry.actor.trim() === '' || entry.action.trim() === '') {
        throw new Error('AuditLog.record: every entry needs an actor and an action');
      }
    }
    return writeAuditRows(tx ?? this.store, entries, this.now());
  }

  /** Newest first. */
  async query(filter: AuditQuery = {}): Promise<AuditRecord[]> {
    const { where, params } = sqlFilter([
      ['customer_id =', filter.customerId],
      ['actor =', filter.actor],
      ['subject_key =', filter.subjectKey],
      ['action =', filter.action],
      ['at >=', filter.from],
      ['at <', filter.to],
    ]);
    params.push(Math.max(0, Math.floor(filter.limit ?? DEFAULT_LIMIT)));
    const rows = await this.store.query<AuditRow>(
      `SELECT id, at, actor, action, customer_id, subject_key, detail FROM audit_log ${where}
        ORDER BY at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map((row) => ({
      id: row.id,
      at: row.at,
      actor: row.actor,
      action: row.action,
      ...(row.customer_id === null ? {} : { customerId: row.customer_id }),
      ...(row.subject_key === null ? {} : { subjectKey: row.subject_key }),
      detail: row.detail,
    }));
  }
}
