import type { Store } from './store';

/**
 * Makes deleted rows unreadable from the store's files, after an erasure: a DELETE only marks a row dead, and
 * its bytes stay in the table's and indexes' pages and in the write-ahead log until overwritten.
 *
 * On PGlite (the embedded default: one folder, small) every table is rewritten (`VACUUM FULL` writes new files
 * and removes the old ones) and the write-ahead log is switched past, with segments removed rather than
 * recycled, so the folder holds no deleted row. It holds the store for as long as the rewrite takes (a second
 * or two for a demo-sized folder), which an erasure, rare, can afford.
 *
 * On PostgreSQL nothing is done: a logical dump never contains dead rows, and rewriting a production
 * database's tables takes locks only its operator may schedule (docs/security.md says how).
 */
export async function reclaimDeletedRows(store: Pick<Store, 'driver' | 'query'>): Promise<boolean> {
  if (store.driver !== 'pglite') return false;
  // One statement per call: VACUUM refuses to run inside a transaction block, which several statements form.
  await store.query('VACUUM FULL');
  await store.query('SET wal_recycle = off');
  // Two switches: the segment that held the rows, then the one a checkpoint may still need.
  for (let round = 0; round < 2; round += 1) {
    await store.query('SELECT pg_switch_wal()');
    await store.query('CHECKPOINT');
  }
  return true;
}
