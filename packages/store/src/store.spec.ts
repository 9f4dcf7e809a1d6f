import { openScratchStore, STORE_DRIVERS } from './scratch-store';
import type { Store } from './store';

// Medium tier: the same expectations on PGlite in memory and on a scratch database of the real PostgreSQL.
describe.each(STORE_DRIVERS)('Store on %s', (driver) => {
  let store: Store;

  // A PGlite instance takes a few seconds to start (initdb in WebAssembly).
  beforeAll(async () => {
    store = await openScratchStore(driver);
  }, 30_000);

  afterAll(async () => {
    await store.close();
  });

  const count = async (table: string): Promise<number> =>
    (await store.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))[0].n;

  describe('rows', () => {
    it('names its driver', () => {
      expect(store.driver).toBe(driver);
    });

    it('returns bigint ids and counts as JS numbers', async () => {
      await store.query('CREATE TABLE t_ids (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text)');
      const rows = await store.query<{ id: number }>(
        "INSERT INTO t_ids (name) VALUES ('a'), ('b'), ('c') RETURNING id",
      );
      expect(rows).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
      const [row] = await store.query<{ n: number; max: number; param: number }>(
        'SELECT count(*) AS n, 9007199254740991::bigint AS max, $1::bigint AS param FROM t_ids',
        [42],
      );
      expect(row).toEqual({ n: 3, max: Number.MAX_SAFE_INTEGER, param: 42 });
      expect(typeof row.n).toBe('number');
    });

    it('returns timestamptz as Date, and takes Date parameters', async () => {
      const at = new Date('2024-02-29T23:59:58.123Z');
      await store.query(
        'CREATE TABLE t_times (at timestamptz NOT NULL, seen timestamptz NOT NULL DEFAULT now())',
      );
      await store.query('INSERT INTO t_times (at) VALUES ($1)', [at]);
      const [row] = await store.query<{ at: Date; seen: Date }>('SELECT at, seen FROM t_times');
      expect(row.at).toBeInstanceOf(Date);
      expect(row.at.getTime()).toBe(at.getTime());
      expect(row.seen).toBeInstanceOf(Date);
      expect(Math.abs(row.seen.getTime() - Date.now())).toBeLessThan(60_000);
      const [cmp] = await store.query<{ same: boolean }>('SELECT at = $1::timestamptz AS same FROM t_times', [
        '2024-02-29T23:59:58.123Z',
      ]);
      expect(cmp.same).toBe(true);
    });

    it('returns jsonb parsed', async () => {
      const doc = {
        email: 'ana@example.com',
        tags: ['gold', 'vip'],
        nested: { n: 1.5, ok: true, none: null },
      };
      await store.query('CREATE TABLE t_docs (id int PRIMARY KEY, doc jsonb NOT NULL)');
      await store.query('INSERT INTO t_docs (id, doc) VALUES (1, $1::jsonb), (2, $2::jsonb)', [
        JSON.stringify(doc),
        JSON.stringify([1, 'two']),
      ]);
      const rows = await store.query<{ id: number; doc: unknown }>('SELECT id, doc FROM t_docs ORDER BY id');
      expect(rows).toEqual([
        { id: 1, doc },
        { id: 2, doc: [1, 'two'] },
      ]);
      const [path] = await store.query<{ tier: unknown }>(
        "SELECT doc->'tags'->>0 AS tier FROM t_docs WHERE id = 1",
      );
      expect(path.tier).toBe('gold');
    });

    it('round-trips text[] and bigint[] parameters and results', async () => {
      const tags = ['plain', 'with,comma', 'with "quotes"', '{braces}', 'back\\slash', 'ünïcode ✓', '', null];
      const ids = [1, 2, 9007199254740991];
      const [row] = await store.query<{ tags: unknown; ids: unknown; empty: unknown }>(
        "SELECT $1::text[] AS tags, $2::bigint[] AS ids, '{}'::bigint[] AS empty",
        [tags, ids],
      );
      expect(row).toEqual({ tags, ids, empty: [] });

      await store.query(
        'CREATE TABLE t_arrays (id int PRIMARY KEY, tags text[] NOT NULL, refs bigint[] NOT NULL)',
      );
      await store.query('INSERT INTO t_arrays VALUES (1, $1, $2), (2, $3, $4)', [
        ['a', 'b'],
        [10, 20],
        ['c'],
        [30],
      ]);
      const stored = await store.query<{ id: number; tags: string[]; refs: number[] }>(
        'SELECT id, tags, refs FROM t_arrays WHERE id = ANY($1::int[]) ORDER BY id',
        [[1, 2]],
      );
      expect(stored).toEqual([
        { id: 1, tags: ['a', 'b'], refs: [10, 20] },
        { id: 2, tags: ['c'], refs: [30] },
      ]);
      const matched = await store.query<{ id: number }>(
        'SELECT id FROM t_arrays WHERE refs && $1::bigint[]',
        [[30]],
      );
      expect(matched).toEqual([{ id: 2 }]);
    });

    it('runs a script of several statements', async () => {
      await store.execScript(
        'CREATE TABLE t_script (id int); INSERT INTO t_script VALUES (1); INSERT INTO t_script VALUES (2);',
      );
      expect(await count('t_script')).toBe(2);
    });
  });

  describe('transaction', () => {
    beforeAll(async () => {
      await store.query('CREATE TABLE t_tx (id int PRIMARY KEY, label text NOT NULL)');
    });

    it('commits when the work resolves, and returns its result', async () => {
      const result = await store.transaction(async (tx) => {
        await tx.query("INSERT INTO t_tx VALUES (1, 'one')");
        await tx.execScript("INSERT INTO t_tx VALUES (2, 'two'); INSERT INTO t_tx VALUES (3, 'three');");
        return (await tx.query<{ n: number }>('SELECT count(*) AS n FROM t_tx'))[0].n;
      });
      expect(result).toBe(3);
      expect(await store.query('SELECT id, label FROM t_tx ORDER BY id')).toEqual([
        { id: 1, label: 'one' },
        { id: 2, label: 'two' },
        { id: 3, label: 'three' },
      ]);
    });

    it('rolls back when the work throws, and rethrows the same error', async () => {
      const failure = new Error('the work failed');
      let seenInside = 0;
      await expect(
        store.transaction(async (tx) => {
          await tx.query("INSERT INTO t_tx VALUES (10, 'ten')");
          await tx.query('CREATE TABLE t_tx_ddl (id int)');
          seenInside = (await tx.query<{ n: number }>('SELECT count(*) AS n FROM t_tx WHERE id = 10'))[0].n;
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(seenInside).toBe(1);
      expect(await store.query('SELECT id FROM t_tx WHERE id = 10')).toEqual([]);
      expect(await store.query("SELECT to_regclass('t_tx_ddl') AS t")).toEqual([{ t: null }]);
    });

    it('rolls back on a failing statement, and the store stays usable', async () => {
      const error = await store
        .transaction(async (tx) => {
          await tx.query("INSERT INTO t_tx VALUES (20, 'twenty')");
          await tx.query("INSERT INTO t_tx VALUES (1, 'duplicate')");
        })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/duplicate key value violates unique constraint/);
      expect(await store.query('SELECT id FROM t_tx WHERE id = 20')).toEqual([]);
      await store.transaction((tx) => tx.query("INSERT INTO t_tx VALUES (21, 'after')"));
      expect(await store.query('SELECT label FROM t_tx WHERE id = 21')).toEqual([{ label: 'after' }]);
    });
  });
});
