import type { DestinationOperation, TransformInput } from '../transform-contract';
import type { PluginRunErrorKind } from './plugin-errors';

/** Main thread → worker: run one batch of one plugin. */
export interface RunBatchMessage {
  type: 'run';
  batchId: number;
  module: string;
  exportName: string;
  plugin: string;
  config: Record<string, unknown>;
  /** Omitted when the worker's previous batch had the very same inputs (one destination's plugins in turn). */
  inputs?: TransformInput[];
}

/** Worker → main thread, over the worker's dedicated port. */
export type WorkerMessage =
  | { type: 'ready' }
  /** The plugin module is loaded: the batch's time budget starts. */
  | { type: 'started'; batchId: number }
  | { type: 'load-failed'; batchId: number; message: string }
  /** Results of several inputs at once (sent every RESULT_CHUNK inputs: one message per input costs more than a plugin). */
  | { type: 'results'; batchId: number; results: { index: number; operations: DestinationOperation[] }[] }
  | {
      type: 'failure';
      batchId: number;
      index: number;
      kind: Exclude<PluginRunErrorKind, 'timeout' | 'crashed'>;
      message: string;
    };

/**
 * A worker reports results in chunks of this many inputs: cheap enough that a hung plugin loses at most a
 * chunk of finished work (reported as timeouts, which the pipeline retries), big enough that messaging
 * stays well under the cost of running the plugins.
 */
export const RESULT_CHUNK = 64;
