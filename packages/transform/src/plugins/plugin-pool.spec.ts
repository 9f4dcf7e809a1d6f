import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { ConfiguredPlugin } from './plugin-catalog';
import { PluginCatalog } from './plugin-catalog';
import { PluginRunError } from './plugin-errors';
import { PluginBatchResult, PluginPool } from './plugin-pool';
import { RESULT_CHUNK } from './plugin-worker-protocol';
import { badOutputPlugin } from './fixtures/bad-output.plugin';
import { echoPlugin } from './fixtures/echo.plugin';
import { exitingPlugin } from './fixtures/exiting.plugin';
import { hangingPlugin } from './fixtures/hanging.plugin';
import { neverSettlesPlugin } from './fixtures/never-settles.plugin';
import { throwingPlugin } from './fixtures/throwing.plugin';
import { fixtureInput } from './fixtures/transform-input.fixture';

const fixture = (file: string): string => join(__dirname, 'fixtures', file);
const catalog = new PluginCatalog([
  { plugin: echoPlugin, module: fixture('echo.plugin.ts'), exportName: 'echoPlugin' },
  { plugin: throwingPlugin, module: fixture('throwing.plugin.ts'), exportName: 'throwingPlugin' },
  { plugin: hangingPlugin, module: fixture('hanging.plugin.ts'), exportName: 'hangingPlugin' },
  {
    plugin: neverSettlesPlugin,
    module: fixture('never-settles.plugin.ts'),
    exportName: 'neverSettlesPlugin',
  },
  { plugin: badOutputPlugin, module: fixture('bad-output.plugin.ts'), exportName: 'badOutputPlugin' },
  { plugin: exitingPlugin, module: fixture('exiting.plugin.ts'), exportName: 'exitingPlugin' },
]);
const configured = (name: string, config?: Record<string, unknown>): ConfiguredPlugin => {
  const [resolved] = catalog.resolve('sd-klaviyo', [{ name, config }]);
  return resolved;
};

const BUDGET_MS = 300;
// A shared 2-core CI machine: generous, but far below "never".
const MARGIN_MS = 1_500;

