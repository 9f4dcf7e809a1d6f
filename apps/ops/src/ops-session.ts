import { userInfo } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import {
  AuditLog,
  ConsentGate,
  ConsentLedger,
  parseRetentionSetting,
  StoreConsentStateReader,
  SuppressionList,
} from '@tessera/consent';
import { adoptStoredWorkspace, deploymentDestinations } from '@tessera/destination-registry';
import { pipelineDestinationOf } from '@tessera/worker';
import { IdentityGraph } from '@tessera/identity-graph';
import { PipelineMetrics, PipelineOperations, PipelineWorker } from '@tessera/pipeline';
import {
  bootRuntime,
  createLogger,
  destinationHostAllowance,
  LOG_LEVELS,
  type LogLevel,
  type TesseraRuntime,
} from '@tessera/runtime';
import { PiiVault } from '@tessera/store';

/** The pipeline's operations, on the deployment's store and Redis, and how to let go of them. */
export interface OpsSession {
  operations: PipelineOperations;
  close(): Promise<void>;
}

/** Who the audit log and the state book record for this command: `ops-cli:<os user>`. */
export function opsActor(env: Record<string, string | undefined>): string {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers).
    user = env['USER'] ?? env['LOGNAME'];
  }
  return `ops-cli:${user === undefined || user === '' ? 'unknown' : user}`;
}

/**
 * Boots exactly what a worker boots (the same settings, checks, workspace, store and Redis) and builds the
 * pipeline's worker without starting it: the command uses its repositories and queues, never its stage workers.
 * Logs go to stderr, warnings and above unless LOG_LEVEL says otherwise: stdout carries the result.
 */
export async function openOpsSession(
  env: Record<string, string | undefined>,
  stderr: NodeJS.WritableStream,
): Promise<OpsSession> {
  const level = LOG_LEVELS.includes(env['LOG_LEVEL'] as LogLevel) ? (env['LOG_LEVEL'] as LogLevel) : 'warn';
  const logger = createLogger(level, stderr);
  const runtime: TesseraRuntime = await bootRuntime({ env, logger });
  const redis = new Redis(runtime.redis.url, { maxRetriesPerRequest: 1, connectionName: 'tessera-ops' });
  redis.on('error', (error: Error) => logger.warn({ error: error.message }, 'redis connection error'));
  let worker: PipelineWorker | undefined;
  try {
    runtime.workspace = await adoptStoredWorkspace(runtime);
    const { store, settings, workspace } = runtime;
    const vault = new PiiVault(runtime.masterKeys);
    // Rules and plugins run in the route stage of the workers, never here.
    const allowedHosts = destinationHostAllowance(settings);
    const destinations = deploymentDestinations(workspace, settings.destinations, allowedHosts).map(
      (destination) => pipelineDestinationOf({ ...destination, plugins: [] }),
    );
    const gate = new ConsentGate({
      reader: new StoreConsentStateReader(store),
      redis,
      prefix: settings.redisPrefix,
    });
    const audit = new AuditLog(store);
    worker = new PipelineWorker({
      redis,
      redisUrl: runtime.redis.url,
      prefix: settings.redisPrefix,
      masterKeys: runtime.masterKeys,
      store,
      vault,
      graph: new IdentityGraph({
        store,
        vault,
        brands: workspace.brands.map((brand) => ({ id: brand.id, defaultCountry: brand.defaultCountry })),
      }),
      ledger: new ConsentLedger(store),
      suppressions: new SuppressionList(store),
      gate,
      audit,
      brands: workspace.brands,
      destinations,
      allowedDestinationHosts: allowedHosts,
      metrics: new PipelineMetrics(new Registry()),
      exportDir: join(settings.dataDir, 'exports'),
      retention: parseRetentionSetting(env['TESSERA_RETENTION']),
      logger: {
        info: (detail, message) => logger.info(detail, message),
        warn: (detail, message) => logger.warn(detail, message),
        error: (detail, message) => logger.error(detail, message),
      },
    });
    const operations = new PipelineOperations({
      worker,
      store,
      audit,
      brands: workspace.brands,
      sources: workspace.sources,
      actor: opsActor(env),
    });
    const opened = worker;
    return {
      operations,
      async close() {
        await opened.close();
        await release(runtime, redis);
      },
    };
  } catch (error) {
    await worker?.close().catch(() => undefined);
    await release(runtime, redis);
    throw error;
  }
}

async function release(runtime: TesseraRuntime, redis: Redis): Promise<void> {
  await redis.quit().catch(() => redis.disconnect());
  await runtime.redis.stop?.();
  await runtime.store.close().catch(() => undefined);
}
