import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from './open-store';
import { PgliteFolderLock, StoreInUseError } from './pglite-folder-lock';

describe('PgliteFolderLock', () => {
  let dir: string;
  let folder: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-lock-'));
    folder = join(dir, 'pglite');
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes <folder>.lock naming this process, refuses a second holder, and frees the folder on release', () => {
    const lock = PgliteFolderLock.acquire(folder);
    expect(JSON.parse(readFileSync(`${folder}.lock`, 'utf8'))).toMatchObject({
      pid: process.pid,
      host: hostname(),
    });
    expect(() => PgliteFolderLock.acquire(folder)).toThrow(StoreInUseError);

    lock.release();
    lock.release();
    expect(existsSync(`${folder}.lock`)).toBe(false);
    PgliteFolderLock.acquire(folder).release();
  });

  it('refuses a folder another live process holds, naming that process and the lock file', async () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => undefined, 30000)'], { stdio: 'ignore' });
    try {
      const pid = other.pid as number;
      writeFileSync(`${folder}.lock`, JSON.stringify({ pid, host: hostname(), since: new Date() }));
      let error: unknown;
      try {
        PgliteFolderLock.acquire(folder);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(StoreInUseError);
      expect((error as StoreInUseError).pid).toBe(pid);
      expect((error as Error).message).toBe(
        `PGlite in ${folder} is in use by process ${pid}: one process at a time may open it ` +
          `(use PostgreSQL, DATABASE_URL, to run several); if no Tessera process runs, delete ${folder}.lock`,
      );
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('takes over a lock file left by a process that is gone', () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const pid = Number(gone.stdout.toString());
    writeFileSync(`${folder}.lock`, JSON.stringify({ pid, host: hostname(), since: new Date() }));

    const lock = PgliteFolderLock.acquire(folder);
    expect(JSON.parse(readFileSync(`${folder}.lock`, 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it('keeps a store opened on the folder to itself until it is closed', async () => {
    const first = await openStore({ dataDir: dir });
    try {
      await expect(openStore({ dataDir: dir })).rejects.toBeInstanceOf(StoreInUseError);
      expect(await first.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await first.close();
    }
    const second = await openStore({ dataDir: dir });
    await second.close();
    await second.close();
  }, 60_000);
});
