import { lstat, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { RetentionTarget } from './retention-job';

// Duck-typed rather than `instanceof Error`: fs errors can come from another realm (e.g. under jest).
function isErrorCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

/**
 * Retention for exports (DSR exports among them): the files directly in `dir` whose modification time is
 * before the cutoff are deleted, oldest first. Sub-folders, symbolic links and other non-regular entries
 * are left alone; a folder that does not exist holds nothing to purge.
 */
export class ExportFolderRetention implements RetentionTarget {
  readonly dataClass = 'exports' as const;
  readonly name: string;

  constructor(private readonly dir: string) {
    this.name = `export-folder:${dir}`;
  }

  async purgeOlderThan(cutoff: Date, limit: number): Promise<number> {
    let entries;
    try {
      entries = await readdir(this.dir, { withFileTypes: true });
    } catch (error) {
      if (isErrorCode(error, 'ENOENT')) return 0;
      throw error;
    }
    const due: { path: string; mtimeMs: number }[] = [];
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const path = join(this.dir, entry.name);
      try {
        const stats = await lstat(path);
        if (stats.isFile() && stats.mtimeMs < cutoff.getTime()) due.push({ path, mtimeMs: stats.mtimeMs });
      } catch (error) {
        if (!isErrorCode(error, 'ENOENT')) throw error;
      }
    }
    due.sort((a, b) => a.mtimeMs - b.mtimeMs);
    let purged = 0;
    for (const file of due.slice(0, limit)) {
      try {
        await unlink(file.path);
        purged += 1;
      } catch (error) {
        // Deleted by someone else meanwhile: not ours to count.
        if (!isErrorCode(error, 'ENOENT')) throw error;
      }
    }
    return purged;
  }
}
