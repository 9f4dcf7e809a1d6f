import {
  type BatchResult,
  coalesceProfileUpdates,
  type DestinationHttpClient,
  type ItemResult,
  type OperationContext,
  type ProfileUpsert,
  RejectedError,
  type SegmentMembership,
  settleBatch,
} from '@tessera/destination-kit';
import { endpointPath, SFMC_ENDPOINTS, SFMC_LIMITS } from '../sfmc-endpoints';
import { segmentColumn, type SfmcSettings } from '../sfmc-settings';

/*
 * Tessera profiles live as rows of one data extension keyed by `TesseraId` (= customer id). Up to
 * `asyncRowsThreshold` rows go through the synchronous rowset upsert (all or nothing: a 400 makes the kit
 * halve the batch until the bad rows are alone); more go through the asynchronous rows API, whose status and
 * results are read back so that every item gets its own result.
 */

export const PRIMARY_KEY_COLUMN = 'TesseraId';

export type ColumnValue = string | number | boolean;
/** One data extension row: the primary key plus column values. */
export type DataExtensionRow = { [PRIMARY_KEY_COLUMN]: string } & Record<string, ColumnValue>;

/** Tessera attributes with a conventional column of their own (`fieldMapping` still wins). */
const STANDARD_COLUMNS: Record<string, string> = { first_name: 'FirstName', last_name: 'LastName' };
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_ ]{0,127}$/;

/** A row, or why the item cannot become one. */
export type RowOrProblem = { row: DataExtensionRow } | { problem: string };

/** A value as a data extension column takes it: dates as ISO-8601, structures as JSON, null as empty. */
export function columnValue(value: unknown): ColumnValue | undefined {
  if (value === undefined) return undefined;
  if (value === null) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}

/** The row of a profile: TesseraId, EmailAddress, Phone, FirstName, LastName and the (mapped) attributes. */
export function profileRow(item: ProfileUpsert, settings: Pick<SfmcSettings, 'fieldMapping'>): RowOrProblem {
  const row: DataExtensionRow = { [PRIMARY_KEY_COLUMN]: item.customerId };
  if (item.email !== undefined) row['EmailAddress'] = item.email;
  if (item.phone !== undefined) row['Phone'] = item.phone;
  for (const [name, raw] of Object.entries(item.attributes)) {
    const value = columnValue(raw);
    if (value === undefined) continue;
    const column = settings.fieldMapping[name] ?? STANDARD_COLUMNS[name] ?? name;
    if (!COLUMN_NAME.test(column) || column === PRIMARY_KEY_COLUMN) {
      return {
        problem: `Attribute "${name}" maps to "${column}", which is not a usable data extension column (map it in fieldMapping)`,
      };
    }
    row[column] = value;
  }
  return { row };
}

/** The row setting a segment's boolean column. */
export function segmentRow(
  item: SegmentMembership,
  settings: Pick<SfmcSettings, 'segmentColumns'>,
  member: boolean,
): RowOrProblem {
  const column = segmentColumn(settings, item.segment);
  if (!COLUMN_NAME.test(column) || column === PRIMARY_KEY_COLUMN) {
    return {
      problem: `Segment "${item.segment}" has no usable data extension column (map it in segmentColumns)`,
    };
  }
  const row: DataExtensionRow = { [PRIMARY_KEY_COLUMN]: item.customerId, [column]: member };
  if (item.email !== undefined) row['EmailAddress'] = item.email;
  return { row };
}

/** Rows keyed by TesseraId, merged in input order (later values win), and where each input row went. */
export function mergeRows(rows: readonly DataExtensionRow[]): {
  rows: DataExtensionRow[];
  outputIndex: number[];
} {
  const slots = new Map<string, number>();
  const merged: DataExtensionRow[] = [];
  const outputIndex = rows.map((row) => {
    const key = row[PRIMARY_KEY_COLUMN];
    const slot = slots.get(key);
    if (slot === undefined) {
      slots.set(key, merged.push({ ...row }) - 1);
      return merged.length - 1;
    }
    merged[slot] = { ...merged[slot], ...row };
    return slot;
  });
  return { rows: merged, outputIndex };
}

