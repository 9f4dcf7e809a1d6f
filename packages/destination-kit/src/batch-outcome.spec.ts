import { settleBatch } from './batch-outcome';
import { AuthError, RejectedError, RetryableError, ValidationError } from './delivery-errors';
import type { BatchResult } from './destination-definition';

describe('settleBatch', () => {
  it('returns perform results untouched when the batch succeeds', async () => {
    const results = await settleBatch([1, 2], async (items) =>
      items.map((i) => ({ status: 'ok' as const, externalId: `e${i}` })),
    );
    expect(results).toEqual([
      { status: 'ok', externalId: 'e1' },
      { status: 'ok', externalId: 'e2' },
    ]);
  });

  it('gives every item retry with the Retry-After when the whole batch is retryable', async () => {
    const results = await settleBatch(['a', 'b', 'c'], async () => {
      throw new RetryableError('HTTP 429', { retryAfterMs: 5000 });
    });
    expect(results).toEqual(Array(3).fill({ status: 'retry', afterMs: 5000, reason: 'HTTP 429' }));
  });

  it('isolates the bad items of a rejected batch by halving', async () => {
    const calls: number[][] = [];
    const perform = async (items: number[]): Promise<BatchResult> => {
      calls.push(items);
      if (items.includes(3) || items.includes(6)) throw new RejectedError('HTTP 400: bad email');
      return items.map(() => ({ status: 'ok' }));
    };
    const results = await settleBatch([1, 2, 3, 4, 5, 6, 7, 8], perform);
    expect(results.map((r) => r.status)).toEqual([
      'ok',
      'ok',
      'rejected',
      'ok',
      'ok',
      'rejected',
      'ok',
      'ok',
    ]);
    expect(results[2]).toEqual({ status: 'rejected', reason: 'HTTP 400: bad email' });
    expect(calls[0]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('splits validation errors too and stops at maxDepth', async () => {
    const calls: number[][] = [];
    const results = await settleBatch(
      [1, 2, 3, 4],
      async (items) => {
        calls.push(items);
        throw new ValidationError('bad mapping');
      },
      { maxDepth: 1 },
    );
    expect(calls).toEqual([
      [1, 2, 3, 4],
      [1, 2],
      [3, 4],
    ]);
    expect(results).toEqual(Array(4).fill({ status: 'rejected', reason: 'bad mapping' }));
  });

  it('retries only the half that hit a retryable error while splitting', async () => {
    const results = await settleBatch([1, 2, 3, 4], async (items) => {
      if (items.length > 2) throw new RejectedError('HTTP 422');
      if (items.includes(1)) throw new RetryableError('HTTP 503');
      return items.map(() => ({ status: 'ok' }));
    });
    expect(results).toEqual([
      { status: 'retry', afterMs: 1000, reason: 'HTTP 503' },
      { status: 'retry', afterMs: 1000, reason: 'HTTP 503' },
      { status: 'ok' },
      { status: 'ok' },
    ]);
  });

  it('propagates auth errors', async () => {
    await expect(
      settleBatch([1, 2], async () => {
        throw new AuthError('HTTP 401: credentials refused');
      }),
    ).rejects.toThrow('HTTP 401: credentials refused');
  });

  it('refuses a perform that returns the wrong number of results', async () => {
    await expect(settleBatch([1, 2], async () => [{ status: 'ok' }])).rejects.toThrow(
      'perform returned 1 results for 2 items',
    );
  });
});
