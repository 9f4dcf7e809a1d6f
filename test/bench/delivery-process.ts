/**
 * The all-in-one process `npm run bench:delivery` runs: started as `npm start` starts it, with the demo workspace
 * (on PostgreSQL, the same workspace from a file and the demo's sandbox configuration applied through the
 * sandbox's control API), and the console API calls the bench makes on it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type Redis from 'ioredis';
import {
  DEMO_CREDENTIALS_FILE,
  DEMO_SANDBOX_CONFIG,
  ensureDemoWorkspace,
  type DemoCredentials,
} from '@tessera/runtime';
import type { PostgresStore } from '@tessera/store';
import { TEST_REDIS_URL } from '@tessera/testing';
import { startTessera, type TesseraProcess } from '../support/tessera-process';
import { sandboxStats, type EspStats, type PipelineProbe } from './delivery-figures';
import type { DemoDestination } from './delivery-report';
import type { IntakeTarget } from './delivery-traffic';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** VmRSS of a process, in bytes (0 once it is gone). */
function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

/** The process's warnings and errors, by message (and error), most frequent first. */
export function processLogSummary(output: string): string[] {
  const counts = new Map<string, number>();
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { level?: number; msg?: string; error?: string; reason?: string; destinationId?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if ((entry.level ?? 0) < 40) continue;
    const cause = (entry.error ?? entry.reason ?? '').replace(/\d+(\.\d+)?/g, 'N').slice(0, 140);
    const key = `${(entry.level ?? 0) >= 50 ? 'error' : 'warn'}: ${entry.msg ?? ''}${entry.destinationId === undefined ? '' : ` (${entry.destinationId})`}${cause === '' ? '' : ` — ${cause}`}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([key, count]) => `${count} × ${key.replace(/\|/g, '\\|')}`);
}

export interface Running {
  tessera: TesseraProcess;
  baseUrl: string;
  adminKey: string;
  destinations: DemoDestination[];
  target: IntakeTarget;
  probe: PipelineProbe;
  rss: Array<[number, number]>;
}

async function consoleApi<T>(
  running: Pick<Running, 'baseUrl' | 'adminKey'>,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${running.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${running.adminKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

/**
 * Sets `windowMs` on every destination through the console API (null: back to the default) and waits until
 * the worker has reloaded each of them (its `workspace reloaded` log line names them).
 */
export async function setWindows(running: Running, windowMs: number | null): Promise<void> {
  const offset = running.tessera.output().length;
  for (const destination of running.destinations)
    await consoleApi(running, 'PATCH', `/v1/destinations/${destination.id}`, { settings: { windowMs } });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const reconfigured = new Set<string>();
    for (const line of running.tessera.output().slice(offset).split('\n')) {
      if (!line.includes('"workspace reloaded"')) continue;
      for (const id of (JSON.parse(line) as { reconfigured?: string[] }).reconfigured ?? [])
        reconfigured.add(id);
    }
    if (running.destinations.every((destination) => reconfigured.has(destination.id))) return;
    await sleep(250);
  }
  throw new Error(`the worker did not reload the destinations with windowMs ${windowMs} within 30 s`);
}

export async function allStats(running: Running): Promise<Map<string, EspStats>> {
  const stats = new Map<string, EspStats>();
  for (const { esp } of running.destinations) stats.set(esp, await sandboxStats(running.baseUrl, esp));
  return stats;
}

/** Starts the all-in-one process with the demo workspace; resolves once it answers, with what the bench needs. */
export async function startDemoProcess(
  dataDir: string,
  prefix: string,
  redis: Redis,
  database: PostgresStore | undefined,
  say: (line: string) => void,
): Promise<Running> {
  const port = await freePort();
  const processEnv: Record<string, string> = {
    REDIS_URL: TEST_REDIS_URL,
    TESSERA_REDIS_PREFIX: prefix,
    TESSERA_DATA_DIR: dataDir,
    PORT: String(port),
    LOG_LEVEL: 'info',
  };
  if (database !== undefined) {
    // The demo workspace is the embedded start's: on PostgreSQL the same workspace comes from a file.
    const demo = ensureDemoWorkspace(dataDir, { port });
    const file = join(dataDir, 'demo-workspace.json');
    writeFileSync(file, JSON.stringify(demo.workspace));
    Object.assign(processEnv, { DATABASE_URL: database.connectionString, TESSERA_WORKSPACE_FILE: file });
  }
  // BENCH_DELIVERY_CPU_PROF=<folder> profiles the process (every thread, PGlite's included) to find the bottleneck.
  const profileDir = process.env.BENCH_DELIVERY_CPU_PROF;
  const nodeArgs = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const tessera = await startTessera(processEnv, nodeArgs, 120_000);
  const baseUrl = tessera.baseUrl;
  const credentials = JSON.parse(
    readFileSync(join(dataDir, DEMO_CREDENTIALS_FILE), 'utf8'),
  ) as DemoCredentials & {
    adminApiKey?: string;
  };
  const adminFile = join(dataDir, 'admin-credentials.json');
  const adminKey =
    credentials.adminApiKey ??
    (existsSync(adminFile)
      ? (JSON.parse(readFileSync(adminFile, 'utf8')) as { adminApiKey: string }).adminApiKey
      : '');
  const listed = await consoleApi<{ destinations: Array<{ id: string; type: string; state: string }> }>(
    { baseUrl, adminKey },
    'GET',
    '/v1/destinations',
  );
  const destinations = listed.destinations.map((destination) => ({
    id: destination.id,
    esp: destination.type,
  }));
  const sandbox = (await (await fetch(`${baseUrl}/sandbox`)).json()) as {
    esps: string[];
    limitsLifted: boolean;
  };
  if (sandbox.limitsLifted)
    throw new Error('the sandbox runs with its rate limits lifted: this bench needs them enforced');
  if (database !== undefined) {
    // The embedded demo configures its sandbox itself; with a workspace file the bench applies the same.
    for (const [esp, config] of Object.entries(DEMO_SANDBOX_CONFIG)) {
      const response = await fetch(`${baseUrl}/sandbox/${esp}/_sandbox/config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(config),
      });
      if (response.status !== 200)
        throw new Error(`PUT ${esp} sandbox config: ${response.status} ${await response.text()}`);
    }
  }
  const rss: Array<[number, number]> = [];
  const pid = tessera.child.pid ?? 0;
  const sampler = setInterval(() => rss.push([Date.now(), rssOf(pid)]), 250);
  tessera.child.once('exit', () => clearInterval(sampler));
  say(
    `all-in-one at ${baseUrl} on ${database === undefined ? 'pglite' : 'postgres'}; destinations ${destinations.map((d) => `${d.id} (${d.esp})`).join(', ')}; ` +
      `sandbox ${sandbox.esps.join(', ')}, rate limits enforced; demo sandbox configuration for: ${Object.keys(DEMO_SANDBOX_CONFIG).join(', ') || 'no ESP'}`,
  );
  return {
    tessera,
    baseUrl,
    adminKey,
    destinations,
    target: { baseUrl, secrets: new Map(credentials.sources.map((source) => [source.id, source.secret])) },
    probe: { baseUrl, redis, prefix, destinationIds: destinations.map((destination) => destination.id) },
    rss,
  };
}
