import type { AuditLog, DsrRequest, DsrRequestRepository } from '@tessera/consent';
import type { Store } from '@tessera/store';

export type DsrDueState = 'due_soon' | 'overdue';

/** How far ahead a request counts as due soon. */
export const DSR_DUE_SOON_MS = 24 * 60 * 60 * 1000;

/** Overdue once its due date has passed; due soon within the next 24 hours; otherwise nothing to say. */
export function dsrDueState(dueAt: Date, now: Date): DsrDueState | undefined {
  const left = dueAt.getTime() - now.getTime();
  if (Number.isNaN(left)) throw new RangeError('dsrDueState: dueAt and now must be valid dates');
  if (left <= 0) return 'overdue';
  return left <= DSR_DUE_SOON_MS ? 'due_soon' : undefined;
}

export interface DsrDueWatchOptions {
  store: Store;
  requests: Pick<DsrRequestRepository, 'unfinishedDueBefore' | 'flagDueAlert'>;
  audit: Pick<AuditLog, 'record'>;
  /** Publishes the counts (the `tessera_dsr_requests_due` gauge). */
  report(counts: Record<DsrDueState, number>): void;
  warn(detail: Record<string, unknown>, message: string): void;
  now?: () => Date;
}

export interface DsrDueOutcome {
  dueSoon: number;
  overdue: number;
  /** Audit entries written by this run (each request gets one per state, once). */
  audited: number;
}

/**
 * The hourly look at data subject requests that are not finished and due within 24 hours or overdue: the
 * counts go to a gauge, each request is logged as a warning (id, type, due date: nothing about the person),
 * and each request gets one audit entry per state it reaches — flagged on the request in the same
 * transaction, so neither the next hour nor a second worker writes it again.
 */
export class DsrDueWatch {
  constructor(private readonly options: DsrDueWatchOptions) {}

  async run(): Promise<DsrDueOutcome> {
    const now = (this.options.now ?? (() => new Date()))();
    const due = await this.options.requests.unfinishedDueBefore(new Date(now.getTime() + DSR_DUE_SOON_MS));
    const byState: Record<DsrDueState, DsrRequest[]> = { due_soon: [], overdue: [] };
    for (const request of due) {
      const state = dsrDueState(request.dueAt, now);
      if (state !== undefined) byState[state].push(request);
    }
    this.options.report({ due_soon: byState.due_soon.length, overdue: byState.overdue.length });
    for (const [state, requests] of Object.entries(byState) as [DsrDueState, DsrRequest[]][]) {
      for (const request of requests) {
        this.options.warn(
          { requestId: request.id, type: request.type, dueAt: request.dueAt.toISOString(), state },
          state === 'overdue' ? 'data subject request overdue' : 'data subject request due within 24 hours',
        );
      }
    }
    let audited = 0;
    await this.options.store.transaction(async (tx) => {
      for (const [state, requests] of Object.entries(byState) as [DsrDueState, DsrRequest[]][]) {
        const flagged = new Set(
          await this.options.requests.flagDueAlert(
            requests.map((request) => request.id),
            state,
            now,
            tx,
          ),
        );
        audited += await this.options.audit.record(
          requests
            .filter((request) => flagged.has(request.id))
            .map((request) => ({
              actor: 'system:dsr-due',
              action: `dsr.${state}`,
              detail: { requestId: request.id, type: request.type, dueAt: request.dueAt.toISOString() },
            })),
          tx,
        );
      }
    });
    return { dueSoon: byState.due_soon.length, overdue: byState.overdue.length, audited };
  }
}
