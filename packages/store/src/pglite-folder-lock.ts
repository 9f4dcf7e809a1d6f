import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

/** The PGlite folder is open in another process (or already in this one): opening it again would corrupt it. */
export class StoreInUseError extends Error {
  constructor(
    readonly folder: string,
    /** The process that holds it, when the lock file names one. */
    readonly pid: number | undefined,
    readonly lockFile: string,
  ) {
    super(
      `PGlite in ${folder} is in use by ${pid === undefined ? 'another process' : `process ${pid}`}: ` +
        'one process at a time may open it (use PostgreSQL, DATABASE_URL, to run several); ' +
        `if no Tessera process runs, delete ${lockFile}`,
    );
    this.name = 'StoreInUseError';
  }
}

interface LockOwner {
  pid: number;
  host: string;
}

/** Lock files this process holds: a second open of the same folder in one process is refused too. */
const heldHere = new Set<string>();

function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string'
      ? { pid: owner.pid, host: owner.host }
      : undefined;
  } catch {
    // Being written right now, or unreadable: treated as held, never taken over.
    return undefined;
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the owner named in the lock file may still have the folder open. */
function stillHeld(owner: LockOwner | undefined, file: string): boolean {
  if (owner === undefined) return true;
  // Another host (a shared volume) cannot be checked from here: assume it is alive.
  if (owner.host !== hostname()) return true;
  // This very pid: in a container the previous run was often pid 1 too; it is ours only if we took it.
  if (owner.pid === process.pid) return heldHere.has(file);
  return processIsAlive(owner.pid);
}

/**
 * PGlite has no lock of its own: a second process opening the same folder succeeds and both then write the
 * same files. This lock file (`<folder>.lock`, beside the folder so PGlite's own files stay untouched) names
 * the owning process; a file left by a process that is gone (killed, crashed) is taken over.
 */
export class PgliteFolderLock {
  private released = false;

  private constructor(readonly file: string) {}

  static acquire(folder: string): PgliteFolderLock {
    const file = `${folder}.lock`;
    let owner: LockOwner | undefined;
    // Twice at most: once as is, once after removing a stale file.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const descriptor = openSync(file, 'wx', 0o600);
        try {
          writeSync(descriptor, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date() }));
        } finally {
          closeSync(descriptor);
        }
        heldHere.add(file);
        return new PgliteFolderLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      owner = readOwner(file);
      if (stillHeld(owner, file)) break;
      rmSync(file, { force: true });
    }
    throw new StoreInUseError(folder, owner?.pid, file);
  }

  /** Removes the lock file if it still names this process; calling it again does nothing. */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.file);
    const owner = readOwner(this.file);
    if (owner?.pid === process.pid && owner.host === hostname()) rmSync(this.file, { force: true });
  }
}
