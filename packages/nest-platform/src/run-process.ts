import { resolve } from 'node:path';
import type { DynamicModule, Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  bootRuntime,
  ConfigurationError,
  RedisUnavailableError,
  type TesseraRuntime,
} from '@tessera/runtime';
import { adoptStoredWorkspace } from '@tessera/destination-registry';
import { createHttpApp } from './http-app';

export interface ProcessDefinition {
  /** How the process introduces itself in logs. */
  name: string;
  /** The app's modules, or a choice of them by the validated settings (the all-in-one's sandbox). */
  modules: Array<Type | DynamicModule> | ((runtime: TesseraRuntime) => Array<Type | DynamicModule>);
  /** The paths this process serves, printed as URLs once it listens. */
  paths: (runtime: TesseraRuntime) => Array<[label: string, path: string]>;
}

/**
 * Boots a Tessera process: validated configuration, Redis, the app, and the URLs it serves. On SIGTERM or
 * SIGINT it drains: stops accepting, lets in-flight requests finish (their events reach Redis), closes
 * queues and connections, and exits 0; a second signal exits at once. The handlers are installed first,
 * so a signal during start-up is never the default (an abrupt kill).
 */
export async function runProcess(definition: ProcessDefinition): Promise<void> {
  // Filled in as start-up proceeds; the signal handler closes whatever exists by then.
  const started: { app?: NestFastifyApplication; runtime?: TesseraRuntime } = {};
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1);
    closing = true;
    started.runtime?.logger.info({ signal }, `${signal}: draining and shutting down`);
    const force = setTimeout(() => {
      started.runtime?.logger.error('shutdown took over 25 s; exiting');
      process.exit(1);
    }, 25_000);
    force.unref();
    const closed =
      started.app?.close() ??
      Promise.all([started.runtime?.redis.stop?.(), started.runtime?.store.close()]).then(() => undefined);
    closed.then(
      () => process.exit(0),
      (error: unknown) => {
        started.runtime?.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  let runtime: TesseraRuntime;
  try {
    runtime = await bootRuntime();
    started.runtime = runtime;
    // The store is the workspace's home: the file and the demo are applied to it, console changes kept.
    runtime.workspace = await adoptStoredWorkspace(runtime);
  } catch (error) {
    if (error instanceof ConfigurationError || error instanceof RedisUnavailableError) {
      process.stderr.write(`tessera: cannot start: ${error.message}\n`);
      await Promise.all([started.runtime?.redis.stop?.(), started.runtime?.store.close()]);
      process.exit(1);
    }
    throw error;
  }
  const { settings, logger } = runtime;
  let app: NestFastifyApplication;
  try {
    const modules =
      typeof definition.modules === 'function' ? definition.modules(runtime) : definition.modules;
    app = await createHttpApp(runtime, modules);
    // Modules check what only they understand when they start (the console's first admin key): before listening.
    await app.init();
  } catch (error) {
    // A module may check settings only it understands (TESSERA_DESTINATIONS against the registry).
    if (error instanceof ConfigurationError) {
      process.stderr.write(`tessera: cannot start: ${error.message}\n`);
      await Promise.all([runtime.redis.stop?.(), runtime.store.close()]);
      process.exit(1);
    }
    throw error;
  }
  started.app = app;
  try {
    await app.listen({ port: settings.port, host: settings.host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    process.stderr.write(
      `tessera: cannot start: PORT: cannot listen on ${settings.host}:${settings.port} (${code ?? (error as Error).message})\n`,
    );
    await app.close();
    process.exit(1);
  }
  if (closing) return;
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address !== null ? address.port : settings.port;
  const base = `http://${settings.host === '0.0.0.0' || settings.host === '::' ? 'localhost' : settings.host}:${port}`;
  const lines = definition.paths(runtime).map(([label, path]) => `  ${label.padEnd(22)} ${base}${path}`);
  lines.push(`  ${'store of record'.padEnd(22)} ${runtime.storeLocation}`);
  if (runtime.demoCredentialsFile !== undefined) {
    lines.push(`  ${'demo credentials'.padEnd(22)} ${runtime.demoCredentialsFile}`);
    lines.push(
      '',
      `demo: run \`${demoTrafficCommand(base, settings.dataDir)}\` in another terminal to send members and a live stream of events`,
    );
  }
  logger.info({ url: base, process: definition.name }, `${definition.name} is listening on ${base}`);
  process.stdout.write(`\nTessera ${definition.name} is running:\n${lines.join('\n')}\n\n`);
}

/** The demo traffic command for this process: its defaults (port 8080, `./.tessera`) need no options. */
function demoTrafficCommand(base: string, dataDir: string): string {
  const dataDirOption = dataDir === resolve('.tessera') ? '' : `TESSERA_DATA_DIR=${dataDir} `;
  const urlOption = base === 'http://127.0.0.1:8080' ? '' : ` -- --url ${base}`;
  return `${dataDirOption}npm run demo:traffic${urlOption}`;
}
