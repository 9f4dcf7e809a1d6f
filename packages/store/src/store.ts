/** Anything that runs SQL: the store itself, or one transaction. Parameters are positional ($1, $2, …). */
export interface SqlExecutor {
  /** Runs one statement; rows come back with bigint as number, timestamptz as Date and jsonb parsed. */
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs a script of several statements without parameters (migrations). */
  execScript(sql: string): Promise<void>;
}

export type StoreDriver = 'postgres' | 'pglite';

/**
 * The store of record behind one interface, on PostgreSQL (`pg`) or PGlite (Postgres in WASM, the embedded
 * default). Code above it writes one dialect: PostgreSQL 15+.
 */
export interface Store extends SqlExecutor {
  readonly driver: StoreDriver;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
