import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from './open-store';
import { readMigrations } from './schema-migrations';
import type { PostgresStore } from './postgres-store';
import { openScratchStore } from './scratch-store';

const versions = readMigrations().map(({ version }) => ({ version }));

describe('openStore', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'tessera-store-'));
  });

  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('opens PGlite in <dataDir>/pglite, migrated, and keeps its data across close and reopen', async () => {
    const first = await openStore({ dataDir });
    try {
      expect(first.driver).toBe('pglite');
      expect(await first.query('SELECT version FROM schema_migrations ORDER BY version')).toEqual(versions);
      await first.query('CREATE TABLE t_kept (id int PRIMARY KEY, note text)');
      await first.query("INSERT INTO t_kept VALUES (1, 'survives a restart')");
    } finally {
      await first.close();
    }
    const folder = join(dataDir, 'pglite');
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    expect(readdirSync(folder)).toContain('PG_VERSION');

    const second = await openStore({ dataDir });
    try {
      expect(await second.query('SELECT id, note FROM t_kept')).toEqual([
        { id: 1, note: 'survives a restart' },
      ]);
      expect(await second.query('SELECT version FROM schema_migrations ORDER BY version')).toEqual(versions);
    } finally {
      await second.close();
    }
  }, 30_000);

  describe('with a databaseUrl', () => {
    let scratch: PostgresStore;
    let url: string;

    beforeAll(async () => {
      scratch = await openScratchStore('postgres');
      url = scratch.connectionString;
    });

    afterAll(async () => {
      await scratch.close();
    });

    it('opens PostgreSQL and migrates an empty database', async () => {
      await scratch.execScript('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
      expect(await scratch.query("SELECT to_regclass('schema_migrations') AS t")).toEqual([{ t: null }]);
      const store = await openStore({ databaseUrl: url, dataDir });
      try {
        expect(store.driver).toBe('postgres');
        expect(await store.query('SELECT version FROM schema_migrations ORDER BY version')).toEqual(versions);
        expect(await store.query("SELECT to_regclass('identity_edges') IS NOT NULL AS present")).toEqual([
          { present: true },
        ]);
      } finally {
        await store.close();
      }
      expect(existsSync(join(dataDir, 'pglite'))).toBe(false);
    });

    it('rejects with ECONNREFUSED when nothing listens at the address', async () => {
      await expect(
        openStore({ databaseUrl: 'postgres://postgres@127.0.0.1:1/postgres', dataDir }),
      ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      expect(existsSync(join(dataDir, 'pglite'))).toBe(false);
    });
  });
});
