import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import {
  MessageChannel,
  MessagePort,
  receiveMessageOnPort,
  Worker,
  WorkerOptions,
} from 'node:worker_threads';
import type { DestinationOperation, TransformInput } from '../transform-contract';
import type { ConfiguredPlugin } from './plugin-catalog';
import { PluginRunError, PluginRunErrorKind } from './plugin-errors';
import type { RunBatchMessage, WorkerMessage } from './plugin-worker-protocol';

export interface PluginPoolOptions {
  /** Worker threads (default: the number of CPUs, at least 1). */
  size?: number;
  /** Time budget of one batch, from the moment the plugin module is loaded (default 1,000 ms). */
  budgetMs?: number;
  /** Time a worker may take to load a plugin module the first time (default 10,000 ms). */
  loadTimeoutMs?: number;
}

export type PluginInputResult =
  { ok: true; operations: DestinationOperation[] } | { ok: false; error: PluginRunError };

/** One result per input, in input order. */
export type PluginBatchResult = PluginInputResult[];

interface Task {
  plugin: ConfiguredPlugin;
  inputs: TransformInput[];
  results: (PluginInputResult | undefined)[];
  remaining: number;
  batchId: number;
  timer?: NodeJS.Timeout;
  resolve(result: PluginBatchResult): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  port: MessagePort;
  ready: boolean;
  retired: boolean;
  task?: Task;
  /** The last uncaught error of the worker thread, reported with its exit. */
  lastError?: string;
  /** The inputs the worker holds from its previous batch (sent again only when they change). */
  lastInputs?: TransformInput[];
}

const DEFAULT_BUDGET_MS = 1_000;
const DEFAULT_LOAD_TIMEOUT_MS = 10_000;
const LISTED_EVENT_IDS = 10;

const WORKER_ENTRY = ['plugin-pool.worker.js', 'plugin-pool.worker.ts']
  .map((file) => join(__dirname, file))
  .find((file) => existsSync(file));

/** Workers run TypeScript like the app does: through @swc-node/register, unless the process already has it. */
function workerExecArgv(): { inherited: string[]; register: string[] } {
  const inherited = process.execArgv;
  const register = inherited.some((arg) => arg.includes('@swc-node/register'))
    ? []
    : ['-r', require.resolve('@swc-node/register')];
  return { inherited, register };
}

let swcPinned = false;

/**
 * Keeps SWC's native binding loaded on the main thread. Node unloads an addon when the last thread that
 * loaded it exits; a worker loading @swc/core again after that crashes the process (segmentation fault).
 * Terminated workers are replaced, so the binding must outlive them.
 */
function pinSwcBinding(): void {
  if (swcPinned) return;
  require('@swc/core');
  swcPinned = true;
}

function createWorker(options: WorkerOptions): Worker {
  if (WORKER_ENTRY === undefined) throw new Error(`Plugin pool worker entry not found in ${__dirname}`);
  const { inherited, register } = workerExecArgv();
  pinSwcBinding();
  try {
    return new Worker(WORKER_ENTRY, { ...options, execArgv: [...inherited, ...register] });
  } catch (error) {
    // Some process-wide flags (heap sizes, …) are refused in worker threads: start the worker with the
    // register alone (the inherited one went with the refused flags).
    if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(WORKER_ENTRY, { ...options, execArgv: ['-r', require.resolve('@swc-node/register')] });
  }
}

function listEvents(ids: string[]): string {
  const listed = ids.slice(0, LISTED_EVENT_IDS).join(', ');
  return ids.length > LISTED_EVENT_IDS ? `${listed} and ${ids.length - LISTED_EVENT_IDS} more` : listed;
}

function positive(name: string, value: number | undefined, fallback: number, integer: boolean): number {
  const chosen = value ?? fallback;
  if (!(chosen > 0) || !Number.isFinite(chosen) || (integer && !Number.isInteger(chosen))) {
    throw new RangeError(
      `PluginPool: ${name} must be a positive ${integer ? 'integer' : 'number'} (got ${chosen})`,
    );
  }
  return chosen;
}

/**
 * Runs plugins isolated in a pool of worker threads: plugin code never runs on the main thread. Each batch
 * runs on one worker within a time budget; a worker that overruns it, or dies, is terminated and replaced,
 * and the unfinished inputs of its batch fail with a typed error while finished ones keep their results.
 */
