import {
  defineDestination,
  DestinationHarness,
  type ProfileMerge,
  type SandboxRequest,
  type SandboxResponse,
} from '@tessera/destination-kit';
import type { DeliveryItem } from '@tessera/queues';
import Redis from 'ioredis';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import {
  BUSY_RETRY_DELAY_MS,
  type DeadLetter,
  DeliverStage,
  type SettledItem,
} from './deliver-stage.service';
import { echoDestination } from '../../test/support/echo-destination';
import { RedisProfileVersionGuard } from './redis-profile-version-guard';

/**
 * A destination posting profiles to /profiles (batches of 2), subscriptions to /subscriptions and merges to
 * /merges (retried while the answer says they are cooling off, as Braze's are).
 */
const echo = echoDestination(2);
const testDestination = defineDestination<{ baseUrl: string; apiKey: string }>({
  ...echo,
  operations: {
    ...echo.operations,
    subscribe: {
      batchSize: 10,
      perform: async (items, { http }) => {
        await http.post('/subscriptions', items);
        return items.map(() => ({ status: 'ok' }));
      },
    },
    mergeProfiles: {
      batchSize: 10,
      perform: async (items, { http }) => {
        const response = await http.post<{ coolingOffMs?: number }>('/merges', items);
        const wait = response.body?.coolingOffMs;
        return items.map(() =>
          wait === undefined ? { status: 'ok' } : { status: 'retry', afterMs: wait, reason: 'cooling off' },
        );
      },
    },
  },
});

const NOW = Date.parse('2026-11-24T10:00:00Z');
const upsert = (customerId: string, version: number, attempts = 0, receivedAtMs = NOW): DeliveryItem => ({
  operation: {
    operation: 'upsertProfiles',
    item: { customerId, version, email: `${customerId}@example.com`, attributes: { version } },
  },
  itemKey: `${customerId}-${version}`,
  customerId,
  receivedAt: new Date(receivedAtMs).toISOString(),
  attempts,
});

const merge = (customerId: string, mergedCustomerId: string, attempts = 0): DeliveryItem => ({
  operation: {
    operation: 'mergeProfiles',
    item: {
      customerId,
      mergedCustomerId,
      mergedWasGuest: false,
      basis: 'deterministic',
      mergedAt: new Date(NOW).toISOString(),
    },
  },
  itemKey: `merge-${mergedCustomerId}-${customerId}`,
  customerId,
  receivedAt: new Date(NOW).toISOString(),
  attempts,
});

