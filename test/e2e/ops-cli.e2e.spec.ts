import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { BrazeEmulator } from '@tessera/destination-braze';
import {
  EspSandbox,
  type EmulatorTools,
  type SandboxRequest,
  type SandboxResponse,
} from '@tessera/destination-kit';
import { KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { DestinationStateBook } from '@tessera/pipeline';
import { deliverQueueName, JobQueue } from '@tessera/queues';
import { newWebhookSecret } from '@tessera/runtime';
import { PostgresStore } from '@tessera/store';
import { deleteKeysWithPrefix, signedHeaders, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { createScratchDatabase, waitFor, writeSportsWorkspace } from '../support/pipeline-fixture';
import { REPO_ROOT, startTessera, type TesseraProcess } from '../support/tessera-process';

// The operator's command line (`npm run ops -- …`) run as a child process, exactly as the npm script runs it,
// against the all-in-one process on a PostgreSQL database the test shares, with the ESPs emulated here.

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm run ops -- <args>` as its script does (node + swc), with the deployment's environment. */
function runOps(args: readonly string[], env: Record<string, string>): Promise<CliRun> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/ops/src/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Braze, refusing (as a per-item error of /users/track) the members the test names. */
class RefusingBraze extends BrazeEmulator {
  readonly refused = new Set<string>();

  override handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    if (request.path !== '/users/track') return super.handle(request, tools);
    const body = JSON.parse(request.rawBody.toString('utf8')) as {
      attributes?: { external_id?: string; email?: string }[];
    };
    const attributes = body.attributes ?? [];
    const refused = attributes.flatMap((object, index) =>
      this.refused.has(object.external_id ?? '') ? [{ index, email: object.email ?? '' }] : [],
    );
    if (refused.length === 0) return super.handle(request, tools);
    const kept = attributes.filter((_, index) => !refused.some((entry) => entry.index === index));
    if (kept.length > 0) {
      super.handle(
        { ...request, rawBody: Buffer.from(JSON.stringify({ ...body, attributes: kept })) },
        tools,
      );
    }
    return {
      status: 201,
      headers: { 'content-type': 'application/json' },
      body: {
        message: 'success',
        attributes_processed: kept.length,
        // Braze echoes what it refused; the dead letter must keep it masked.
        errors: refused.map(({ index, email }) => ({
          type: `refused ${email}`,
          input_array: 'attributes',
          index,
        })),
      },
    };
  }
}

describe('npm run ops', () => {
  const secret = newWebhookSecret();
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-ops-'));
  const redis = new Redis(TEST_REDIS_URL);
  const braze = new RefusingBraze();
  const klaviyo = new KlaviyoEmulator();
  const sandbox = new EspSandbox([braze, klaviyo], { limitsLifted: true });
  const actor = `ops-cli:${userInfo().username}`;
  let database: { url: string; drop(): Promise<void> };
  let store: PostgresStore;
  let tessera: TesseraProcess;
  let env: Record<string, string>;
  let sequence = 0;

  beforeAll(async () => {
    database = await createScratchDatabase('ops');
    const root = await sandbox.listen();
    const workspaceFile = writeSportsWorkspace(dataDir, secret, [
      { type: 'braze', settings: { apiKey: 'braze-e2e', baseUrl: `${root}/braze` } },
      { type: 'klaviyo', settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo` } },
    ]);
    env = {
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      TESSERA_WORKSPACE_FILE: workspaceFile,
      TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
      TESSERA_DEMO: 'off',
      // The sandbox on loopback stands in for the ESPs, for the commands as for the process.
      TESSERA_ALLOWED_DESTINATION_HOSTS: '127.0.0.1',
    };
    tessera = await startTessera(env);
    store = new PostgresStore(database.url, { maxConnections: 2 });
  }, 60_000);

  afterAll(async () => {
    await tessera?.stop();
    await store?.close();
    await sandbox.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function send(customerIds: string[]): Promise<void> {
    const events = customerIds.map((customerId) => ({
      specversion: '1.0',
      id: `e-${++sequence}`,
      source: 'https://loyalty.example.com',
      type: 'points.updated',
      time: new Date().toISOString(),
      data: {
        customer_id: customerId,
        email: `${customerId.toLowerCase()}@example.com`,
        delta: 1,
        new_balance: sequence,
        reason: 'purchase',
      },
    }));
    const body = JSON.stringify(events);
    const response = await fetch(`${tessera.baseUrl}/v1/sources/sd-loyalty/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json', ...signedHeaders(secret, body) },
      body,
    });
    expect(response.status).toBe(202);
  }

  const ops = (...args: string[]) => runOps(args, env);
  const json = <T>(run: CliRun): T => {
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    return JSON.parse(run.stdout) as T;
  };
  const atBraze = (id: string) => braze.user(id) !== undefined;
  const atKlaviyo = (id: string) => klaviyo.findProfile({ externalId: id }) !== undefined;
  const count = async (sql: string, params: unknown[] = []) =>
    (await store.query<{ n: number }>(sql, params))[0]?.n ?? -1;

  it('finds a refused item’s dead letter by its filters, shows it masked, and replays it exactly once', async () => {
    braze.refused.add('BAD');
    await send(['GOOD', 'BAD']);
    await waitFor(
      () => count(`SELECT count(*)::int AS n FROM dead_letters WHERE destination_id = 'sd-braze'`),
      (n) => n === 1,
      'the refused item dead-lettered',
    );

    const listed = json<{ id: number; customerId: string; errorClass: string }[]>(
      await ops('dead-letters', 'list', '--destination', 'sd-braze', '--error-class', 'rejected', '--json'),
    );
    expect(listed).toMatchObject([{ customerId: 'BAD', errorClass: 'rejected' }]);
    const id = listed[0]?.id as number;
    expect(json(await ops('dead-letters', 'list', '--error-class', 'validation', '--json'))).toEqual([]);
    expect(
      json(await ops('dead-letters', 'list', '--brand', 'sd', '--error', 'REFUSED', '--json')),
    ).toMatchObject([{ id }]);
    expect(json(await ops('dead-letters', 'count', '--json'))).toEqual([
      { destinationId: 'sd-braze', letters: 1 },
    ]);

    const shown = await ops('dead-letters', 'show', String(id));
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('error:        Braze: refused [email]\n');
    expect(shown.stdout).toContain('customer:     BAD\n');
    expect(shown.stdout).not.toContain('bad@example.com');

    braze.refused.clear(); // the ESP side was fixed
    const replay = await ops('dead-letters', 'replay', String(id));
    expect(replay).toEqual({
      code: 0,
      stdout: 'replayed 1 item; 0 already delivered (closed, nothing sent)\n',
      stderr: '',
    });
    await waitFor(() => atBraze('BAD'), Boolean, 'BAD at Braze after the replay');

    const again = json<{ replayed: number; alreadyDelivered: number; notWaiting: { id: number }[] }>(
      await ops('dead-letters', 'replay', String(id), '--json'),
    );
    expect(again).toMatchObject({ replayed: 0, alreadyDelivered: 0, notWaiting: [{ id }] });
    expect(json(await ops('dead-letters', 'replay', '--all', '--json'))).toEqual({
      replayed: 0,
      alreadyDelivered: 0,
      notSent: { erased: 0, suppressed: 0 },
      notWaiting: [],
      skipped: [],
    });
    expect(
      await count(
        `SELECT count(*)::int AS n FROM audit_log WHERE actor = $1 AND action = 'dead_letters.replayed'`,
        [actor],
      ),
    ).toBe(1);
  }, 90_000);

  it('pauses a destination the running worker honours within 5 seconds, and resumes it', async () => {
    const paused = await ops('destinations', 'pause', 'sd-braze', '--reason', 'ESP maintenance');
    expect(paused).toEqual({
      code: 0,
      stdout: `sd-braze paused (ESP maintenance): now paused, by ${actor}; running workers apply it within 5 seconds\n`,
      stderr: '',
    });
    const queue = new JobQueue('deliver', redis, prefix, deliverQueueName('sd-braze'));
    try {
      await waitFor(() => queue.queue.isPaused(), Boolean, 'the deliver queue paused', 5_000);
    } finally {
      await queue.close();
    }
    await send(['P1']);
    await waitFor(() => atKlaviyo('P1'), Boolean, 'P1 at Klaviyo');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(atBraze('P1')).toBe(false);
    expect(json(await ops('destinations', 'list', '--json'))).toMatchObject([
      { id: 'sd-braze', state: 'paused', reason: 'ESP maintenance', changedBy: actor, deployed: true },
      { id: 'sd-klaviyo', state: 'enabled', deployed: true },
    ]);

    expect((await ops('destinations', 'resume', 'sd-braze')).code).toBe(0);
    await waitFor(() => atBraze('P1'), Boolean, 'P1 at Braze after the resume', 8_000);
    expect(
      await count(
        `SELECT count(*)::int AS n FROM audit_log WHERE actor = $1 AND action LIKE 'destination.%'`,
        [actor],
      ),
    ).toBe(2);
  }, 60_000);

  it('rehydrates a customer’s stored events through routing and delivery', async () => {
    const logged = () =>
      count(
        `SELECT count(*)::int AS n FROM delivery_log WHERE customer_id = 'GOOD' AND destination_id = 'sd-klaviyo'`,
      );
    const before = await logged();
    const run = await ops('rehydrate', '--customer', 'GOOD');
    expect(run).toEqual({ code: 0, stdout: 'queued 1 event for routing and delivery\n', stderr: '' });
    await waitFor(logged, (n) => n > before, 'a new delivery of GOOD');
  }, 30_000);

  it('refuses bad input with the exact message and exit code 2, and changes nothing', async () => {
    const states = new DestinationStateBook(store);
    const fingerprint = await states.fingerprint();
    const audited = await count('SELECT count(*)::int AS n FROM audit_log');
    const hint = '`npm run ops -- help` lists the commands and their options\n';

    expect(await ops('frobnicate')).toEqual({
      code: 2,
      stdout: '',
      stderr: `ops: unknown command "frobnicate" (commands: dead-letters, destinations, sources, rehydrate, help)\n${hint}`,
    });
    expect(await ops('dead-letters', 'replay', '--error-class', 'bogus')).toEqual({
      code: 2,
      stdout: '',
      stderr: `ops: --error-class must be one of validation, auth, retryable, rejected, got "bogus"\n${hint}`,
    });
    expect(await ops('destinations', 'pause', 'nope', '--reason', 'typo')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'ops: unknown destination "nope" (known: sd-braze, sd-klaviyo)\n',
    });
    expect(await ops('sources', 'hold', 'nope')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'ops: unknown source "nope" (known: sd-loyalty)\n',
    });

    expect(await states.fingerprint()).toBe(fingerprint);
    expect(await count('SELECT count(*)::int AS n FROM audit_log')).toBe(audited);
  }, 60_000);
});

describe('npm run ops on the embedded store', () => {
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-ops-pglite-'));
  const redis = new Redis(TEST_REDIS_URL);
  const env = {
    REDIS_URL: TEST_REDIS_URL,
    TESSERA_REDIS_PREFIX: prefix,
    TESSERA_DATA_DIR: dataDir,
    TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
    TESSERA_DEMO: 'off',
  };

  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('says PGlite is in use while `npm start` runs (exit 2), and works once it stopped', async () => {
    const tessera = await startTessera(env);
    let run: CliRun;
    try {
      run = await runOps(['destinations', 'list'], env);
    } finally {
      await tessera.stop();
    }
    const folder = join(dataDir, 'pglite');
    expect(run).toEqual({
      code: 2,
      stdout: '',
      stderr:
        `ops: the embedded store (PGlite in ${folder}) is in use by process ${tessera.child.pid}, most likely ` +
        '`npm start` or `npm run worker`; PGlite allows one process at a time. Stop that process and run the ' +
        'command again, or run Tessera on PostgreSQL (DATABASE_URL) to operate it while it runs. ' +
        `If no Tessera process runs, delete ${folder}.lock.\n`,
    });

    expect(await runOps(['destinations', 'list'], env)).toEqual({
      code: 0,
      stdout: 'no destinations\n',
      stderr: '',
    });
  }, 90_000);
});
