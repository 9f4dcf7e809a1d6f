import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import Redis from 'ioredis';
import { Registry } from 'prom-client';
import {
  AuditLog,
  ConsentGate,
  ConsentLedger,
  DEFAULT_RETENTION_POLICY,
  StoreConsentStateReader,
  SuppressionList,
} from '@tessera/consent';
import { KeyRing } from '@tessera/crypto';
import {
  AllowedDestinationHosts,
  CaptureEmulator,
  EspSandbox,
  type SandboxRequest,
  type SandboxResponse,
} from '@tessera/destination-kit';
import type { CatalogEvent } from '@tessera/events';
import { IdentityGraph } from '@tessera/identity-graph';
import { JobQueue, QUEUE_PAYLOAD_KEY_PURPOSE, type IngestedEvent } from '@tessera/queues';
import { openScratchStore, PiiVault, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import {
  PipelineMetrics,
  PipelineWorker,
  type PipelineDestination,
  type PipelineWorkerOptions,
} from '../../src';

/**
 * A PipelineWorker on the real PostgreSQL and Redis, delivering to a capture server on loopback (allowed to its
 * destinations as TESSERA_ALLOWED_DESTINATION_HOSTS would).
 */
export interface TestPipeline {
  worker: PipelineWorker;
  store: Store;
  redis: Redis;
  prefix: string;
  masterKey: Buffer;
  /** The capture server's sandbox: its `stats('capture')` count what the destinations were sent. */
  sandbox: EspSandbox;
  close(): Promise<void>;
}

/**
 * Starts the pipeline the medium specs share: one brand `sd`, the destinations `destinationsAt(root)` names
 * (their base URLs below the capture server's root), `capture` answering their requests. `start: false` leaves
 * the stage workers unstarted (a spec queues a backlog first, then calls `worker.start()`).
 */
export async function startTestPipeline(options: {
  capture: (request: SandboxRequest) => SandboxResponse;
  destinationsAt: (root: string) => PipelineDestination[];
  start?: boolean;
  /** Worker options of the spec's own (a poll interval, say). */
  worker?: Partial<
    Pick<PipelineWorkerOptions, 'inboundPollMs' | 'stateRefreshMs' | 'allowedDestinationHosts'>
  >;
}): Promise<TestPipeline> {
  const masterKey = randomBytes(32);
  const prefix = uniqueRedisPrefix();
  const store = await openScratchStore('postgres');
  const redis = new Redis(TEST_REDIS_URL);
  const sandbox = new EspSandbox([new CaptureEmulator(options.capture)], { limitsLifted: true });
  const root = `${await sandbox.listen()}/capture`;
  const vault = new PiiVault([masterKey]);
  const gate = new ConsentGate({ reader: new StoreConsentStateReader(store), redis, prefix });
  await gate.start();
  const worker = new PipelineWorker({
    redis,
    redisUrl: TEST_REDIS_URL,
    prefix,
    masterKeys: [masterKey],
    store,
    vault,
    graph: new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] }),
    ledger: new ConsentLedger(store),
    suppressions: new SuppressionList(store),
    gate,
    audit: new AuditLog(store),
    brands: [{ id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' }],
    destinations: options.destinationsAt(root),
    metrics: new PipelineMetrics(new Registry()),
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    exportDir: tmpdir(),
    retention: DEFAULT_RETENTION_POLICY,
    // The capture server on loopback stands in for the ESPs (a spec may allow less).
    allowedDestinationHosts: AllowedDestinationHosts.none.with(root),
    ...options.worker,
  });
  if (options.start !== false) await worker.start();
  return {
    worker,
    store,
    redis,
    prefix,
    masterKey,
    sandbox,
    close: async () => {
      await worker.close();
      await gate.close();
      await sandbox.close();
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
      await store.close();
    },
  };
}

/** A `points.updated` of one customer, as the intake accepts it from `sourceId`. */
export function pointsEvent(
  sourceId: string,
  customerId: string,
  id = `${sourceId}-${customerId}`,
): IngestedEvent {
  return {
    sourceId,
    brand: 'sd',
    receivedAt: new Date().toISOString(),
    event: {
      specversion: '1.0',
      id,
      source: 'https://loyalty.example.com',
      type: 'points.updated',
      time: new Date().toISOString(),
      data: { customer_id: customerId, delta: 1, new_balance: 10, reason: 'purchase' },
    } as unknown as CatalogEvent,
  };
}

/** Queues one resolve job per event (what a trickle of single-event requests leaves), `gapMs` apart. */
export async function queueOneJobPerEvent(
  pipeline: Pick<TestPipeline, 'redis' | 'prefix' | 'masterKey'>,
  events: readonly IngestedEvent[],
  gapMs = 0,
): Promise<void> {
  const queue = new JobQueue('resolve', pipeline.redis, pipeline.prefix);
  const keyRing = new KeyRing([pipeline.masterKey], QUEUE_PAYLOAD_KEY_PURPOSE);
  try {
    for (const event of events) {
      const jobId = `events-${event.sourceId}-${event.event.id}`;
      await queue.add('resolve.events', { count: 1, events: keyRing.sealJson([event], jobId) }, jobId);
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  } finally {
    await queue.close();
  }
}