const redis = new Redis(TEST_REDIS_URL);
const prefix = uniqueRedisPrefix();
afterAll(async () => {
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

describe('DeliverStage', () => {
  let harness: DestinationHarness;
  let respond: (request: SandboxRequest) => SandboxResponse;
  let records: SettledItem[];
  let letters: DeadLetter[];
  let requeued: { items: DeliveryItem[]; delayMs: number; holder: string }[];
  let versions: RedisProfileVersionGuard;
  let authFailures: number;
  /** Merged-away ids whose merge the identity graph no longer holds; every batch's question, in order. */
  let undone: Set<string>;
  let mergeChecks: ProfileMerge[][];
  let stage: DeliverStage;

  beforeEach(async () => {
    respond = () => ({ status: 200, body: {} });
    harness = await DestinationHarness.start({
      definition: testDestination,
      settings: { apiKey: 'k' },
      respond: (request) => respond(request),
    });
    records = [];
    letters = [];
    requeued = [];
    await deleteKeysWithPrefix(redis, prefix);
    versions = new RedisProfileVersionGuard(redis, prefix);
    authFailures = 0;
    undone = new Set();
    mergeChecks = [];
    stage = new DeliverStage({
      runnerOf: (id) => (id === 'echo-1' ? harness.runner : undefined),
      record: async (entries) => void records.push(...entries),
      deadLetter: async (entries) => void letters.push(...entries),
      requeue: async (_id, items, delayMs, holder) => void requeued.push({ items, delayMs, holder }),
      versions,
      mergesStanding: async (merges) => {
        mergeChecks.push(merges);
        return merges.map((candidate) => !undone.has(candidate.mergedCustomerId));
      },
      authFailed: async () => ++authFailures >= 2,
      authSucceeded: async () => {
        authFailures = 0;
      },
      now: () => NOW,
      random: () => 0,
    });
  });
  afterEach(() => harness.close());

  const bodies = (path: string) =>
    harness
      .requests()
      .filter((request) => request.path === path)
      .map((request) => request.body as unknown[]);

  it('coalesces a customer’s updates to the latest version and logs every input item delivered', async () => {
    const outcome = await stage.handle('echo-1', [
      upsert('C1', 1),
      upsert('C2', 1),
      upsert('C1', 3),
      upsert('C1', 2),
    ]);

    expect(outcome).toMatchObject({ delivered: 4, retried: 0, deadLettered: 0, stale: 0 });
    expect(bodies('/profiles')).toEqual([
      [
        { customerId: 'C1', version: 3, email: 'C1@example.com', attributes: { version: 3 } },
        { customerId: 'C2', version: 1, email: 'C2@example.com', attributes: { version: 1 } },
      ],
    ]);
    expect(records.map((record) => [record.item.itemKey, record.status, record.attempts])).toEqual([
      ['C1-1', 'delivered', 1],
      ['C2-1', 'delivered', 1],
      ['C1-3', 'delivered', 1],
      ['C1-2', 'delivered', 1],
    ]);
    expect(await versions.claimed('echo-1', ['C1', 'C2'])).toEqual(
      new Map([
        ['C1', { version: 3, receivedAtMs: NOW }],
        ['C2', { version: 1, receivedAtMs: NOW }],
      ]),
    );
  });

  it('never sends an update older than the version the destination already accepted', async () => {
    await stage.handle('echo-1', [upsert('C1', 5)], 'job-a');

    const outcome = await stage.handle('echo-1', [upsert('C1', 4), upsert('C2', 1)], 'job-b');

    expect(outcome).toMatchObject({ delivered: 1, stale: 1 });
    expect(bodies('/profiles')[1]).toEqual([expect.objectContaining({ customerId: 'C2' })]);
    expect(records.find((record) => record.item.itemKey === 'C1-4')).toMatchObject({
      status: 'dropped',
      detail: 'stale: version 4 is older than the update of version 5 already sent',
    });
  });

  it('orders updates of one version by their events’ arrival: a later event’s update wins, an earlier one is stale', async () => {
    await stage.handle('echo-1', [upsert('C1', 7, 0, NOW + 50)], 'job-a');

    const outcome = await stage.handle('echo-1', [upsert('C1', 7, 0, NOW + 10)], 'job-b');

    expect(outcome).toMatchObject({ delivered: 0, stale: 1 });
    expect(bodies('/profiles')).toHaveLength(1);
    expect(records.at(-1)).toMatchObject({
      status: 'dropped',
      detail: 'stale: an update of version 7 from a later event was already sent',
    });
    const later = await stage.handle('echo-1', [upsert('C1', 7, 0, NOW + 90)], 'job-c');
    expect(later).toMatchObject({ delivered: 1, stale: 0 });
    expect(await versions.claimed('echo-1', ['C1'])).toEqual(
      new Map([['C1', { version: 7, receivedAtMs: NOW + 90 }]]),
    );
  });

  it('holds back a customer another job has in flight, without counting an attempt, and sends the rest', async () => {
    let releaseFirst: () => void = () => undefined;
    const firstAnswered = new Promise<void>((resolve) => (releaseFirst = resolve));
    let calls = 0;
    respond = () => ({ status: 200, body: {} });
    const slowStage = new DeliverStage({
      runnerOf: () => ({
        run: async (_name, profiles) => {
          calls += 1;
          if (calls === 1) await firstAnswered;
          return harness.runner.run('upsertProfiles', profiles as never);
        },
      }),
      record: async (entries) => void records.push(...entries),
      deadLetter: async (entries) => void letters.push(...entries),
      requeue: async (_id, items, delayMs, holder) => void requeued.push({ items, delayMs, holder }),
      versions,
      mergesStanding: async (merges) => merges.map(() => true),
      authFailed: async () => false,
      authSucceeded: async () => undefined,
      now: () => NOW,
    });

    const first = slowStage.handle('echo-1', [upsert('C1', 1)], 'job-a');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await slowStage.handle('echo-1', [upsert('C1', 2), upsert('C2', 1)], 'job-b');
    releaseFirst();
    await first;

    expect(second).toMatchObject({ delivered: 1, deferred: 1, retried: 0 });
    expect(requeued).toEqual([{ items: [upsert('C1', 2)], delayMs: BUSY_RETRY_DELAY_MS, holder: 'job-b' }]);
    // Once the first job settled, the held update goes through.
    const retried = await slowStage.handle('echo-1', [upsert('C1', 2)], 'job-c');
    expect(retried).toMatchObject({ delivered: 1, deferred: 0 });
    expect(
      bodies('/profiles').map((body) => body.map((profile) => (profile as { version: number }).version)),
    ).toEqual([[1], [1], [2]]);
  });

  it('lets a re-run of the same job through its own claim (a stalled job run again)', async () => {
    await versions.claim('echo-1', 'job-a', new Map([['C1', { version: 1, receivedAtMs: NOW }]]));

    expect(await stage.handle('echo-1', [upsert('C1', 1)], 'job-b')).toMatchObject({
      delivered: 0,
      deferred: 1,
    });
    expect(await stage.handle('echo-1', [upsert('C1', 1)], 'job-a')).toMatchObject({
      delivered: 1,
      deferred: 0,
    });
  });

  it('dead-letters a rejected item at once with the ESP’s answer; the rest of the batch is delivered', async () => {
    respond = (request) =>
      request.path === '/profiles' ? { status: 200, body: { refused: ['C2'] } } : { status: 200, body: {} };

    const outcome = await stage.handle('echo-1', [upsert('C1', 1), upsert('C2', 1)]);

    expect(outcome).toMatchObject({ delivered: 1, rejected: 1 });
    expect(letters).toEqual([
      {
        destinationId: 'echo-1',
        item: upsert('C2', 1),
        errorClass: 'rejected',
        error: 'refused C2',
        attempts: 1,
      },
    ]);
    expect(records.map((record) => record.status)).toEqual(['delivered', 'dead_lettered']);
    expect(requeued).toEqual([]);
  });

  it('stores an ESP answer that echoes the person’s email, phone and name with them masked (dead letter and log)', async () => {
    respond = () => ({
      status: 400,
      body: {
        message:
          "Invalid profile {'email': 'Ana.Quixote@Example.com', 'phone_number': '447911123456', 'first_name': 'Anabela'}; also 07911 123456 and 07911123456",
      },
    });
    const item: DeliveryItem = {
      ...upsert('C7', 1),
      operation: {
        operation: 'upsertProfiles',
        item: {
          customerId: 'C7',
          version: 1,
          email: 'ana.quixote@example.com',
          phone: '+447911123456',
          attributes: { first_name: 'Anabela', last_name: 'Quixote' },
        },
      },
    };

    await stage.handle('echo-1', [item]);

    const texts = [...letters.map((letter) => letter.error), ...records.map((record) => record.detail ?? '')];
    expect(texts).toHaveLength(2);
    for (const text of texts) {
      expect(text).toBe(
        "HTTP 400: Invalid profile {'email': '[email]', 'phone_number': '[phone]', 'first_name': '[name]'}; also [phone] and [phone]",
      );
    }
  });

  it('puts retryable items back with backoff (Retry-After honoured), then dead-letters them when the window closes', async () => {
    respond = () => ({ status: 429, headers: { 'retry-after': '30' }, body: { message: 'slow down' } });

    const first = await stage.handle('echo-1', [upsert('C1', 1)]);

    expect(first).toMatchObject({ delivered: 0, retried: 1 });
    expect(requeued).toHaveLength(1);
    expect(requeued[0]?.delayMs).toBe(30_000);
    expect(requeued[0]?.items).toEqual([
      { ...upsert('C1', 1), attempts: 1, firstFailedAt: new Date(NOW).toISOString() },
    ]);
    expect(records).toEqual([]);

    const old = {
      ...upsert('C1', 1),
      attempts: 2,
      firstFailedAt: new Date(NOW - 5 * 3_600_000).toISOString(),
    };
    const last = await stage.handle('echo-1', [old]);

    expect(last).toMatchObject({ retried: 0, deadLettered: 1 });
    expect(letters[0]).toMatchObject({ errorClass: 'retryable', attempts: 3 });
    expect(letters[0]?.error).toMatch(/gave up after 3 attempts over 300 minutes\)$/);
    expect(records.map((record) => record.status)).toEqual(['dead_lettered']);
  });

  it('requeues every item on a refused credential and reports the pause on the second refusal in a row', async () => {
    respond = () => ({ status: 401, body: { message: 'bad key' } });
    const items = [
      upsert('C1', 1),
      {
        ...upsert('C2', 1),
        operation: {
          operation: 'subscribe' as const,
          item: { customerId: 'C2', channel: 'email' as const, email: 'c2@example.com' },
        },
      },
    ];

    const first = await stage.handle('echo-1', items);
    const second = await stage.handle('echo-1', items);

    expect(first).toMatchObject({ authFailed: true, paused: false, delivered: 0 });
    expect(second).toMatchObject({ authFailed: true, paused: true });
    expect(requeued.map((entry) => [entry.items.map((item) => item.itemKey), entry.delayMs])).toEqual([
      [['C1-1', 'C2-1'], 60_000],
      [['C1-1', 'C2-1'], 60_000],
    ]);
    expect(records).toEqual([]);
    expect(letters).toEqual([]);
  });

  it('drops a merge the identity graph no longer holds, unsent and not dead-lettered; sends the standing one', async () => {
    undone.add('G2');

    const outcome = await stage.handle('echo-1', [upsert('C1', 1), merge('C1', 'G1'), merge('C9', 'G2')]);

    expect(outcome).toMatchObject({
      delivered: 2,
      undoneMerges: 1,
      deadLettered: 0,
      rejected: 0,
      retried: 0,
    });
    // One question for the batch's merges, asked once the record updates before them were sent.
    expect(mergeChecks).toEqual([[merge('C1', 'G1').operation.item, merge('C9', 'G2').operation.item]]);
    expect(bodies('/merges')).toEqual([
      [expect.objectContaining({ customerId: 'C1', mergedCustomerId: 'G1' })],
    ]);
    expect(records.map((record) => [record.item.itemKey, record.status, record.detail])).toEqual([
      ['C1-1', 'delivered', undefined],
      ['merge-G2-C9', 'dropped', 'merge undone: G2 no longer belongs to C9'],
      ['merge-G1-C1', 'delivered', undefined],
    ]);
    expect(letters).toEqual([]);
    expect(requeued).toEqual([]);
  });

  it('drops a merge reversed while it waited out the ESP’s cooling-off period', async () => {
    respond = (request) =>
      request.path === '/merges'
        ? { status: 200, body: { coolingOffMs: 3_600_000 } }
        : { status: 200, body: {} };

    const first = await stage.handle('echo-1', [merge('C1', 'G1')], 'job-a');
    expect(first).toMatchObject({ retried: 1, undoneMerges: 0 });
    const [waiting] = requeued;
    expect(waiting?.delayMs).toBe(3_600_000);

    undone.add('G1'); // an operator unmerged them meanwhile
    const second = await stage.handle('echo-1', waiting?.items ?? [], 'job-b');

    expect(second).toMatchObject({ delivered: 0, retried: 0, deadLettered: 0, undoneMerges: 1 });
    expect(bodies('/merges')).toHaveLength(1); // the first attempt only
    expect(records).toEqual([
      expect.objectContaining({
        status: 'dropped',
        detail: 'merge undone: G1 no longer belongs to C1',
        attempts: 1,
      }),
    ]);
    expect(requeued).toHaveLength(1);
  });

  it('asks nothing of the identity graph for a batch without merges', async () => {
    await stage.handle('echo-1', [upsert('C1', 1)]);

    expect(mergeChecks).toEqual([]);
  });

  it('refuses a batch for a destination it has no runner for', async () => {
    await expect(stage.handle('nope', [upsert('C1', 1)])).rejects.toThrow('No runner for destination "nope"');
  });
});
