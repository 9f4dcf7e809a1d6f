import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PgliteFolderLock } from '../pglite-folder-lock';
import type { SqlExecutor, Store } from '../store';
import {
  restoreError,
  type PgliteThreadData,
  type PgliteThreadRequest,
  type PgliteThreadResponse,
} from './pglite-thread-protocol';

type RequestBody = PgliteThreadRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

// Built output runs the .js beside this file; from source (tests, `npm start`) the .ts goes through SWC.
const WORKER_ENTRY = ['pglite-thread.worker.js', 'pglite-thread.worker.ts']
  .map((file) => join(__dirname, file))
  .find((file) => existsSync(file));

let swcPinned = false;

/** The thread runs TypeScript like the app does: through @swc-node/register. */
function startThread(data: PgliteThreadData): Worker {
  if (WORKER_ENTRY === undefined) throw new Error(`PGlite thread entry not found in ${__dirname}`);
  if (!swcPinned) {
    // Node unloads an addon with the last thread that loaded it; SWC's binding must outlive the thread.
    require('@swc/core');
    swcPinned = true;
  }
  const register = ['-r', require.resolve('@swc-node/register')];
  const inherited = process.execArgv;
  const hasRegister = inherited.some((arg) => arg.includes('@swc-node/register'));
  try {
    return new Worker(WORKER_ENTRY, {
      workerData: data,
      execArgv: hasRegister ? inherited : [...inherited, ...register],
    });
  } catch (error) {
    // Process-wide flags (heap sizes, …) are refused in worker threads: start it with the register alone.
    if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(WORKER_ENTRY, { workerData: data, execArgv: register });
  }
}

/**
 * A message's Dates are made in the realm that receives it, which in a test runner's sandbox is not the code's.
 * Remakes them in this realm so `instanceof Date` holds; only called when a probe at open showed the need.
 */
function remakeDates(rows: Record<string, unknown>[]): void {
  for (const row of rows) {
    for (const column in row) {
      const value = row[column];
      if (
        typeof value === 'object' &&
        value !== null &&
        !(value instanceof Date) &&
        Object.prototype.toString.call(value) === '[object Date]'
      ) {
        row[column] = new Date((value as Date).getTime());
      }
    }
  }
}

/**
 * PGlite on a thread of its own: the embedded PostgreSQL's WebAssembly and its file writes run beside the
 * application's JavaScript instead of taking turns with it on one event loop (over half of a busy pipeline's
 * main thread went to PGlite). Same semantics as `PgliteStore`: one statement at a time, a transaction holds
 * the database until it ends. Rows and parameters cross by structured clone (Dates, arrays, objects and
 * byte arrays survive); errors keep their message and PostgreSQL fields (`code`, `detail`, …).
 */
export class ThreadedPgliteStore implements Store {
  readonly driver = 'pglite';
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (response: PgliteThreadResponse & { ok: true }) => void; reject: (error: Error) => void }
  >();
  private exited: Error | undefined;
  /** True when Dates arrive from another realm (a test runner's sandbox) and must be remade. */
  private foreignDates = false;

  private constructor(
    private readonly worker: Worker,
    private readonly lock: PgliteFolderLock | undefined,
  ) {
    worker.on('message', (response: PgliteThreadResponse) => {
      const waiting = this.pending.get(response.id);
      if (waiting === undefined) return;
      this.pending.delete(response.id);
      if (response.ok) waiting.resolve(response);
      else waiting.reject(restoreError(response.error));
    });
    const failAll = (error: Error) => {
      this.exited = error;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`the PGlite thread exited (code ${code})`)));
  }

  /**
   * Takes the folder's lock (a second open, here or in another process, throws `StoreInUseError`), starts the
   * thread and opens PGlite in `dataDir` there; in memory when no folder is given.
   */
  static async open(dataDir?: string): Promise<ThreadedPgliteStore> {
    const lock = dataDir === undefined ? undefined : PgliteFolderLock.acquire(dataDir);
    let worker: Worker;
    try {
      worker = startThread(dataDir === undefined ? {} : { dataDir });
    } catch (error) {
      lock?.release();
      throw error;
    }
    await new Promise<void>((resolve, reject) => {
      const onMessage = (response: PgliteThreadResponse) => {
        if (response.id !== 0) return;
        worker.off('message', onMessage);
        worker.off('error', reject);
        if (response.ok) resolve();
        else reject(restoreError(response.error));
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    }).catch(async (error: unknown) => {
      await worker.terminate();
      lock?.release();
      throw error;
    });
    const store = new ThreadedPgliteStore(worker, lock);
    // One probe instead of a scan of every row: in a plain process the thread's Dates already are ours.
    const [probe] = await store.query<{ at: unknown }>('SELECT now() AS at');
    store.foreignDates = !(probe?.at instanceof Date);
    return store;
  }

  private request(body: RequestBody): Promise<PgliteThreadResponse & { ok: true }> {
    if (this.exited !== undefined) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...body, id });
    });
  }

  async query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.rowsOf<Row>(
      await this.request({ kind: 'query', sql: text, ...(params === undefined ? {} : { params }) }),
    );
  }

  async execScript(sql: string): Promise<void> {
    await this.request({ kind: 'exec', sql });
  }

  private rowsOf<Row>(response: PgliteThreadResponse & { ok: true }): Row[] {
    const rows = (response.rows ?? []) as Record<string, unknown>[];
    if (this.foreignDates) remakeDates(rows);
    return rows as Row[];
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const { tx } = await this.request({ kind: 'begin' });
    if (tx === undefined) throw new Error('the PGlite thread began no transaction');
    let result: T;
    try {
      result = await work({
        query: async <Row>(text: string, params?: readonly unknown[]) =>
          ((await this.request({ kind: 'query', sql: text, tx, ...(params === undefined ? {} : { params }) }))
            .rows ?? []) as Row[],
        execScript: async (sql: string) => {
          await this.request({ kind: 'exec', sql, tx });
        },
      });
    } catch (error) {
      await this.request({ kind: 'rollback', tx });
      throw error;
    }
    await this.request({ kind: 'commit', tx });
    return result;
  }

  async close(): Promise<void> {
    try {
      if (this.exited === undefined) await this.request({ kind: 'close' });
    } finally {
      await this.worker.terminate();
      this.lock?.release();
    }
  }
}
