import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from './store';

/** Where the versioned SQL lives: `NNNN_name.sql`, applied in order, never edited once released. */
export const MIGRATIONS_DIR = join(__dirname, '..', 'migrations');

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => {
      const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
      if (match === null) throw new MigrationError(`migration file ${file} is not named NNNN_name.sql`);
      const sql = readFileSync(join(dir, file), 'utf8');
      return {
        version: Number(match[1]),
        name: match[2],
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new MigrationError(
        `migration versions must run 1, 2, 3…; found ${migration.version} at position ${index + 1}`,
      );
    }
  });
  return migrations;
}

// Any constant: it serialises concurrent start-ups of several processes on one PostgreSQL.
const MIGRATION_LOCK = 7_302_115_011;

/**
 * Brings the schema forward: applies every migration not yet recorded in `schema_migrations`, in one
 * transaction under an advisory lock (so two processes starting together do not both apply it). Forward-only:
 * a recorded migration whose file changed, or a database newer than this code, stops start-up.
 */
export async function migrate(
  store: Store,
  migrations = readMigrations(),
): Promise<{ applied: Migration[] }> {
  return store.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.execScript(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         checksum text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const recorded = await tx.query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
    );
    for (const row of recorded) {
      const known = migrations.find((migration) => migration.version === row.version);
      if (known === undefined) {
        throw new MigrationError(
          `the database is at migration ${row.version} (${row.name}), newer than this code knows; upgrade Tessera`,
        );
      }
      if (known.checksum !== row.checksum) {
        throw new MigrationError(
          `migration ${String(row.version).padStart(4, '0')}_${row.name}.sql was changed after it was applied; add a new migration instead`,
        );
      }
    }
    const pending = migrations.filter(
      (migration) => !recorded.some((row) => row.version === migration.version),
    );
    for (const migration of pending) {
      await tx.execScript(migration.sql);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
    }
    return { applied: pending };
  });
}
