import type { BatchResult, ItemResult } from './destination-definition';
import { DeliveryError } from './delivery-errors';
import { DestinationHostError } from './destination-hosts';

export interface SettleOptions {
  /** Halving depth limit; below it a failing group is rejected as a whole (default 10, i.e. 1,024 items). */
  maxDepth?: number;
  /** `afterMs` for retryable errors without `Retry-After` (default 1,000). */
  defaultRetryAfterMs?: number;
}

/**
 * Runs `perform` on a batch and turns whole-batch failures into per-item results:
 * - retryable: every item of the failed batch gets `retry`;
 * - rejected / validation: the batch is split in halves (to `maxDepth`) so the good items succeed
 *   and only the bad ones are rejected (a refused host rejects them all at once);
 * - auth (and any non-DeliveryError): thrown, because the pipeline pauses the destination.
 */
export async function settleBatch<Item>(
  items: Item[],
  perform: (items: Item[]) => Promise<BatchResult>,
  options: SettleOptions = {},
): Promise<BatchResult> {
  const maxDepth = options.maxDepth ?? 10;
  const defaultRetryAfterMs = options.defaultRetryAfterMs ?? 1000;

  const settle = async (group: Item[], depth: number): Promise<BatchResult> => {
    if (group.length === 0) return [];
    let results: BatchResult;
    try {
      results = await perform(group);
    } catch (error) {
      if (!(error instanceof DeliveryError) || error.kind === 'auth') throw error;
      if (error.kind === 'retryable') {
        const result: ItemResult = {
          status: 'retry',
          afterMs: error.retryAfterMs ?? defaultRetryAfterMs,
          reason: error.message,
        };
        return group.map(() => ({ ...result }));
      }
      // A refused host refuses every item alike: halving would only ask again.
      if (group.length === 1 || depth >= maxDepth || error instanceof DestinationHostError) {
        return group.map(() => ({ status: 'rejected', reason: error.message }));
      }
      const middle = Math.ceil(group.length / 2);
      const left = await settle(group.slice(0, middle), depth + 1);
      const right = await settle(group.slice(middle), depth + 1);
      return [...left, ...right];
    }
    if (results.length !== group.length) {
      throw new Error(`perform returned ${results.length} results for ${group.length} items`);
    }
    return results;
  };

  return settle(items, 0);
}

/**
 * The result of an item whose own request failed: retry (honouring Retry-After) or rejected, by the error's
 * kind. Auth errors and anything that is not a DeliveryError are rethrown: the pipeline pauses the destination.
 */
export function itemResultOfError(error: unknown, defaultRetryAfterMs = 1000): ItemResult {
  if (!(error instanceof DeliveryError) || error.kind === 'auth') throw error;
  if (error.kind === 'retryable') {
    return { status: 'retry', afterMs: error.retryAfterMs ?? defaultRetryAfterMs, reason: error.message };
  }
  return { status: 'rejected', reason: error.message };
}

/**
 * The result of one item's own request (ESPs whose endpoint takes one item per call: Braze's /email/status,
 * Mailchimp's member endpoints): ok when `send` resolves, else `itemResultOfError`.
 */
export async function settleItemRequest(send: () => Promise<unknown>): Promise<ItemResult> {
  try {
    await send();
    return { status: 'ok' };
  } catch (error) {
    return itemResultOfError(error);
  }
}

/**
 * Runs one call per item at once (a destination's connection cap still applies) and settles each failure into
 * that item's result, so one refused item never repeats the calls that already succeeded.
 */
export function settleEachItem<Item>(
  items: readonly Item[],
  call: (item: Item) => Promise<ItemResult>,
): Promise<BatchResult> {
  return Promise.all(
    items.map(async (item): Promise<ItemResult> => {
      try {
        return await call(item);
      } catch (error) {
        return itemResultOfError(error);
      }
    }),
  );
}
