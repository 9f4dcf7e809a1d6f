import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreInUseError } from '../pglite-folder-lock';
import { ThreadedPgliteStore } from './threaded-pglite-store';

// Medium tier: a real PGlite on its own thread (the store suite runs the shared expectations on it too).
describe('ThreadedPgliteStore', () => {
  let store: ThreadedPgliteStore;

  beforeAll(async () => {
    store = await ThreadedPgliteStore.open();
    await store.query('CREATE TABLE t_thread (id int PRIMARY KEY, note text)');
  }, 30_000);

  afterAll(() => store.close());

  it('keeps PostgreSQL’s error fields across the thread, and the statement writes nothing', async () => {
    await store.query("INSERT INTO t_thread VALUES (1, 'first')");
    const error = await store
      .query("INSERT INTO t_thread VALUES (1, 'again')")
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      message: 'duplicate key value violates unique constraint "t_thread_pkey"',
      code: '23505',
      constraint: 't_thread_pkey',
    });
    expect(await store.query('SELECT note FROM t_thread WHERE id = 1')).toEqual([{ note: 'first' }]);
  });

  it('holds other statements back while a transaction is open, and they see its commit', async () => {
    let seenInside = -1;
    const transaction = store.transaction(async (tx) => {
      await tx.query("INSERT INTO t_thread VALUES (10, 'in tx')");
      await new Promise((resolve) => setTimeout(resolve, 100));
      seenInside = (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM t_thread WHERE id = 10'))[0]
        ?.n as number;
      return 'done';
    });
    const outside = store.query<{ n: number }>('SELECT count(*)::int AS n FROM t_thread WHERE id = 10');
    expect(await transaction).toBe('done');
    expect(seenInside).toBe(1);
    expect(await outside).toEqual([{ n: 1 }]);
  });

  it('rolls back what a failing transaction wrote and rethrows its error', async () => {
    await expect(
      store.transaction(async (tx) => {
        await tx.query("INSERT INTO t_thread VALUES (20, 'gone')");
        throw new Error('work failed');
      }),
    ).rejects.toThrow('work failed');
    expect(await store.query('SELECT id FROM t_thread WHERE id = 20')).toEqual([]);
  });

  it('rolls back when a statement inside the transaction fails', async () => {
    await expect(
      store.transaction(async (tx) => {
        await tx.query("INSERT INTO t_thread VALUES (30, 'gone')");
        await tx.query('INSERT INTO t_thread VALUES (1)');
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await store.query('SELECT id FROM t_thread WHERE id = 30')).toEqual([]);
    // The database is free again afterwards.
    expect(await store.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('owns its data folder: a second open is refused until the first closes', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'tessera-pglite-thread-'));
    try {
      const first = await ThreadedPgliteStore.open(folder);
      await first.query('CREATE TABLE kept (v text)');
      await first.query("INSERT INTO kept VALUES ('persisted')");
      await expect(ThreadedPgliteStore.open(folder)).rejects.toBeInstanceOf(StoreInUseError);
      await first.close();
      const second = await ThreadedPgliteStore.open(folder);
      expect(await second.query('SELECT v FROM kept')).toEqual([{ v: 'persisted' }]);
      await second.close();
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 60_000);

  it('answers every later call with a clear error once closed', async () => {
    const closing = await ThreadedPgliteStore.open();
    await closing.close();
    await expect(closing.query('SELECT 1')).rejects.toThrow(/the PGlite thread exited/);
  }, 30_000);
});
