import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import {
  ConsentGate,
  ConsentLedger,
  type ConsentEntry,
  StoreConsentStateReader,
  SuppressionList,
} from '../../src';

const vault = new PiiVault([randomBytes(32)]);
const key = vault.blindIndex('email', 'ada@example.com');
const scope = { brand: 'sd', channel: 'email' as const, purpose: 'marketing' };

const entry = (decision: 'granted' | 'withdrawn', n: number, proofRef?: string): ConsentEntry => ({
  subject: { type: 'email', key },
  scope,
  decision,
  legalBasis: 'consent',
  provenance: {
    source: 'loyalty',
    ...(proofRef === undefined ? {} : { proofRef }),
    capturedAt: new Date(Date.UTC(2026, 10, n)).toISOString(),
    receivedAt: new Date(Date.UTC(2026, 10, n, 0, 0, 1)).toISOString(),
    actor: 'source:loyalty',
  },
  dedupeKey: `event:loyalty:${n}`,
});

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// Two "processes": a writer whose ledger invalidates through its gate, and a reader's gate elsewhere, on the
// real store and the real Redis.
describe.each(STORE_DRIVERS)('ledger writes reach every gate on %s', (driver) => {
  let store: Store;
  let prefix: string;
  let writerRedis: Redis;
  let readerRedis: Redis;
  let writerGate: ConsentGate;
  let readerGate: ConsentGate;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    prefix = uniqueRedisPrefix();
    writerRedis = new Redis(TEST_REDIS_URL);
    readerRedis = new Redis(TEST_REDIS_URL);
    writerGate = new ConsentGate({ reader: new StoreConsentStateReader(store), redis: writerRedis, prefix });
    readerGate = new ConsentGate({ reader: new StoreConsentStateReader(store), redis: readerRedis, prefix });
    await writerGate.start();
    await readerGate.start();
  });

  afterEach(async () => {
    await writerGate.close();
    await readerGate.close();
    await deleteKeysWithPrefix(writerRedis, prefix);
    await writerRedis.quit();
    await readerRedis.quit();
    await store.close();
  });

  it('a grant, a withdrawal and a suppression each change what the other process decides', async () => {
    const onChange = (keys: string[], brand: string) => writerGate.invalidate(keys, brand);
    const ledger = new ConsentLedger(store, { onChange });
    const suppressions = new SuppressionList(store, { onChange });

    expect((await readerGate.decide(key, scope)).subscribed).toBe(false); // no record: fail closed, now cached
    await ledger.append([entry('granted', 1, 'doi-1')]);
    await waitFor(
      () => readerGate.decideCached(key, scope) === undefined,
      'the grant to invalidate the cache',
    );
    expect(await readerGate.decide(key, scope)).toMatchObject({ subscribed: true, triggerMessages: true });

    await ledger.append([entry('withdrawn', 2)]);
    await waitFor(
      () => readerGate.decideCached(key, scope) === undefined,
      'the withdrawal to invalidate the cache',
    );
    expect(await readerGate.decide(key, scope)).toMatchObject({ subscribed: false, triggerMessages: false });

    await ledger.append([entry('granted', 3, 'doi-2')]);
    await waitFor(
      () => readerGate.decideCached(key, scope) === undefined,
      'the re-grant to invalidate the cache',
    );
    expect((await readerGate.decide(key, scope)).subscribed).toBe(true);

    await suppressions.suppress([{ subjectType: 'email', subjectKey: key, brand: '*', reason: 'erasure' }]);
    await waitFor(
      () => readerGate.decideCached(key, scope) === undefined,
      'the suppression to invalidate the cache',
    );
    const suppressed = await readerGate.decide(key, scope);
    expect([suppressed.syncRecord, suppressed.subscribed, [...suppressed.allowedOperations].sort()]).toEqual([
      false,
      false,
      ['deleteProfiles', 'suppress', 'unsubscribe'],
    ]);
  });
});
