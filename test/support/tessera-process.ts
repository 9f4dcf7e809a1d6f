import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..');

/**
 * The heap flags `npm start` gives Node (package.json's `start` script), read from there so that processes
 * started here run as the scripts run them.
 */
export const NODE_HEAP_FLAGS: readonly string[] = (
  (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts.start ?? ''
)
  .split(/\s+/)
  .filter((token) => /^--max-(old|semi)-space-size=\d+$/.test(token));

export interface TesseraProcess {
  baseUrl: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then the exit code (null if it had to be killed). */
  stop(): Promise<number | null>;
}

/** Runs the all-in-one entry exactly as `npm start` does, and resolves once it prints its URLs. */
export function startTessera(
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
  startTimeoutMs?: number,
): Promise<TesseraProcess> {
  return startEntry('apps/tessera/src/main.ts', env, 'ingest', nodeArgs, startTimeoutMs);
}

/**
 * Runs one app entry (`apps/ingest/src/main.ts`, `apps/worker/src/main.ts`, …) as its npm script does, and
 * resolves once it prints the URL labelled `label` (its base URL is taken from that line).
 */
export function startEntry(
  entry: string,
  env: Record<string, string>,
  label: string,
  /** Extra Node flags (a benchmark's `--cpu-prof`, say). */
  nodeArgs: readonly string[] = [],
  /** A fresh PGlite folder on a loaded machine can take longer than the default to open. */
  startTimeoutMs = 20_000,
): Promise<TesseraProcess> {
  const child = spawn(
    process.execPath,
    [...NODE_HEAP_FLAGS, ...nodeArgs, '-r', '@swc-node/register', entry],
    {
      cwd: REPO_ROOT,
      // The tests' own sandboxes and capture servers stand in for the ESPs on loopback (a test may allow less).
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        PORT: '0',
        TESSERA_ALLOWED_DESTINATION_HOSTS: '127.0.0.1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`tessera did not start in ${startTimeoutMs / 1000} s:\n${output}`)),
      startTimeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = new RegExp(`${label}\\s+(http:\\/\\/[^/\\s]+)\\/`).exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({
          baseUrl: match[1],
          child,
          output: () => output,
          async stop() {
            child.kill('SIGTERM');
            const timeout = setTimeout(() => child.kill('SIGKILL'), 10_000);
            const code = await exited;
            clearTimeout(timeout);
            return code;
          },
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`tessera exited with ${code} before it started:\n${output}`));
    });
  });
}

/** Runs the entry expecting it to refuse to start; resolves with its exit code and output. */
export function runTesseraExpectingFailure(
  env: Record<string, string>,
  entry = 'apps/tessera/src/main.ts',
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', entry], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      PORT: '0',
      TESSERA_ALLOWED_DESTINATION_HOSTS: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}
