import { parentPort, workerData } from 'node:worker_threads';
import { PgliteStore } from '../pglite-store';
import type { SqlExecutor } from '../store';
import {
  serializeError,
  type PgliteThreadData,
  type PgliteThreadRequest,
  type PgliteThreadResponse,
} from './pglite-thread-protocol';

/**
 * The PGlite thread: owns the WebAssembly PostgreSQL and answers the caller's statements. Every message is
 * handled on its own (never one after another): a statement waiting for an open transaction must not hold
 * up that transaction's own statements. PGlite itself runs one statement at a time.
 */
class RollbackRequested extends Error {}

interface OpenTransaction {
  executor: SqlExecutor;
  finish(commit: boolean): void;
  settled: Promise<unknown>;
}

async function serve(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('pglite-thread.worker runs in a worker thread');
  const { dataDir } = workerData as PgliteThreadData;
  const store = await PgliteStore.open(dataDir, { folderLock: false });
  const transactions = new Map<number, OpenTransaction>();
  let nextTransaction = 1;
  const reply = (response: PgliteThreadResponse) => port.postMessage(response);
  const executorFor = (tx: number | undefined): SqlExecutor => {
    if (tx === undefined) return store;
    const open = transactions.get(tx);
    if (open === undefined) throw new Error(`transaction ${tx} is not open`);
    return open.executor;
  };

  const handle = async (request: PgliteThreadRequest): Promise<PgliteThreadResponse> => {
    switch (request.kind) {
      case 'query':
        return {
          id: request.id,
          ok: true,
          rows: await executorFor(request.tx).query(request.sql, request.params),
        };
      case 'exec':
        await executorFor(request.tx).execScript(request.sql);
        return { id: request.id, ok: true };
      case 'begin': {
        const tx = nextTransaction++;
        return new Promise<PgliteThreadResponse>((answer, refuse) => {
          let finish: (commit: boolean) => void = () => undefined;
          const decided = new Promise<void>((resolve, reject) => {
            finish = (commit) => (commit ? resolve() : reject(new RollbackRequested()));
          });
          const settled = store.transaction(async (executor) => {
            transactions.set(tx, { executor, finish, settled });
            answer({ id: request.id, ok: true, tx });
            await decided;
          });
          // A transaction that could not begin answers the begin itself.
          settled.catch((error: unknown) => {
            if (!transactions.has(tx)) refuse(error);
          });
        });
      }
      case 'commit':
      case 'rollback': {
        const open = transactions.get(request.tx);
        if (open === undefined) throw new Error(`transaction ${request.tx} is not open`);
        open.finish(request.kind === 'commit');
        try {
          await open.settled;
        } catch (error) {
          if (!(error instanceof RollbackRequested)) throw error;
        } finally {
          transactions.delete(request.tx);
        }
        return { id: request.id, ok: true };
      }
      case 'close':
        await store.close();
        return { id: request.id, ok: true };
    }
  };

  port.on('message', (request: PgliteThreadRequest) => {
    handle(request).then(reply, (error: unknown) =>
      reply({ id: request.id, ok: false, error: serializeError(error) }),
    );
  });
  port.postMessage({ id: 0, ok: true });
}

serve().catch((error: unknown) => {
  parentPort?.postMessage({ id: 0, ok: false, error: serializeError(error) });
});