export class PluginPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Task[] = [];
  private readonly terminations = new Set<Promise<unknown>>();
  private closed = false;
  private nextBatchId = 1;
  private replacementError?: Error;

  private constructor(
    readonly size: number,
    readonly budgetMs: number,
    readonly loadTimeoutMs: number,
  ) {}

  /** Starts the workers; resolves once every one is ready to load plugins. */
  static async start(options: PluginPoolOptions = {}): Promise<PluginPool> {
    const pool = new PluginPool(
      positive('size', options.size, Math.max(1, availableParallelism()), true),
      positive('budgetMs', options.budgetMs, DEFAULT_BUDGET_MS, false),
      positive('loadTimeoutMs', options.loadTimeoutMs, DEFAULT_LOAD_TIMEOUT_MS, false),
    );
    try {
      await Promise.all(Array.from({ length: pool.size }, () => pool.spawn()));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /**
   * Runs the plugin on every input; one result per input, in the same order. Pass the same (unchanged)
   * array to run several plugins over one batch: a worker that already holds it is not sent it again.
   */
  run(plugin: ConfiguredPlugin, inputs: TransformInput[]): Promise<PluginBatchResult> {
    if (this.closed) return Promise.reject(new Error('PluginPool is closed'));
    if (this.replacementError && this.slots.size === 0) return Promise.reject(this.replacementError);
    if (inputs.length === 0) return Promise.resolve([]);
    return new Promise<PluginBatchResult>((resolve, reject) => {
      this.queue.push({
        plugin,
        inputs,
        results: new Array<PluginInputResult | undefined>(inputs.length),
        remaining: inputs.length,
        batchId: 0,
        resolve,
        reject,
      });
      this.pump();
    });
  }

  /** Workers alive, ready (started up), busy (running a batch), and batches waiting for a worker. */
  stats(): { workers: number; ready: number; busy: number; queued: number } {
    const slots = [...this.slots];
    return {
      workers: slots.length,
      ready: slots.filter((slot) => slot.ready).length,
      busy: slots.filter((slot) => slot.task !== undefined).length,
      queued: this.queue.length,
    };
  }

  /** Terminates every worker. Batches still queued or running are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const closing = new Error('PluginPool is closed');
    for (const task of this.queue.splice(0)) task.reject(closing);
    for (const slot of [...this.slots]) {
      const task = slot.task;
      if (task) {
        clearTimeout(task.timer);
        slot.task = undefined;
        task.reject(closing);
      }
      this.retire(slot);
    }
    await Promise.all([...this.terminations]);
  }

  private spawn(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { port1, port2 } = new MessageChannel();
      let worker: Worker;
      try {
        worker = createWorker({ workerData: { port: port2 }, transferList: [port2] });
      } catch (error) {
        port1.close();
        reject(error as Error);
        return;
      }
      const slot: Slot = { worker, port: port1, ready: false, retired: false };
      this.slots.add(slot);
      port1.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') {
          slot.ready = true;
          resolve();
          this.pump();
        } else {
          this.onMessage(slot, message);
        }
      });
      worker.on('error', (error: Error) => {
        slot.lastError = error.message;
      });
      worker.on('exit', (code: number) => {
        if (!slot.ready) {
          this.slots.delete(slot);
          port1.close();
          reject(new Error(`Plugin pool worker failed to start: ${slot.lastError ?? `exit code ${code}`}`));
          return;
        }
        this.onExit(slot, code);
      });
    });
  }

  private replace(): void {
    if (this.closed) return;
    this.spawn().catch((error: Error) => {
      this.replacementError = error;
      if (this.slots.size > 0) return;
      for (const task of this.queue.splice(0)) task.reject(error);
    });
  }

  private retire(slot: Slot): void {
    if (slot.retired) return;
    slot.retired = true;
    this.slots.delete(slot);
    slot.port.close();
    const termination = slot.worker.terminate().finally(() => this.terminations.delete(termination));
    this.terminations.add(termination);
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.retired || slot.task) continue;
      const task = this.queue.shift();
      if (task) this.dispatch(slot, task);
    }
  }

  private dispatch(slot: Slot, task: Task): void {
    task.batchId = this.nextBatchId++;
    slot.task = task;
    const message: RunBatchMessage = {
      type: 'run',
      batchId: task.batchId,
      module: task.plugin.module,
      exportName: task.plugin.exportName,
      plugin: task.plugin.name,
      config: task.plugin.config,
      // A destination's plugins run in turn over the same batch: ship its events to the worker once.
      ...(slot.lastInputs === task.inputs ? {} : { inputs: task.inputs }),
    };
    slot.lastInputs = task.inputs;
    try {
      slot.port.postMessage(message);
    } catch (error) {
      slot.task = undefined;
      task.reject(error as Error);
      this.pump();
      return;
    }
    task.timer = setTimeout(() => this.onTimeout(slot, 'load'), this.loadTimeoutMs);
  }

  private onMessage(slot: Slot, message: WorkerMessage): void {
    const task = slot.task;
    if (message.type === 'ready' || !task || message.batchId !== task.batchId) return;
    const name = task.plugin.name;
    switch (message.type) {
      case 'started':
        clearTimeout(task.timer);
        task.timer = setTimeout(() => this.onTimeout(slot, 'run'), this.budgetMs);
        return;
      case 'load-failed': {
        const error = new PluginRunError(
          'threw',
          name,
          this.unfinished(task),
          `Plugin "${name}" could not be loaded from "${task.plugin.module}" (export "${task.plugin.exportName}"): ${message.message}`,
        );
        this.failUnfinished(task, error);
        break;
      }
      case 'results':
        for (const result of message.results) {
          this.record(task, result.index, { ok: true, operations: result.operations });
        }
        break;
      case 'failure': {
        const eventId = task.inputs[message.index]?.event.id ?? `#${message.index}`;
        const verb: Record<typeof message.kind, string> = {
          threw: 'threw',
          rejected: 'rejected',
          'invalid-output': 'returned invalid output',
        };
        const error = new PluginRunError(
          message.kind,
          name,
          [eventId],
          `Plugin "${name}" ${verb[message.kind]} on event "${eventId}": ${message.message}`,
        );
        this.record(task, message.index, { ok: false, error });
        break;
      }
    }
    if (task.remaining === 0) this.finish(slot, task);
  }

  private record(task: Task, index: number, result: PluginInputResult): void {
    if (task.results[index] !== undefined) return;
    task.results[index] = result;
    task.remaining--;
  }

  private unfinished(task: Task): string[] {
    return task.inputs.filter((_, index) => task.results[index] === undefined).map((input) => input.event.id);
  }

  private failUnfinished(task: Task, error: PluginRunError): void {
    for (let index = 0; index < task.inputs.length; index++) this.record(task, index, { ok: false, error });
  }

  private finish(slot: Slot, task: Task): void {
    clearTimeout(task.timer);
    if (slot.task === task) slot.task = undefined;
    task.resolve(task.results as PluginBatchResult);
    this.pump();
  }

  /** Takes in what the worker reported before it hung or died, so that finished inputs keep their results. */
  private drain(slot: Slot): void {
    for (;;) {
      const received = receiveMessageOnPort(slot.port) as { message: WorkerMessage } | undefined;
      if (!received) return;
      this.onMessage(slot, received.message);
    }
  }

  private failAndReplace(slot: Slot, kind: PluginRunErrorKind, describe: (events: string) => string): void {
    const task = slot.task;
    this.retire(slot);
    if (task) {
      slot.task = undefined;
      const ids = this.unfinished(task);
      this.failUnfinished(task, new PluginRunError(kind, task.plugin.name, ids, describe(listEvents(ids))));
      clearTimeout(task.timer);
      task.resolve(task.results as PluginBatchResult);
    }
    this.replace();
    this.pump();
  }

  private onTimeout(slot: Slot, phase: 'load' | 'run'): void {
    const task = slot.task;
    if (slot.retired || !task) return;
    this.drain(slot);
    if (slot.task !== task) return; // everything was reported in time after all
    const name = task.plugin.name;
    this.failAndReplace(slot, 'timeout', (events) =>
      phase === 'load'
        ? `Plugin "${name}" did not load within ${this.loadTimeoutMs} ms; unfinished events: ${events}`
        : `Plugin "${name}" exceeded its ${this.budgetMs} ms budget; unfinished events: ${events}`,
    );
  }

  private onExit(slot: Slot, code: number): void {
    if (slot.retired) return;
    this.slots.delete(slot); // a dead worker takes no further batch, even if draining finishes this one
    this.drain(slot);
    const task = slot.task;
    const cause = slot.lastError ?? `exit code ${code}`;
    this.failAndReplace(slot, 'crashed', (events) =>
      task
        ? `Plugin "${task.plugin.name}" crashed its worker (${cause}); unfinished events: ${events}`
        : `Plugin worker crashed (${cause})`,
    );
  }
}
