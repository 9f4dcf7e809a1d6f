import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { BrazeEmulator } from '@tessera/destination-braze';
import {
  EspSandbox,
  type EmulatorTools,
  type SandboxRequest,
  type SandboxResponse,
} from '@tessera/destination-kit';
import { newWebhookSecret } from '@tessera/runtime';
import { deleteKeysWithPrefix, signedHeaders, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { createScratchDatabase, waitFor, writeSportsWorkspace } from '../support/pipeline-fixture';
import { startEntry, type TesseraProcess } from '../support/tessera-process';

// Scale-out as documented: one ingest process and two worker processes on one Redis and one PostgreSQL. A
// worker is killed (SIGKILL) in the middle of 10,000 events: none is lost, and the ESP sees a member twice only
// if its delivery was in flight in the killed worker.

/** Braze's emulator, counting every attribute object it accepted per member. */
class CountingBraze extends BrazeEmulator {
  readonly received = new Map<string, number>();

  override handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    const response = super.handle(request, tools);
    if (request.path === '/users/track' && response.status < 300) {
      const body = JSON.parse(request.rawBody.toString('utf8')) as {
        attributes?: { external_id?: string }[];
      };
      for (const object of body.attributes ?? []) {
        if (object.external_id !== undefined) {
          this.received.set(object.external_id, (this.received.get(object.external_id) ?? 0) + 1);
        }
      }
    }
    return response;
  }
}

describe('scale-out: separate ingest and worker processes', () => {
  const EVENTS = 10_000;
  const secret = newWebhookSecret();
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-scale-'));
  let database: { url: string; drop(): Promise<void> };
  const redis = new Redis(TEST_REDIS_URL);
  const braze = new CountingBraze();
  const sandbox = new EspSandbox([braze], { limitsLifted: true });
  const processes: TesseraProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createScratchDatabase('scale');
    const root = await sandbox.listen();
    const workspaceFile = writeSportsWorkspace(dataDir, secret, [
      // In full without a grant: the points of these consentless customers are what is delivered and counted.
      { type: 'braze', settings: { apiKey: 'braze-e2e', baseUrl: `${root}/braze`, withoutGrant: 'full' } },
    ]);
    env = {
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      TESSERA_WORKSPACE_FILE: workspaceFile,
      TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
      TESSERA_DEMO: 'off',
      TESSERA_SOURCE_RATE_LIMIT: '100000',
    };
  }, 30_000);

  afterAll(async () => {
    for (const child of processes) await child.stop();
    await sandbox.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('two workers share the work; a kill -9 of one loses no event and duplicates at most those in flight', async () => {
    const ingest = await startEntry('apps/ingest/src/main.ts', env, 'ingest');
    processes.push(ingest);
    const first = await startEntry('apps/worker/src/main.ts', env, 'health');
    processes.push(first);
    const second = await startEntry('apps/worker/src/main.ts', env, 'health');
    processes.push(second);

    let sent = 0;
    const sendBatch = async (from: number, count: number) => {
      const events = Array.from({ length: count }, (_, offset) => {
        const n = from + offset;
        return {
          specversion: '1.0',
          id: `k-${n}`,
          source: 'https://loyalty.example.com',
          type: 'points.updated',
          time: new Date().toISOString(),
          data: { customer_id: `K${n}`, delta: 1, new_balance: n, reason: 'purchase' },
        };
      });
      const body = JSON.stringify(events);
      const response = await fetch(`${ingest.baseUrl}/v1/sources/sd-loyalty/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents-batch+json', ...signedHeaders(secret, body) },
        body,
      });
      expect(response.status).toBe(202);
      sent += count;
    };

    for (let from = 0; from < EVENTS / 2; from += 500) await sendBatch(from, 500);
    // Mid-run: the first worker dies without a chance to finish anything.
    await waitFor(
      () => braze.received.size,
      (count) => count > 500,
      'deliveries under way',
      30_000,
    );
    first.child.kill('SIGKILL');
    for (let from = EVENTS / 2; from < EVENTS; from += 500) await sendBatch(from, 500);
    expect(sent).toBe(EVENTS);

    // Jobs the dead worker held come back after BullMQ's stalled check (30 s).
    await waitFor(
      () => braze.received.size,
      (count) => count === EVENTS,
      'every member at Braze',
      150_000,
    );
    const duplicates = [...braze.received.values()].filter((count) => count > 1).length;
    // At most the items of the deliver jobs in flight in the killed worker (2 jobs of ≤ 1,000 items each).
    expect(duplicates).toBeLessThanOrEqual(2_000);
    const health = await fetch(`${second.baseUrl}/healthz`);
    expect(health.status).toBe(200);
  }, 240_000);
});
