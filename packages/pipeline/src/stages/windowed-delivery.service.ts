import { DEFAULT_DELIVERY_WINDOW_MS, type OperationName } from '@tessera/destination-kit';
import type { DeliveryItem, JobQueue } from '@tessera/queues';
import type { DeliverOutcome } from './deliver-stage.service';
import type { RedisDeliveryWindow, WindowAppendOutcome, WindowTake } from './delivery-window';

/** How a destination's window behaves: its wait, and each operation's batch size (a full batch flushes at once). */
export interface WindowPolicy {
  windowMs: number;
  thresholds: Partial<Record<OperationName, number>>;
}

export interface WindowedDeliveryOptions {
  window: RedisDeliveryWindow;
  /** The destination's deliver queue, where its flush jobs run. */
  queueOf(destinationId: string): JobQueue<'deliver'> | undefined;
  /** The destination's window policy (undefined: not run here). */
  policyOf(destinationId: string): WindowPolicy | undefined;
  /** Delivers one take (the deliver stage). */
  deliver(destinationId: string, items: DeliveryItem[], holder: string): Promise<DeliverOutcome>;
  /** Most items one flush takes (default 10,000: Klaviyo's bulk import size, the largest batch of any ESP). */
  maxItemsPerFlush?: number;
  /** After a flush failed (the store was down, say), its items are ready again after this long (default 5 s). */
  failedFlushDelayMs?: number;
}

/** What a flush did: the deliver stage's outcome for the items it took, and how many it took. */
export interface FlushOutcome {
  taken: number;
  outcome?: DeliverOutcome;
}

/**
 * Delivery through windows: every hand-off to a destination (route, retries, replays, opt-outs from another
 * ESP) appends to its window in Redis and schedules a flush job on its deliver queue — at the end of the window,
 * at once when an operation has a full batch waiting, or when a retry becomes due — and a flush takes what is
 * ready and hands it to the deliver stage as one batch. The flush job carries no items, only the destination,
 * so its id can say when it is due and repeated schedules of one flush collapse into one job.
 */
export class WindowedDelivery {
  private readonly maxItems: number;
  private readonly failedDelayMs: number;

  constructor(private readonly options: WindowedDeliveryOptions) {
    this.maxItems = options.maxItemsPerFlush ?? 10_000;
    this.failedDelayMs = options.failedFlushDelayMs ?? 5_000;
  }

  /** Appends items for a destination, ready after `delayMs`, and schedules the flush they need. */
  async enqueue(destinationId: string, items: readonly DeliveryItem[], delayMs = 0): Promise<void> {
    if (items.length === 0) return;
    const policy = this.options.policyOf(destinationId);
    if (policy === undefined || this.options.queueOf(destinationId) === undefined)
      throw new Error(`No deliver queue for destination "${destinationId}"`);
    const appended = await this.options.window.append(destinationId, items, {
      windowMs: policy.windowMs,
      delayMs,
      thresholds: policy.thresholds,
    });
    await this.scheduleAfterAppend(destinationId, appended);
  }

  /** Runs one flush job: takes what is ready, schedules what comes next, delivers, then settles the take. */
  async flush(destinationId: string, holder: string): Promise<FlushOutcome> {
    const take = await this.options.window.take(destinationId, holder, this.maxItems);
    await this.scheduleAfterTake(destinationId, take);
    if (take.items.length === 0) {
      await this.options.window.settle(destinationId, holder);
      return { taken: 0 };
    }
    let outcome: DeliverOutcome;
    try {
      outcome = await this.options.deliver(destinationId, take.items, holder);
    } catch (error) {
      // Nothing is lost: the items go back into the window, and a flush is scheduled for them.
      const restored = await this.options.window.restore(destinationId, holder, this.failedDelayMs);
      if (restored.restored > 0)
        await this.addFlush(destinationId, `t${restored.nowMs + this.failedDelayMs}`, this.failedDelayMs);
      throw error;
    }
    await this.options.window.settle(destinationId, holder);
    return { taken: take.items.length, outcome };
  }

  private async scheduleAfterAppend(destinationId: string, appended: WindowAppendOutcome): Promise<void> {
    if (appended.fullFlushId !== undefined) await this.addFlush(destinationId, appended.fullFlushId, 0);
    if (appended.scheduleAt !== undefined)
      await this.addFlush(destinationId, `t${appended.scheduleAt}`, appended.scheduleAt - appended.nowMs);
  }

  private async scheduleAfterTake(destinationId: string, take: WindowTake): Promise<void> {
    if (take.moreFlushId !== undefined) await this.addFlush(destinationId, take.moreFlushId, 0);
    if (take.scheduleAt !== undefined)
      await this.addFlush(destinationId, `t${take.scheduleAt}`, take.scheduleAt - take.nowMs);
  }

  private async addFlush(destinationId: string, suffix: string, delayMs: number): Promise<void> {
    const queue = this.options.queueOf(destinationId);
    if (queue === undefined) return;
    await queue.add('deliver.flush', { destinationId }, `flush-${destinationId}-${suffix}`, {
      delayMs,
      removeOnComplete: true,
    });
  }
}

/** The policy of a destination from its settings (`windowMs`) and its operations' batch sizes. */
export function windowPolicyOf(
  settings: Record<string, unknown>,
  operations: Partial<Record<OperationName, { batchSize: number }>>,
): WindowPolicy {
  const windowMs = settings['windowMs'];
  const thresholds: Partial<Record<OperationName, number>> = {};
  for (const [name, operation] of Object.entries(operations) as [OperationName, { batchSize: number }][])
    thresholds[name] = operation.batchSize;
  return { windowMs: typeof windowMs === 'number' ? windowMs : DEFAULT_DELIVERY_WINDOW_MS, thresholds };
}
