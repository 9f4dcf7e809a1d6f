import { Pool, types, type PoolClient } from 'pg';
import type { SqlExecutor, Store } from './store';

// Row ids are bigint; they stay far below 2^53, and PGlite already returns them as numbers. Parsing them
// here keeps both drivers' rows identical, which is what lets one test suite run on both. bigint[] (1016)
// goes through the int4[] parser (1007), so its elements are numbers too.
const INT8_OID = 20;
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (value: string) => Number(value)
      : types.getTypeParser(oid === 1016 ? 1007 : oid, format ?? 'text')) as typeof types.getTypeParser,
};

function executor(client: Pool | PoolClient): SqlExecutor {
  return {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<Row[]> {
      const result = await client.query(text, params as unknown[] | undefined);
      return result.rows as Row[];
    },
    async execScript(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
}

/** The production driver: a `pg` connection pool on DATABASE_URL. */
export class PostgresStore implements Store {
  readonly driver = 'postgres';
  private readonly pool: Pool;
  private readonly executor: SqlExecutor;

  constructor(
    readonly connectionString: string,
    options: { maxConnections?: number } = {},
  ) {
    this.pool = new Pool({
      connectionString,
      max: options.maxConnections ?? 10,
      types: typeParsers,
      // An unreachable host fails start-up in seconds rather than hanging it.
      connectionTimeoutMillis: 5_000,
    });
    // An idle client that loses its server must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
    this.executor = executor(this.pool);
  }

  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.executor.query<Row>(text, params);
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(executor(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  execScript(sql: string): Promise<void> {
    return this.executor.execScript(sql);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
