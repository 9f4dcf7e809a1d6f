import { randomUUID } from 'node:crypto';
import type { EmulatorTools, SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import { SFMC_LIMITS } from '../sfmc-endpoints';
import { DataExtensionTable, type Row } from './data-extension-table';
import type { SfmcDataExtensionConfig } from './sfmc-emulator-config';
import { isJson, isRecord, JSON_HEADERS, parseJson, restError } from './sfmc-responses';

/*
 * The emulator's data extension REST API: the synchronous rowset upsert (all rows or none), asynchronous row
 * requests (Pending until their time has come, then applied row by row with an error per refused value), and
 * the filtered row query. Rows are checked by each data extension's DataExtensionTable.
 */

export interface SfmcAsyncRequest {
  requestId: string;
  key: string;
  rows: Record<string, unknown>[];
  submittedAt: number;
  requestStatus: 'Pending' | 'Complete';
  errors: { status: 'Error'; errorCode: string; message: string }[];
}

export interface DataExtensionApiOptions {
  /** How long after its submission an async request completes (checked when its status is read). */
  asyncCompletionMs: number;
  /** Whether async row errors quote the row's primary key. */
  rowErrorsNameKey: boolean;
}

/** The async API's error codes for a refused row, by what was wrong with it. */
const ROW_ERROR_CODES: [RegExp, string][] = [
  [/has no column/, 'InvalidColumn'],
  [/is required/, 'RequiredValueMissing'],
];

export class DataExtensionApi {
  private tables = new Map<string, DataExtensionTable>();
  private asyncRequests = new Map<string, SfmcAsyncRequest>();

  constructor(private readonly options: DataExtensionApiOptions) {}

  /** Replaces the data extensions (their rows are gone). */
  configure(extensions: readonly SfmcDataExtensionConfig[]): void {
    this.tables = new Map(extensions.map((extension) => [extension.key, new DataExtensionTable(extension)]));
    this.asyncRequests = new Map();
  }

  clear(): void {
    for (const table of this.tables.values()) table.clear();
    this.asyncRequests = new Map();
  }

  rows(): Record<string, Row[]> {
    const rows: Record<string, Row[]> = {};
    for (const [key, table] of this.tables) rows[key] = table.all();
    return rows;
  }

  asyncSummary(): { requestId: string; key: string; rows: number; requestStatus: string; errors: number }[] {
    return [...this.asyncRequests.values()].map((job) => ({
      requestId: job.requestId,
      key: job.key,
      rows: job.rows.length,
      requestStatus: job.requestStatus,
      errors: job.errors.length,
    }));
  }

  /** Deletes a contact's rows in every data extension (sendable on the contact key). */
  deleteContact(contactKey: string): void {
    for (const table of this.tables.values()) table.deleteContact(contactKey);
  }

  private missingDataExtension(key: string): SandboxResponse {
    return restError(400, `Data extension with external key '${key}' does not exist`, 10000);
  }

  /** Synchronous upsert: every row is checked first and nothing is saved when one is refused. */
  upsertRowset(key: string, request: SandboxRequest): SandboxResponse {
    const table = this.tables.get(key);
    if (table === undefined) return this.missingDataExtension(key);
    if (!isJson(request)) return restError(415, 'Content-Type must be application/json');
    const tooLarge = this.tooLarge(request);
    if (tooLarge !== undefined) return tooLarge;
    const body = parseJson(request.rawBody);
    if (!Array.isArray(body) || body.length === 0) {
      return restError(400, 'Request body must be a non-empty array of { keys, values } rows', 10001);
    }
    const rows: Row[] = [];
    const problems: string[] = [];
    for (const [index, entry] of body.entries()) {
      const keys = isRecord(entry) ? entry['keys'] : undefined;
      const values = isRecord(entry) ? (entry['values'] ?? {}) : undefined;
      if (!isRecord(keys) || !isRecord(values)) {
        return restError(400, `Row ${index} must be an object with "keys" and "values" objects`, 10001);
      }
      const notKey = Object.keys(keys).find((name) => !table.isPrimaryKey(name));
      if (notKey !== undefined) return restError(400, `Primary key '${notKey}' does not exist.`, 10000);
      const checked = table.check({ ...values, ...keys });
      problems.push(...checked.problems);
      rows.push(checked.row);
    }
    if (problems.length > 0) {
      return {
        status: 400,
        headers: JSON_HEADERS,
        body: {
          message: `Unable to save rows for data extension ${key}`,
          errorcode: 10006,
          documentation: '',
          additionalErrors: [...new Set(problems)].map((message) => ({
            message,
            errorcode: 10000,
            documentation: '',
          })),
        },
      };
    }
    for (const row of rows) table.save(row);
    return { status: 200, headers: JSON_HEADERS, body };
  }

  submitAsyncRows(key: string, request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    if (!this.tables.has(key)) return this.missingDataExtension(key);
    if (!isJson(request)) return restError(415, 'Content-Type must be application/json');
    const tooLarge = this.tooLarge(request);
    if (tooLarge !== undefined) return tooLarge;
    const body = parseJson(request.rawBody);
    const items = isRecord(body) ? body['items'] : undefined;
    if (!Array.isArray(items) || items.length === 0) {
      return restError(400, 'Request body must be an object with a non-empty "items" array', 10001);
    }
    if (items.length > SFMC_LIMITS.asyncRowsPerRequest) {
      return restError(
        400,
        `"items" holds ${items.length} rows; at most ${SFMC_LIMITS.asyncRowsPerRequest} are accepted per request`,
        10001,
      );
    }
    if (!items.every(isRecord)) {
      return restError(400, 'Every item must be an object of column values', 10001);
    }
    const requestId = randomUUID();
    this.asyncRequests.set(requestId, {
      requestId,
      key,
      rows: items,
      submittedAt: tools.clock.now(),
      requestStatus: 'Pending',
      errors: [],
    });
    return { status: 202, headers: JSON_HEADERS, body: { requestId, resultMessages: [] } };
  }

  asyncRequest(requestId: string, wantsStatus: boolean, tools: EmulatorTools): SandboxResponse {
    const job = this.asyncRequests.get(requestId);
    if (job === undefined) return restError(404, `Request ${requestId} was not found`, 10002);
    if (
      job.requestStatus === 'Pending' &&
      tools.clock.now() >= job.submittedAt + this.options.asyncCompletionMs
    ) {
      this.completeAsync(job);
    }
    if (wantsStatus) {
      const at = new Date(tools.clock.now()).toISOString();
      return {
        status: 200,
        headers: JSON_HEADERS,
        body: {
          requestId,
          status: {
            callDateTime: new Date(job.submittedAt).toISOString(),
            ...(job.requestStatus === 'Complete' ? { completionDateTime: at, pickupDateTime: at } : {}),
            hasErrors: job.errors.length > 0,
            requestStatus: job.requestStatus,
            resultStatus:
              job.requestStatus === 'Pending' ? 'Pending' : job.errors.length > 0 ? 'Error' : 'OK',
            requestId,
          },
          resultMessages: [],
        },
      };
    }
    if (job.requestStatus === 'Pending') {
      return restError(400, `Request ${requestId} has not completed; read its status first`, 10003);
    }
    return {
      status: 200,
      headers: JSON_HEADERS,
      body: {
        page: 1,
        pageSize: Math.max(50, job.errors.length),
        count: job.errors.length,
        items: job.errors,
        requestId,
      },
    };
  }

  /** Applies an async request row by row: rows SFMC takes are saved, each problem of the others is an error. */
  private completeAsync(job: SfmcAsyncRequest): void {
    const table = this.tables.get(job.key);
    for (const input of job.rows) {
      if (table === undefined) break;
      const { row, problems } = table.check(input);
      if (problems.length === 0) {
        table.save(row);
        continue;
      }
      const keys = table.primaryKeys.map((name) => `${name} '${String(row[name])}'`);
      for (const problem of problems) {
        job.errors.push({
          status: 'Error',
          errorCode: ROW_ERROR_CODES.find(([pattern]) => pattern.test(problem))?.[1] ?? 'InvalidValue',
          message: this.options.rowErrorsNameKey ? `${problem} (${keys.join(', ')})` : problem,
        });
      }
    }
    job.requestStatus = 'Complete';
  }

  queryRows(key: string, request: SandboxRequest): SandboxResponse {
    const table = this.tables.get(key);
    if (table === undefined) return this.missingDataExtension(key);
    const filter = request.query.get('$filter');
    const match = /^(\w+) eq '((?:[^']|'')*)'$/.exec(filter ?? '');
    if (filter !== null && match === null) {
      return restError(400, `Unsupported $filter: ${filter} (emulated: "<Field> eq '<value>'")`, 10001);
    }
    const field = match?.[1];
    if (field !== undefined && table.column(field) === undefined) {
      return restError(400, `Invalid $filter: the data extension has no column [${field}]`, 10001);
    }
    const primary = table.primaryKeys;
    const items = table.where(field, match?.[2]?.replace(/''/g, "'")).map((row) => {
      const keys: Record<string, unknown> = {};
      const values: Record<string, unknown> = {};
      for (const [name, cell] of Object.entries(row)) {
        // SFMC lower-cases the column names in this answer and gives every value as text.
        if (primary.includes(name)) keys[name.toLowerCase()] = cell;
        else values[name.toLowerCase()] = typeof cell === 'string' ? cell : String(cell);
      }
      return { keys, values };
    });
    return {
      status: 200,
      headers: JSON_HEADERS,
      body: { customObjectKey: key, pageSize: 2500, page: 1, count: items.length, items },
    };
  }

  private tooLarge(request: SandboxRequest): SandboxResponse | undefined {
    if (request.rawBody.length <= SFMC_LIMITS.requestBytes) return undefined;
    return restError(
      413,
      `Request body is ${request.rawBody.length} bytes; the largest accepted is ${SFMC_LIMITS.requestBytes} bytes`,
    );
  }
}
