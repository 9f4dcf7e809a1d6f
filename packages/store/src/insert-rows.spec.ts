import { insertRows } from './insert-rows';
import { openScratchStore, STORE_DRIVERS } from './scratch-store';
import type { SqlExecutor, Store } from './store';

/** The real store, with a record of each statement it was sent (text and parameter count). */
function recording(store: Store): { executor: SqlExecutor; statements: { sql: string; params: number }[] } {
  const statements: { sql: string; params: number }[] = [];
  return {
    statements,
    executor: {
      query<Row>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
        statements.push({ sql, params: params?.length ?? 0 });
        return store.query<Row>(sql, params);
      },
      execScript: (sql: string) => store.execScript(sql),
    },
  };
}

describe.each(STORE_DRIVERS)('insertRows on %s', (driver) => {
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

  it('inserts the rows in one statement and returns them in input order', async () => {
    await store.query(
      'CREATE TABLE t_people (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, age int)',
    );
    const names = ['zoe', 'adam', 'mia', 'bob', 'lea'];
    const { executor, statements } = recording(store);
    const rows = await insertRows<{ id: number; name: string; age: number | null }>(
      executor,
      't_people',
      ['name', 'age'],
      names.map((name, index) => [name, index === 2 ? null : 20 + index]),
      { returning: 'id, name, age' },
    );
    expect(rows).toEqual([
      { id: 1, name: 'zoe', age: 20 },
      { id: 2, name: 'adam', age: 21 },
      { id: 3, name: 'mia', age: null },
      { id: 4, name: 'bob', age: 23 },
      { id: 5, name: 'lea', age: 24 },
    ]);
    expect(statements).toEqual([
      {
        sql: 'INSERT INTO t_people (name, age) VALUES ($1, $2), ($3, $4), ($5, $6), ($7, $8), ($9, $10) RETURNING id, name, age',
        params: 10,
      },
    ]);
  });

  it('returns nothing and sends nothing for no rows', async () => {
    const { executor, statements } = recording(store);
    expect(await insertRows(executor, 't_does_not_exist', ['a'], [], { returning: 'a' })).toEqual([]);
    expect(statements).toEqual([]);
  });

  it('upserts with onConflict', async () => {
    await store.query('CREATE TABLE t_points (key text PRIMARY KEY, points int NOT NULL)');
    await insertRows(
      store,
      't_points',
      ['key', 'points'],
      [
        ['a', 1],
        ['b', 2],
      ],
    );
    const upserted = await insertRows(
      store,
      't_points',
      ['key', 'points'],
      [
        ['b', 20],
        ['c', 3],
      ],
      {
        onConflict: 'ON CONFLICT (key) DO UPDATE SET points = t_points.points + EXCLUDED.points',
        returning: 'key, points',
      },
    );
    expect(upserted).toEqual([
      { key: 'b', points: 22 },
      { key: 'c', points: 3 },
    ]);
    const skipped = await insertRows(
      store,
      't_points',
      ['key', 'points'],
      [
        ['a', 100],
        ['d', 4],
      ],
      { onConflict: 'ON CONFLICT (key) DO NOTHING', returning: 'key' },
    );
    expect(skipped).toEqual([{ key: 'd' }]);
    expect(await store.query('SELECT key, points FROM t_points ORDER BY key')).toEqual([
      { key: 'a', points: 1 },
      { key: 'b', points: 22 },
      { key: 'c', points: 3 },
      { key: 'd', points: 4 },
    ]);
  });

  it('splits a batch above 65,535 parameters into several statements and inserts every row', async () => {
    await store.query('CREATE TABLE t_bulk (n int NOT NULL, label text NOT NULL, half int NOT NULL)');
    const rows = Array.from({ length: 30_000 }, (_, n) => [n, `row-${n}`, n >> 1]);
    const { executor, statements } = recording(store);
    const returned = await insertRows<{ n: number }>(executor, 't_bulk', ['n', 'label', 'half'], rows, {
      returning: 'n',
    });
    // 65,535 / 3 = 21,845 rows per statement: exactly the limit, then the rest.
    expect(statements.map((statement) => statement.params)).toEqual([65_535, 90_000 - 65_535]);
    expect(returned.map((row) => row.n)).toEqual(rows.map((row) => row[0]));
    expect(await count('t_bulk')).toBe(30_000);
    expect(
      await store.query(
        'SELECT min(n) AS lo, max(n) AS hi, count(DISTINCT n) AS distinct_n, sum(half) AS s FROM t_bulk',
      ),
    ).toEqual([
      { lo: 0, hi: 29_999, distinct_n: 30_000, s: rows.reduce((sum, row) => sum + (row[2] as number), 0) },
    ]);
  });

  it('refuses a row of the wrong width with the exact message, and writes nothing', async () => {
    await store.query('CREATE TABLE t_width (a int, b text)');
    const { executor, statements } = recording(store);
    await expect(
      insertRows(executor, 't_width', ['a', 'b'], [[1, 'one'], [2], [3, 'three']]),
    ).rejects.toThrow(new Error('insertRows(t_width): a row has 1 values for 2 columns'));
    await expect(insertRows(store, 't_width', ['a', 'b'], [[1, 'one', 'extra']])).rejects.toThrow(
      'insertRows(t_width): a row has 3 values for 2 columns',
    );
    expect(statements).toEqual([]);
    expect(await count('t_width')).toBe(0);
  });

  it('writes nothing when a later chunk is malformed, inside a transaction', async () => {
    await store.query('CREATE TABLE t_width_chunks (a int, b int, c int)');
    const rows: unknown[][] = Array.from({ length: 21_846 }, (_, n) => [n, n, n]);
    rows[21_845] = [1, 2];
    await expect(
      store.transaction((tx) => insertRows(tx, 't_width_chunks', ['a', 'b', 'c'], rows)),
    ).rejects.toThrow('insertRows(t_width_chunks): a row has 2 values for 3 columns');
    expect(await count('t_width_chunks')).toBe(0);
  });

  it('casts the parameters of a column, e.g. to jsonb', async () => {
    await store.query('CREATE TABLE t_events (id int PRIMARY KEY, data jsonb NOT NULL, raw text NOT NULL)');
    const { executor, statements } = recording(store);
    const data = { email_hash: 'ab12', points: 150, tags: ['gold'], nested: { ok: true } };
    const rows = await insertRows<{ id: number; data: unknown; raw: string }>(
      executor,
      't_events',
      ['id', 'data', 'raw'],
      [
        [1, data, '{"b": 1,   "a": [2]}'],
        [2, JSON.stringify([1, 'two']), '[]'],
      ],
      { casts: { data: 'jsonb', raw: 'jsonb' }, returning: 'id, data, raw' },
    );
    expect(statements[0].sql).toBe(
      'INSERT INTO t_events (id, data, raw) VALUES ($1, $2::jsonb, $3::jsonb), ($4, $5::jsonb, $6::jsonb) RETURNING id, data, raw',
    );
    // The cast is applied: the text column holds jsonb's normalized output, not the text as sent.
    expect(rows).toEqual([
      { id: 1, data, raw: '{"a": [2], "b": 1}' },
      { id: 2, data: [1, 'two'], raw: '[]' },
    ]);
    expect(await store.query('SELECT id FROM t_events WHERE data @> \'{"tags": ["gold"]}\'')).toEqual([
      { id: 1 },
    ]);
  });
});