/** Upserts profiles: one row per customer (the highest `version` wins), results fanned back to every item. */
export async function upsertProfileRows(
  items: ProfileUpsert[],
  context: OperationContext<SfmcSettings>,
): Promise<BatchResult> {
  const { profiles, outputIndex } = coalesceProfileUpdates(items);
  const profileResults = await upsertItems(
    profiles.map((profile) => profileRow(profile, context.settings)),
    context,
  );
  return outputIndex.map((index) => ({ ...profileResults[index] }) as ItemResult);
}

/** Sets (or clears) the segment column of each member's row. */
export function upsertSegmentRows(
  items: SegmentMembership[],
  member: boolean,
  context: OperationContext<SfmcSettings>,
): Promise<BatchResult> {
  return upsertItems(
    items.map((item) => segmentRow(item, context.settings, member)),
    context,
  );
}

/** Upserts the rows of items (one per item, or its problem), merging rows of one customer into one. */
async function upsertItems(
  prepared: RowOrProblem[],
  context: OperationContext<SfmcSettings>,
): Promise<BatchResult> {
  const valid: DataExtensionRow[] = [];
  const validIndex: number[] = [];
  prepared.forEach((entry, index) => {
    if ('row' in entry) {
      valid.push(entry.row);
      validIndex.push(index);
    }
  });
  const { rows, outputIndex } = mergeRows(valid);
  const rowResults = await upsertRows(rows, context);
  const results: ItemResult[] = prepared.map((entry) =>
    'problem' in entry ? { status: 'rejected', reason: entry.problem } : { status: 'ok' },
  );
  validIndex.forEach((itemIndex, validPosition) => {
    const result = rowResults[outputIndex[validPosition] ?? -1];
    if (result !== undefined) results[itemIndex] = { ...result };
  });
  return results;
}

/** One result per row: synchronous up to the threshold, asynchronous above it. */
export async function upsertRows(
  rows: DataExtensionRow[],
  context: OperationContext<SfmcSettings>,
): Promise<BatchResult> {
  if (rows.length === 0) return [];
  if (rows.length <= context.settings.asyncRowsThreshold) {
    await upsertRowsNow(context.http, context.settings.dataExtensionKey, rows);
    return rows.map(() => ({ status: 'ok' }));
  }
  const results: BatchResult = [];
  for (const chunk of asyncChunks(rows)) results.push(...(await upsertRowsAsync(chunk, context)));
  return results;
}

/** The body of a synchronous rowset upsert. */
export function rowsetBody(
  rows: DataExtensionRow[],
): { keys: Record<string, string>; values: Record<string, ColumnValue> }[] {
  return rows.map(({ [PRIMARY_KEY_COLUMN]: key, ...values }) => ({
    keys: { [PRIMARY_KEY_COLUMN]: key },
    values,
  }));
}

async function upsertRowsNow(
  http: DestinationHttpClient,
  key: string,
  rows: DataExtensionRow[],
): Promise<void> {
  try {
    await http.post(endpointPath(SFMC_ENDPOINTS.rowset.path, { key }), rowsetBody(rows));
  } catch (error) {
    throw withRowsetDetail(error);
  }
}

/**
 * SFMC's rowset 400 says only "Unable to save rows…" in `message` and puts the reason in `additionalErrors`:
 * carry that reason into the rejection, so that the item that fails alone is rejected with SFMC's words.
 */
export function withRowsetDetail(error: unknown): unknown {
  if (!(error instanceof RejectedError) || error.body === undefined) return error;
  let body: unknown;
  try {
    body = JSON.parse(error.body);
  } catch {
    return error;
  }
  const additional = (body as { additionalErrors?: { message?: unknown }[] } | null)?.additionalErrors;
  const detail = Array.isArray(additional)
    ? additional.map((entry) => entry?.message).filter((message) => typeof message === 'string')
    : [];
  if (detail.length === 0) return error;
  return new RejectedError(`${error.message}: ${detail.join('; ')}`, {
    ...(error.status === undefined ? {} : { status: error.status }),
    body: error.body,
  });
}

