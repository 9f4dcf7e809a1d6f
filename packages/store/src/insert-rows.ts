import type { SqlExecutor } from './store';

// PostgreSQL accepts at most 65,535 parameters in one statement.
const MAX_PARAMETERS = 65_535;

export interface InsertRowsOptions {
  /**
   * Every column's SQL type. When given, the rows travel as one array per column and are unnested by
   * PostgreSQL: a fixed handful of parameters instead of rows × columns, far cheaper to parse and plan.
   * Not for columns that are themselves arrays.
   */
  columnTypes?: readonly string[];
  /** Appended after the VALUES list, e.g. `ON CONFLICT (type, key) DO UPDATE SET …`. */
  onConflict?: string;
  /** The RETURNING list, e.g. `id, key`. */
  returning?: string;
}

/**
 * Inserts many rows with one multi-row INSERT per 65,535 parameters, so a batch of N records costs a round
 * trip or two, not N. `casts` types a column's parameters where PostgreSQL cannot infer them (e.g. jsonb).
 * With `returning`, rows come back in input order for plain inserts; with ON CONFLICT … DO NOTHING, skipped
 * rows return nothing, so match on a key rather than on position.
 */
export async function insertRows<Row = Record<string, unknown>>(
  executor: SqlExecutor,
  table: string,
  columns: readonly string[],
  rows: ReadonlyArray<readonly unknown[]>,
  options: InsertRowsOptions & { casts?: Readonly<Record<string, string>> } = {},
): Promise<Row[]> {
  if (rows.length === 0) return [];
  // Checked up front: a bad row in a later chunk must not leave the earlier chunks written.
  const bad = rows.find((row) => row.length !== columns.length);
  if (bad !== undefined) {
    throw new Error(`insertRows(${table}): a row has ${bad.length} values for ${columns.length} columns`);
  }
  const tail =
    (options.onConflict === undefined ? '' : ` ${options.onConflict}`) +
    (options.returning === undefined ? '' : ` RETURNING ${options.returning}`);
  if (options.columnTypes !== undefined) {
    if (options.columnTypes.length !== columns.length) {
      throw new Error(
        `insertRows(${table}): ${options.columnTypes.length} column types for ${columns.length} columns`,
      );
    }
    const arrays = columns.map((_, index) => rows.map((row) => row[index]));
    const unnested = options.columnTypes.map((type, index) => `$${index + 1}::${type}[]`).join(', ');
    return executor.query<Row>(
      `INSERT INTO ${table} (${columns.join(', ')}) SELECT * FROM unnest(${unnested})${tail}`,
      arrays,
    );
  }
  const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS / columns.length));
  const results: Row[] = [];
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement);
    const params: unknown[] = [];
    const tuples = chunk.map((row) => {
      const placeholders = row.map((value, index) => {
        params.push(value);
        const cast = options.casts?.[columns[index]];
        return cast === undefined ? `$${params.length}` : `$${params.length}::${cast}`;
      });
      return `(${placeholders.join(', ')})`;
    });
    const sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}${tail}`;
    results.push(...(await executor.query<Row>(sql, params)));
  }
  return results;
}
