// Entry of a plugin pool worker thread: the only place plugin code runs.
import { MessagePort, workerData } from 'node:worker_threads';
import type { DestinationOperation, TransformInput } from '../transform-contract';
import type { TransformPlugin } from './plugin-definition';
import { validateOperations } from './plugin-definition';
import { RESULT_CHUNK, type RunBatchMessage, type WorkerMessage } from './plugin-worker-protocol';

const port = (workerData as { port: MessagePort }).port;
const loaded = new Map<string, TransformPlugin>();

const post = (message: WorkerMessage): void => port.postMessage(message);
const describe = (error: unknown): string =>
  error instanceof Error ? error.message : `non-error thrown: ${String(error)}`;

function load(module: string, exportName: string): TransformPlugin {
  const key = `${module}#${exportName}`;
  let plugin = loaded.get(key);
  if (!plugin) {
    const exports = require(module) as Record<string, unknown>;
    const candidate = exports[exportName] as Partial<TransformPlugin> | undefined;
    if (typeof candidate?.transform !== 'function') {
      throw new Error(`export "${exportName}" of "${module}" is not a plugin`);
    }
    plugin = candidate as TransformPlugin;
    loaded.set(key, plugin);
  }
  return plugin;
}

let pending:
  { batchId: number; results: { index: number; operations: DestinationOperation[] }[] } | undefined;

/** Sends the buffered results (a failure to clone them all falls back to one message each, to find the bad one). */
function flush(): void {
  const chunk = pending;
  pending = undefined;
  if (chunk === undefined || chunk.results.length === 0) return;
  try {
    post({ type: 'results', batchId: chunk.batchId, results: chunk.results });
  } catch {
    for (const result of chunk.results) {
      try {
        post({ type: 'results', batchId: chunk.batchId, results: [result] });
      } catch (error) {
        // Valid shape but not cloneable (e.g. a symbol or a function as an extra property).
        post({
          type: 'failure',
          batchId: chunk.batchId,
          index: result.index,
          kind: 'invalid-output',
          message: describe(error),
        });
      }
    }
  }
}

function settle(batch: RunBatchMessage, index: number, output: unknown, immediate: boolean): void {
  let operations;
  try {
    operations = validateOperations(batch.plugin, output);
  } catch (error) {
    post({
      type: 'failure',
      batchId: batch.batchId,
      index,
      kind: 'invalid-output',
      message: describe(error),
    });
    return;
  }
  if (pending !== undefined && pending.batchId !== batch.batchId) flush();
  pending ??= { batchId: batch.batchId, results: [] };
  pending.results.push({ index, operations });
  if (immediate || pending.results.length >= RESULT_CHUNK) flush();
}

/** The inputs of the previous batch, reused when the next batch runs another plugin over the same events. */
let lastInputs: TransformInput[] = [];

function run(batch: RunBatchMessage): void {
  if (batch.inputs !== undefined) lastInputs = batch.inputs;
  const inputs = lastInputs;
  let plugin: TransformPlugin;
  try {
    plugin = load(batch.module, batch.exportName);
  } catch (error) {
    post({ type: 'load-failed', batchId: batch.batchId, message: describe(error) });
    return;
  }
  post({ type: 'started', batchId: batch.batchId });
  inputs.forEach((input: TransformInput, index) => {
    const context = {
      config: batch.config,
      brand: input.brand,
      destination: input.destination,
      now: new Date(input.now),
    };
    let output: unknown;
    try {
      output = plugin.transform(input.event, input.profile, context);
    } catch (error) {
      post({ type: 'failure', batchId: batch.batchId, index, kind: 'threw', message: describe(error) });
      return;
    }
    if (typeof (output as PromiseLike<unknown> | undefined)?.then === 'function') {
      // Asynchronous plugins of one batch run concurrently; each result is reported when it settles.
      Promise.resolve(output).then(
        (value: unknown) => settle(batch, index, value, true),
        (error: unknown) =>
          post({
            type: 'failure',
            batchId: batch.batchId,
            index,
            kind: 'rejected',
            message: describe(error),
          }),
      );
    } else {
      settle(batch, index, output, false);
    }
  });
  flush();
}

port.on('message', (message: RunBatchMessage) => run(message));
post({ type: 'ready' });
