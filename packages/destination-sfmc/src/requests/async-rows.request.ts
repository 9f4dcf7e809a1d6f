import { isDeliveryError, type OperationContext } from '@tessera/destination-kit';
import { endpointPath, SFMC_ENDPOINTS, SFMC_LIMITS } from '../sfmc-endpoints';
import type { SfmcSettings } from '../sfmc-settings';
import { chunkDrafts, type DataExtensionRow, PRIMARY_KEY_COLUMN, type RowDraft } from './data-extension-row';
import { type ColumnRefusal, columnRefusalOf } from './row-refusals';
import { type RowOutcome, singleRowVerdict, upsertRowsets } from './rowset-upsert.request';

/*
 * The asynchronous rows API (`PUT /data/v1/async/dataextensions/key:{key}/rows`, ≤ 32,000 rows and 5 MB per
 * request): SFMC accepts the request, processes it later, and reports per-row errors in its results. Rows whose
 * error names a column go again without it; when an error cannot be tied to a row, the rows go again through
 * the synchronous rowset, whose answers are exact (upserts are idempotent).
 */

/** Body of an asynchronous upsert. */
export const asyncRowsBody = (rows: DataExtensionRow[]): { items: DataExtensionRow[] } => ({ items: rows });

interface AsyncAccepted {
  requestId: string;
}

export interface AsyncStatus {
  requestId?: string;
  status: {
    requestStatus: 'Pending' | 'Complete' | 'Error' | string;
    hasErrors?: boolean;
    resultStatus?: string;
  };
}

export interface AsyncResults {
  page?: number;
  pageSize?: number;
  count?: number;
  items?: { status?: string; errorCode?: string; message?: string }[];
}

/** Sends drafts again (the rows whose refused columns were left out); set by the caller. */
export type Resend = (drafts: RowDraft[]) => Promise<RowOutcome[]>;

/** Upserts drafts through asynchronous requests cut at 32,000 rows and 5 MB; one outcome per draft. */
export async function upsertRowsAsync(
  drafts: readonly RowDraft[],
  context: OperationContext<SfmcSettings>,
  resend: Resend,
): Promise<RowOutcome[]> {
  const outcomes: RowOutcome[] = [];
  const chunks = chunkDrafts(
    drafts,
    SFMC_LIMITS.asyncRowsPerRequest,
    SFMC_LIMITS.requestBytes,
    asyncRowsBody,
  );
  for (const chunk of chunks) {
    const settled = await upsertChunk(chunk, context, resend);
    outcomes.push(...settled);
    const retry = settled.find((outcome) => outcome.status === 'retry');
    if (retry !== undefined && settled.every((outcome) => outcome.status === 'retry')) {
      const rest = drafts.length - outcomes.length;
      outcomes.push(...Array.from({ length: rest }, () => ({ ...retry })));
      break;
    }
  }
  return outcomes;
}

async function upsertChunk(
  drafts: RowDraft[],
  context: OperationContext<SfmcSettings>,
  resend: Resend,
): Promise<RowOutcome[]> {
  const { http, clock, settings } = context;
  let requestId: string;
  try {
    const accepted = await http.put<AsyncAccepted>(
      endpointPath(SFMC_ENDPOINTS.asyncRows.path, { key: settings.dataExtensionKey }),
      asyncRowsBody(drafts.map((draft) => draft.row)),
    );
    requestId = accepted.body.requestId;
  } catch (error) {
    if (!isDeliveryError(error) || error.kind === 'auth') throw error;
    // The request as a whole was refused (no such data extension…) or SFMC is busy: no row is to blame.
    const outcome: RowOutcome =
      error.kind === 'retryable'
        ? { status: 'retry', afterMs: error.retryAfterMs ?? 1_000, reason: error.message }
        : { status: 'rejected', reason: error.message };
    return drafts.map(() => ({ ...outcome }));
  }
  const deadline = clock.now() + settings.asyncJobWaitMs;
  let status: AsyncStatus['status'] | undefined;
  for (let wait = 1_000; ; wait = Math.min(wait * 2, 10_000)) {
    if (clock.now() >= deadline) {
      // The request may still complete; upserts are idempotent, so handing the rows back is safe.
      return drafts.map(() => ({
        status: 'retry',
        afterMs: 30_000,
        reason: `SFMC async request ${requestId} was still ${status?.requestStatus ?? 'Pending'} after ${settings.asyncJobWaitMs} ms`,
      }));
    }
    await clock.sleep(Math.min(wait, Math.max(0, deadline - clock.now())));
    try {
      status = (await http.get<AsyncStatus>(endpointPath(SFMC_ENDPOINTS.asyncStatus.path, { requestId })))
        .body.status;
    } catch (error) {
      // A throttled or failed poll says nothing of the request SFMC accepted: poll again, never send again.
      if (!isDeliveryError(error) || error.kind !== 'retryable') throw error;
      if (error.retryAfterMs !== undefined) wait = Math.max(wait, error.retryAfterMs);
      continue;
    }
    if (status.requestStatus !== 'Pending') break;
  }
  if (status.requestStatus === 'Complete' && status.hasErrors !== true) {
    return drafts.map((draft) => ({ status: 'ok', omitted: draft.omitted }));
  }
  if (status.requestStatus === 'Complete') {
    const results = await http.get<AsyncResults>(
      endpointPath(SFMC_ENDPOINTS.asyncResults.path, { requestId }),
    );
    const errors = attributeRowErrors(
      drafts.map((draft) => draft.row),
      results.body,
    );
    if (errors !== undefined) return settleRowErrors(drafts, errors, resend);
  }
  // SFMC's results do not always name the row they are about: send the rows again through the synchronous
  // rowset, whose all-or-nothing answers are settled row by row.
  return upsertRowsets(drafts, context);
}

