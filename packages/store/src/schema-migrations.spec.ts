import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresStore } from './postgres-store';
import { migrate, MigrationError, MIGRATIONS_DIR, readMigrations, type Migration } from './schema-migrations';
import { openScratchStore, STORE_DRIVERS } from './scratch-store';
import type { Store } from './store';

function migration(version: number, name: string, sql: string): Migration {
  return { version, name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
}

async function migrationError(promise: Promise<unknown>): Promise<MigrationError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(MigrationError);
  return error as MigrationError;
}

describe('readMigrations', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-migrations-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the package migrations in version order, with their sha-256 checksums', () => {
    const migrations = readMigrations();
    const files = readdirSync(MIGRATIONS_DIR).filter((file) => file.endsWith('.sql'));
    expect(migrations.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}.sql`)).toEqual(
      files.sort(),
    );
    expect(migrations.map((m) => m.version)).toEqual(files.map((_, index) => index + 1));
    expect(migrations[0].name).toBe('identity_graph');
    expect(migrations[0].sql).toContain('CREATE TABLE identity_identifiers');
  });

  it('orders by version, ignores other files and checksums the exact text', () => {
    writeFileSync(join(dir, '0002_second.sql'), 'SELECT 2;\n');
    writeFileSync(join(dir, '0001_first_one.sql'), 'SELECT 1;\n');
    writeFileSync(join(dir, 'README.md'), 'not a migration');
    expect(readMigrations(dir)).toEqual([
      migration(1, 'first_one', 'SELECT 1;\n'),
      migration(2, 'second', 'SELECT 2;\n'),
    ]);
    // sha256sum of the file, computed outside the code under test.
    expect(readMigrations(dir)[0].checksum).toBe(
      'b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd',
    );
  });

  it('refuses a badly named file', () => {
    writeFileSync(join(dir, '0001_first.sql'), 'SELECT 1;');
    writeFileSync(join(dir, '0002_Add-Column.sql'), 'SELECT 2;');
    expect(() => readMigrations(dir)).toThrow(MigrationError);
    expect(() => readMigrations(dir)).toThrow(
      new MigrationError('migration file 0002_Add-Column.sql is not named NNNN_name.sql'),
    );
  });

  it('refuses a gap in the versions', () => {
    writeFileSync(join(dir, '0001_first.sql'), 'SELECT 1;');
    writeFileSync(join(dir, '0003_third.sql'), 'SELECT 3;');
    expect(() => readMigrations(dir)).toThrow(MigrationError);
    expect(() => readMigrations(dir)).toThrow('migration versions must run 1, 2, 3…; found 3 at position 2');
  });

  it('refuses two files with one version', () => {
    writeFileSync(join(dir, '0001_first.sql'), 'SELECT 1;');
    writeFileSync(join(dir, '0001_other.sql'), 'SELECT 1;');
    expect(() => readMigrations(dir)).toThrow('migration versions must run 1, 2, 3…; found 1 at position 2');
  });
});

describe.each(STORE_DRIVERS)('migrate on %s', (driver) => {
  const migrations = readMigrations();
  const next = migrations.length + 1;
  let store: Store;

  // A PGlite instance takes a few seconds to start (initdb in WebAssembly).
  beforeAll(async () => {
    store = await openScratchStore(driver);
  }, 30_000);

  afterAll(async () => {
    await store.close();
  });

  it('records every migration of the code in schema_migrations', async () => {
    const rows = await store.query<{ version: number; name: string; checksum: string; applied_at: Date }>(
      'SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version',
    );
    expect(rows.map(({ version, name, checksum }) => ({ version, name, checksum }))).toEqual(
      migrations.map(({ version, name, checksum }) => ({ version, name, checksum })),
    );
    rows.forEach((row) => expect(row.applied_at).toBeInstanceOf(Date));
    expect(await store.query("SELECT to_regclass('identity_identifiers') IS NOT NULL AS present")).toEqual([
      { present: true },
    ]);
  });

  it('applies nothing when run again', async () => {
    const before = await store.query('SELECT version, applied_at FROM schema_migrations ORDER BY version');
    expect(await migrate(store)).toEqual({ applied: [] });
    expect(await store.query('SELECT version, applied_at FROM schema_migrations ORDER BY version')).toEqual(
      before,
    );
  });

  it('applies only a new migration, once', async () => {
    const added = migration(
      next,
      'probe_table',
      'CREATE TABLE t_probe (id int); INSERT INTO t_probe VALUES (7);',
    );
    try {
      expect(await migrate(store, [...migrations, added])).toEqual({ applied: [added] });
      expect(await migrate(store, [...migrations, added])).toEqual({ applied: [] });
      expect(await store.query('SELECT id FROM t_probe')).toEqual([{ id: 7 }]);
      expect(await store.query('SELECT name FROM schema_migrations WHERE version = $1', [next])).toEqual([
        { name: 'probe_table' },
      ]);
    } finally {
      await store.execScript(
        `DROP TABLE IF EXISTS t_probe; DELETE FROM schema_migrations WHERE version = ${next};`,
      );
    }
  });

  it('stops when a recorded migration was changed, and applies nothing', async () => {
    const changed = migrations.map((m) => (m.version === 1 ? { ...m, checksum: 'f'.repeat(64) } : m));
    const pending = migration(next, 'never_applied', 'CREATE TABLE t_never_applied (id int);');
    const error = await migrationError(migrate(store, [...changed, pending]));
    expect(error.message).toBe(
      `migration 0001_${migrations[0].name}.sql was changed after it was applied; add a new migration instead`,
    );
    expect(await store.query("SELECT to_regclass('t_never_applied') AS t")).toEqual([{ t: null }]);
    expect(await store.query<{ n: number }>('SELECT count(*) AS n FROM schema_migrations')).toEqual([
      { n: migrations.length },
    ]);
  });

  it('stops when the database is newer than the code', async () => {
    await store.query(
      "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, 'future_feature', 'x')",
      [next],
    );
    try {
      const error = await migrationError(migrate(store));
      expect(error.message).toBe(
        `the database is at migration ${next} (future_feature), newer than this code knows; upgrade Tessera`,
      );
    } finally {
      await store.query('DELETE FROM schema_migrations WHERE version = $1', [next]);
    }
    expect(await migrate(store)).toEqual({ applied: [] });
  });
});

describe('migrate on one PostgreSQL database from two processes', () => {
  let scratch: PostgresStore;
  let url: string;

  beforeAll(async () => {
    scratch = await openScratchStore('postgres');
    url = scratch.connectionString;
    // Start from an empty database, as two processes booting on a fresh install would.
    await scratch.execScript('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  });

  afterAll(async () => {
    await scratch.close();
  });

  it('applies every migration once under the advisory lock, and both calls succeed', async () => {
    // The last migration holds its transaction open a while, so the second caller really arrives meanwhile.
    const migrations = [
      ...readMigrations(),
      migration(
        readMigrations().length + 1,
        'slow_probe',
        'SELECT pg_sleep(0.3); CREATE TABLE t_slow_probe (id int);',
      ),
    ];
    const first = new PostgresStore(url, { maxConnections: 2 });
    const second = new PostgresStore(url, { maxConnections: 2 });
    try {
      const results = await Promise.all([migrate(first, migrations), migrate(second, migrations)]);
      expect(results.map((result) => result.applied.length).sort()).toEqual([0, migrations.length]);
      expect(
        await scratch.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version'),
      ).toEqual(migrations.map(({ version }) => ({ version })));
    } finally {
      await first.close();
      await second.close();
    }
  });
});