function errorOf(result: PluginBatchResult[number]): PluginRunError {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.operations)}`);
  expect(result.error).toBeInstanceOf(PluginRunError);
  return result.error;
}

/** The customer ids of the successful results, `!` for failures: compact and order-revealing. */
const outline = (results: PluginBatchResult): string[] =>
  results.map((result) =>
    result.ok ? result.operations.map((op) => op.item.customerId).join('+') : `!${result.error.kind}`,
  );

describe('PluginPool', () => {
  let pool: PluginPool;

  beforeAll(async () => {
    pool = await PluginPool.start({ size: 2, budgetMs: BUDGET_MS });
    // Warm both workers (module load is outside the budget, but keeps the timing assertions about the plugin).
    await Promise.all([
      pool.run(configured('echo'), [fixtureInput('w1')]),
      pool.run(configured('echo'), [fixtureInput('w2')]),
    ]);
  });

  afterAll(async () => {
    await pool.close();
  });

  it('runs a TypeScript plugin off the main thread, one result per input in order, config defaults applied', async () => {
    const inputs = Array.from({ length: 50 }, (_, index) => fixtureInput(`e${index}`));
    const results = await pool.run(configured('echo', { attribute: 'loyaltyTier' }), inputs);
    expect(results).toHaveLength(50);
    results.forEach((result, index) => {
      expect(result).toEqual({
        ok: true,
        operations: [
          {
            operation: 'updateAttributes',
            item: {
              customerId: `cust-e${index}`,
              version: 7,
              attributes: {
                loyaltyTier: 'gold',
                eventId: `e${index}`,
                brand: 'sd',
                destination: 'sd-klaviyo',
                now: '2025-01-02T03:04:05.000Z',
                onMainThread: false,
              },
            },
          },
        ],
      });
    });
    expect(await pool.run(configured('echo'), [])).toEqual([]);
  });

  it('runs several plugins over one batch, sending the batch once, and notices a new batch', async () => {
    const solo = await PluginPool.start({ size: 1, budgetMs: BUDGET_MS });
    try {
      const batch = [fixtureInput('a'), fixtureInput('b')];
      const first = await solo.run(configured('echo'), batch);
      const second = await solo.run(configured('throwing'), batch);
      const next = [fixtureInput('c')];
      const third = await solo.run(configured('echo'), next);
      expect([outline(first), outline(second), outline(third)]).toEqual([
        ['cust-a', 'cust-b'],
        ['cust-a', 'cust-b'],
        ['cust-c'],
      ]);
    } finally {
      await solo.close();
    }
  });

  it('fails only the input that threw or rejected, naming the plugin and the event', async () => {
    const results = await pool.run(configured('throwing'), [
      fixtureInput('a'),
      fixtureInput('b', 'throw'),
      fixtureInput('c'),
      fixtureInput('d', 'reject'),
      fixtureInput('e'),
    ]);
    expect(outline(results)).toEqual(['cust-a', '!threw', 'cust-c', '!rejected', 'cust-e']);
    const threw = errorOf(results[1]);
    expect(threw.message).toBe('Plugin "throwing" threw on event "b": boom on b');
    expect(threw.plugin).toBe('throwing');
    expect(threw.eventIds).toEqual(['b']);
    const rejected = errorOf(results[3]);
    expect(rejected.message).toBe('Plugin "throwing" rejected on event "d": rejected d');
    expect(rejected.eventIds).toEqual(['d']);
  });

  it('terminates a busy-looping plugin within its budget, keeps reported results, and stays usable', async () => {
    // Results travel in chunks of RESULT_CHUNK: the first chunk is reported before the hang, the finished
    // inputs of the next (a, b) are not, and count as unfinished (transforms are pure: a retry is safe).
    const done = Array.from({ length: RESULT_CHUNK }, (_, i) => fixtureInput(`ok${i}`));
    const started = Date.now();
    const results = await pool.run(configured('hanging'), [
      ...done,
      fixtureInput('a'),
      fixtureInput('b'),
      fixtureInput('c', 'hang'),
      fixtureInput('d'),
    ]);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(BUDGET_MS - 5);
    expect(elapsed).toBeLessThan(BUDGET_MS + MARGIN_MS);
    expect(outline(results)).toEqual([
      ...done.map((input) => input.profile.customer_id),
      '!timeout',
      '!timeout',
      '!timeout',
      '!timeout',
    ]);
    const error = errorOf(results[RESULT_CHUNK + 2]);
    expect(error.message).toBe('Plugin "hanging" exceeded its 300 ms budget; unfinished events: a, b, c, d');
    expect(error.eventIds).toEqual(['a', 'b', 'c', 'd']);
    expect(errorOf(results[RESULT_CHUNK + 3])).toBe(error);

    // Both workers (the survivor and the replacement) take batches again.
    const after = await Promise.all([
      pool.run(configured('hanging'), [fixtureInput('x')]),
      pool.run(configured('echo'), [fixtureInput('y')]),
      pool.run(configured('hanging'), [fixtureInput('z')]),
    ]);
    expect(after.map(outline)).toEqual([['cust-x'], ['cust-y'], ['cust-z']]);
  });

  it("times out a promise that never settles, while the batch's other promises complete", async () => {
    const started = Date.now();
    const results = await pool.run(configured('never-settles'), [
      fixtureInput('a'),
      fixtureInput('b', 'hang'),
      fixtureInput('c'),
    ]);
    expect(Date.now() - started).toBeLessThan(BUDGET_MS + MARGIN_MS);
    expect(outline(results)).toEqual(['cust-a', '!timeout', 'cust-c']);
    const error = errorOf(results[1]);
    expect(error.message).toBe('Plugin "never-settles" exceeded its 300 ms budget; unfinished events: b');
    expect(error.eventIds).toEqual(['b']);
    expect(outline(await pool.run(configured('never-settles'), [fixtureInput('d')]))).toEqual(['cust-d']);
  });

  it('reports invalid output per input', async () => {
    const results = await pool.run(configured('bad-output'), [
      fixtureInput('a', 'bad'),
      fixtureInput('b'),
      fixtureInput('c', 'not-array'),
    ]);
    expect(outline(results)).toEqual(['!invalid-output', 'cust-b', '!invalid-output']);
    expect(errorOf(results[0]).message).toBe(
      'Plugin "bad-output" returned invalid output on event "a": Plugin "bad-output": invalid output: ' +
        '/0/operation must be one of upsertProfiles, updateAttributes, addToSegment, removeFromSegment, subscribe, ' +
        'unsubscribe, suppress, unsuppress, deleteProfiles, fetchProfiles, mergeProfiles (got "explode"); /0/item/customerId must be a non-empty string',
    );
    expect(errorOf(results[2]).message).toBe(
      'Plugin "bad-output" returned invalid output on event "c": Plugin "bad-output": invalid output: / must be an array of operations',
    );
    expect(errorOf(results[2]).eventIds).toEqual(['c']);
  });

  it('reports a worker that exits as crashed, keeps reported results, and replaces it', async () => {
    const done = Array.from({ length: RESULT_CHUNK }, (_, i) => fixtureInput(`ok${i}`));
    const results = await pool.run(configured('exiting'), [
      ...done,
      fixtureInput('a'),
      fixtureInput('b', 'exit'),
      fixtureInput('c'),
    ]);
    expect(outline(results)).toEqual([
      ...done.map((input) => input.profile.customer_id),
      '!crashed',
      '!crashed',
      '!crashed',
    ]);
    const error = errorOf(results[RESULT_CHUNK + 1]);
    expect(error.message).toBe(
      'Plugin "exiting" crashed its worker (exit code 3); unfinished events: a, b, c',
    );
    expect(error.eventIds).toEqual(['a', 'b', 'c']);
    const after = await Promise.all(
      [1, 2, 3].map((n) => pool.run(configured('exiting'), [fixtureInput(`n${n}`)])),
    );
    expect(after.map(outline)).toEqual([['cust-n1'], ['cust-n2'], ['cust-n3']]);
  });

  it('reports an uncaught error in plugin code as crashed', async () => {
    const results = await pool.run(configured('exiting'), [
      fixtureInput('a'),
      fixtureInput('b', 'uncaught'),
      fixtureInput('c'),
    ]);
    expect(outline(results)).toEqual(['cust-a', '!crashed', 'cust-c']);
    expect(errorOf(results[1]).message).toBe(
      'Plugin "exiting" crashed its worker (uncaught in plugin); unfinished events: b',
    );
    expect(outline(await pool.run(configured('exiting'), [fixtureInput('d')]))).toEqual(['cust-d']);
  });

  it('reports a module that cannot be loaded for every input', async () => {
    const missing: ConfiguredPlugin = { ...configured('echo'), module: fixture('missing.plugin.ts') };
    const results = await pool.run(missing, [fixtureInput('a'), fixtureInput('b')]);
    const error = errorOf(results[0]);
    expect(errorOf(results[1])).toBe(error);
    expect(error.kind).toBe('threw');
    expect(error.eventIds).toEqual(['a', 'b']);
    expect(error.message).toMatch(
      /^Plugin "echo" could not be loaded from ".*missing\.plugin\.ts" \(export "echoPlugin"\): Cannot find module/,
    );
    const wrongExport: ConfiguredPlugin = { ...configured('echo'), exportName: 'nope' };
    expect(errorOf((await pool.run(wrongExport, [fixtureInput('c')]))[0]).message).toMatch(
      /export "nope" of ".*echo\.plugin\.ts" is not a plugin$/,
    );
  });

  it('spreads concurrent batches over the workers', async () => {
    // Replacements of the workers terminated above start up in the background: wait for both.
    while (pool.stats().ready < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pool.stats()).toEqual({ workers: 2, ready: 2, busy: 0, queued: 0 });
    await Promise.all([
      pool.run(configured('hanging'), [fixtureInput('warm-1')]),
      pool.run(configured('hanging'), [fixtureInput('warm-2')]),
    ]);
    // Two hanging batches at once: if they queued on one worker the second would end after two budgets.
    const started = Date.now();
    const both = await Promise.all([
      pool.run(configured('hanging'), [fixtureInput('p', 'hang')]),
      pool.run(configured('hanging'), [fixtureInput('q', 'hang')]),
    ]);
    expect(both.map(outline)).toEqual([['!timeout'], ['!timeout']]);
    expect(Date.now() - started).toBeLessThan(2 * BUDGET_MS);
  });
});

describe('PluginPool lifecycle', () => {
  it('rejects bad options', async () => {
    await expect(PluginPool.start({ size: 0 })).rejects.toThrow(
      'PluginPool: size must be a positive integer (got 0)',
    );
    await expect(PluginPool.start({ budgetMs: -1 })).rejects.toThrow(
      'PluginPool: budgetMs must be a positive number (got -1)',
    );
  });

  it('defaults to one worker per CPU and a 1 s budget', async () => {
    const pool = await PluginPool.start();
    try {
      expect(pool.size).toBe(Math.max(1, availableParallelism()));
      expect(pool.stats().ready).toBe(pool.size);
      expect(pool.budgetMs).toBe(1_000);
    } finally {
      await pool.close();
    }
  });

  it('close() terminates the workers and rejects queued and later batches', async () => {
    const pool = await PluginPool.start({ size: 1, budgetMs: 5_000 });
    const running = pool.run(configured('never-settles'), [fixtureInput('a', 'hang')]);
    const queued = pool.run(configured('echo'), [fixtureInput('b')]);
    const rejections = [
      expect(running).rejects.toThrow('PluginPool is closed'),
      expect(queued).rejects.toThrow('PluginPool is closed'),
    ];
    expect(pool.stats()).toEqual({ workers: 1, ready: 1, busy: 1, queued: 1 });
    await pool.close();
    await Promise.all(rejections);
    expect(pool.stats()).toEqual({ workers: 0, ready: 0, busy: 0, queued: 0 });
    await expect(pool.run(configured('echo'), [fixtureInput('c')])).rejects.toThrow('PluginPool is closed');
  });
});