/** Cuts rows into asynchronous requests under SFMC's row and byte caps. */
export function asyncChunks(rows: DataExtensionRow[]): DataExtensionRow[][] {
  const chunks: DataExtensionRow[][] = [];
  let current: DataExtensionRow[] = [];
  let bytes = 16; // `{"items":[]}`
  for (const row of rows) {
    const size = Buffer.byteLength(JSON.stringify(row)) + 1;
    if (
      current.length > 0 &&
      (current.length >= SFMC_LIMITS.asyncRowsPerRequest || bytes + size > SFMC_LIMITS.asyncRequestBytes)
    ) {
      chunks.push(current);
      current = [];
      bytes = 16;
    }
    current.push(row);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

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

async function upsertRowsAsync(
  rows: DataExtensionRow[],
  context: OperationContext<SfmcSettings>,
): Promise<BatchResult> {
  const { http, clock, settings } = context;
  const accepted = await http.put<AsyncAccepted>(
    endpointPath(SFMC_ENDPOINTS.asyncRows.path, { key: settings.dataExtensionKey }),
    { items: rows },
  );
  const requestId = accepted.body.requestId;
  const deadline = clock.now() + settings.asyncJobWaitMs;
  let status: AsyncStatus['status'] | undefined;
  for (let wait = 1_000; ; wait = Math.min(wait * 2, 10_000)) {
    if (clock.now() >= deadline) {
      // The request may still complete; upserts are idempotent, so handing the items back is safe.
      return rows.map(() => ({
        status: 'retry',
        afterMs: 30_000,
        reason: `SFMC async request ${requestId} was still ${status?.requestStatus ?? 'Pending'} after ${settings.asyncJobWaitMs} ms`,
      }));
    }
    await clock.sleep(Math.min(wait, Math.max(0, deadline - clock.now())));
    status = (await http.get<AsyncStatus>(endpointPath(SFMC_ENDPOINTS.asyncStatus.path, { requestId }))).body
      .status;
    if (status.requestStatus !== 'Pending') break;
  }
  if (status.requestStatus === 'Complete' && status.hasErrors !== true)
    return rows.map(() => ({ status: 'ok' }));
  if (status.requestStatus === 'Complete') {
    const results = await http.get<AsyncResults>(
      endpointPath(SFMC_ENDPOINTS.asyncResults.path, { requestId }),
    );
    const attributed = attributeRowErrors(rows, results.body);
    if (attributed !== undefined) return attributed;
  }
  // SFMC's results do not always name the row they are about: send the rows again through the synchronous
  // rowset, whose all-or-nothing answer the kit's halving turns into exact per-row results.
  return redriveSynchronously(rows, context);
}

/**
 * Per-row results from the async results, when every error message names the TesseraId of one row (SFMC
 * quotes the key in row-level messages); undefined when some error cannot be tied to a row.
 */
export function attributeRowErrors(
  rows: DataExtensionRow[],
  results: AsyncResults | undefined,
): BatchResult | undefined {
  const errors = (results?.items ?? []).filter((item) => item.status !== 'OK');
  if (results?.count !== undefined && (results.items ?? []).length < results.count) return undefined;
  const reasons = new Map<number, string>();
  for (const error of errors) {
    const message = error.message ?? '';
    const matches = rows
      .map((row, index) => ({ index, key: row[PRIMARY_KEY_COLUMN] }))
      .filter(({ key }) =>
        new RegExp(`(^|[^A-Za-z0-9_-])${escapeRegExp(key)}($|[^A-Za-z0-9_-])`).test(message),
      );
    if (matches.length !== 1) return undefined;
    const only = matches[0];
    if (only === undefined) return undefined;
    reasons.set(only.index, `SFMC: ${error.errorCode === undefined ? '' : `${error.errorCode}: `}${message}`);
  }
  return rows.map((_, index): ItemResult => {
    const reason = reasons.get(index);
    return reason === undefined ? { status: 'ok' } : { status: 'rejected', reason };
  });
}

async function redriveSynchronously(
  rows: DataExtensionRow[],
  { http, settings }: OperationContext<SfmcSettings>,
): Promise<BatchResult> {
  const results: BatchResult = [];
  for (let start = 0; start < rows.length; start += settings.asyncRowsThreshold) {
    const group = rows.slice(start, start + settings.asyncRowsThreshold);
    results.push(
      ...(await settleBatch(group, async (part) => {
        await upsertRowsNow(http, settings.dataExtensionKey, part);
        return part.map((): ItemResult => ({ status: 'ok' }));
      })),
    );
  }
  return results;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