/** One row's error in an asynchronous request's results. */
export interface RowError {
  errorCode?: string;
  message: string;
}

/**
 * The errors of each row (empty for rows without one), when every error message names the TesseraId of exactly
 * one row (SFMC quotes the key in row-level messages); undefined when some error cannot be tied to a row, or
 * the results are not all there.
 */
export function attributeRowErrors(
  rows: readonly DataExtensionRow[],
  results: AsyncResults | undefined,
): RowError[][] | undefined {
  const errors = (results?.items ?? []).filter((item) => item.status !== 'OK');
  if (results?.count !== undefined && (results.items ?? []).length < results.count) return undefined;
  const byRow: RowError[][] = rows.map(() => []);
  for (const error of errors) {
    const message = error.message ?? '';
    const matches = rows
      .map((row, index) => ({ index, key: row[PRIMARY_KEY_COLUMN] }))
      .filter(({ key }) =>
        new RegExp(`(^|[^A-Za-z0-9_-])${escapeRegExp(key)}($|[^A-Za-z0-9_-])`).test(message),
      );
    const only = matches.length === 1 ? matches[0] : undefined;
    if (only === undefined) return undefined;
    byRow[only.index]?.push({
      ...(error.errorCode === undefined ? {} : { errorCode: error.errorCode }),
      message,
    });
  }
  return byRow;
}

/** Rows SFMC refused go again without the refused columns, are skipped, or are rejected with its message. */
async function settleRowErrors(
  drafts: readonly RowDraft[],
  errors: readonly RowError[][],
  resend: Resend,
): Promise<RowOutcome[]> {
  const outcomes: (RowOutcome | undefined)[] = [];
  const again: number[] = [];
  drafts.forEach((draft, index) => {
    const rowErrors = errors[index] ?? [];
    if (rowErrors.length === 0) {
      outcomes[index] = { status: 'ok', omitted: draft.omitted };
      return;
    }
    const reason = rowErrors
      .map((error) => `SFMC: ${error.errorCode === undefined ? '' : `${error.errorCode}: `}${error.message}`)
      .join('; ');
    const refusals = rowErrors
      .map((error) => columnRefusalOf(error.message))
      .filter((refusal): refusal is ColumnRefusal => refusal !== undefined);
    // A row is settled by column only when every error names one; otherwise SFMC's words reject it.
    const verdict =
      refusals.length === rowErrors.length
        ? singleRowVerdict(draft, refusals, reason)
        : ({ status: 'rejected', reason } as const);
    if (verdict === 'again') again.push(index);
    else outcomes[index] = verdict;
  });
  if (again.length > 0) {
    const resent = await resend(again.map((index) => drafts[index] as RowDraft));
    again.forEach((index, position) => (outcomes[index] = resent[position]));
  }
  return outcomes.map(
    (outcome) => outcome ?? { status: 'rejected', reason: 'SFMC returned no result for this row' },
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
