import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteStore } from './pglite-store';
import { reclaimDeletedRows } from './reclaim-deleted-rows';
import { openScratchStore } from './scratch-store';

/** Every file under `dir`, as bytes read as latin1 (what someone reading the folder would search). */
function folderText(dir: string): string {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => readFileSync(path).toString('latin1'))
    .join('\n');
}

describe('reclaimDeletedRows', () => {
  const SECRET = 'C-RECLAIM-4417';

  it('leaves no deleted row in a PGlite folder: not in the tables, the indexes nor the write-ahead log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-reclaim-'));
    try {
      const store = await PgliteStore.open(join(dir, 'pglite'));
      await store.execScript(
        'CREATE TABLE people (id text PRIMARY KEY, name text); CREATE INDEX people_name ON people (name);',
      );
      for (let index = 0; index < 500; index += 1)
        await store.query('INSERT INTO people VALUES ($1, $2)', [
          `p${index}`,
          index === 77 ? SECRET : `name ${index}`,
        ]);
      await store.query('CHECKPOINT');
      await store.query('UPDATE people SET name = $2 WHERE id = $1', ['p77', 'renamed']);
      await store.query('DELETE FROM people WHERE id = $1', ['p78']);
      await store.query('CHECKPOINT');
      // What a DELETE or UPDATE leaves: the old row's bytes, in the folder.
      expect(folderText(dir)).toContain(SECRET);

      expect(await reclaimDeletedRows(store)).toBe(true);
      expect(folderText(dir)).not.toContain(SECRET);
      // The live rows are intact.
      expect(await store.query('SELECT name FROM people WHERE id = $1', ['p77'])).toEqual([
        { name: 'renamed' },
      ]);
      expect(await store.query('SELECT count(*)::int AS n FROM people')).toEqual([{ n: 499 }]);
      await store.close();
      expect(folderText(dir)).not.toContain(SECRET);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('does nothing on PostgreSQL (its operator schedules table rewrites)', async () => {
    const store = await openScratchStore('postgres');
    try {
      expect(await reclaimDeletedRows(store)).toBe(false);
    } finally {
      await store.close();
    }
  });
});
