import Redis from 'ioredis';
import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import type { ConsentScope } from '../../src/consent-contract';
import {
  CONSENT_VERDICTS,
  ConsentGate,
  StoreConsentStateReader,
  type ConsentStateLoad,
  type ConsentStateReader,
} from '../../src/gate';

const EMAIL: ConsentScope = { brand: 'sd', channel: 'email', purpose: 'marketing' };
const EMAIL_VB: ConsentScope = { brand: 'vb', channel: 'email', purpose: 'marketing' };

/** The real store reader, counted; and, when `hold` is set, held until released (to stage a race). */
class CountingReader implements ConsentStateReader {
  calls: { keys: string[]; brand: string }[] = [];
  hold: Promise<void> | undefined;
  /** Resolves when a held load has read the store and waits for `hold`. */
  onHeld: (() => void) | undefined;

  constructor(private readonly inner: ConsentStateReader) {}

  async load(subjectKeys: readonly string[], brand: string): Promise<ConsentStateLoad> {
    this.calls.push({ keys: [...subjectKeys], brand });
    const loaded = await this.inner.load(subjectKeys, brand);
    if (this.hold !== undefined) {
      this.onHeld?.();
      await this.hold;
    }
    return loaded;
  }
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// Medium tier: the real PostgreSQL on loopback and PGlite, and the real Redis.
describe.each(STORE_DRIVERS)('ConsentGate on %s', (driver) => {
  let store: Store;
  let prefix: string;
  let redisA: Redis;
  let redisB: Redis;
  let reader: CountingReader;
  let clock: number;
  const gates: ConsentGate[] = [];
  let ledgerId = 0;

  const gateOn = async (redis: Redis, options: { reader?: ConsentStateReader; ttlMs?: number } = {}) => {
    const gate = new ConsentGate({
      reader: options.reader ?? reader,
      redis,
      prefix,
      ttlMs: options.ttlMs,
      now: () => clock,
    });
    gates.push(gate);
    await gate.start();
    return gate;
  };

  /** What the ledger's fold leaves in consent_state (the ledger itself is not this suite's subject). */
  const setState = async (
    key: string,
    brand: string,
    decision: 'granted' | 'withdrawn',
    legalBasis = 'consent',
    channel = 'email',
  ) => {
    ledgerId += 1;
    await store.query(
      `INSERT INTO consent_state
         (subject_key, brand, channel, purpose, subject_type, decision, legal_basis, captured_at, ledger_id)
       VALUES ($1, $2, $3, 'marketing', 'email', $4, $5, now(), $6)
       ON CONFLICT (subject_key, brand, channel, purpose)
       DO UPDATE SET decision = EXCLUDED.decision, legal_basis = EXCLUDED.legal_basis, ledger_id = EXCLUDED.ledger_id`,
      [key, brand, channel, decision, legalBasis, ledgerId],
    );
  };

  const suppress = (key: string, brand: string) =>
    store.query(
      `INSERT INTO suppression_list (subject_key, brand, subject_type, reason, suppressed_at)
       VALUES ($1, $2, 'email', 'hard_bounce', now())`,
      [key, brand],
    );

  beforeAll(async () => {
    store = await openScratchStore(driver);
  });

  afterAll(() => store.close());

  beforeEach(async () => {
    await store.query('TRUNCATE consent_state, suppression_list');
    prefix = uniqueRedisPrefix();
    redisA = new Redis(TEST_REDIS_URL, { lazyConnect: true });
    redisB = new Redis(TEST_REDIS_URL, { lazyConnect: true });
    await Promise.all([redisA.connect(), redisB.connect()]);
    reader = new CountingReader(new StoreConsentStateReader(store));
    clock = Date.parse('2026-11-23T10:00:00Z');
  });

  afterEach(async () => {
    await Promise.all(gates.splice(0).map((gate) => gate.close()));
    await deleteKeysWithPrefix(redisA, prefix);
    await Promise.all([redisA.quit(), redisB.quit()]);
  });

  it('reads states and suppressions for a batch in one reader call per brand', async () => {
    await setState('bi:alice', 'sd', 'granted');
    await setState('bi:bob', 'sd', 'withdrawn');
    await setState('bi:carol', 'sd', 'granted', 'soft_opt_in');
    await setState('bi:dave', 'sd', 'granted');
    await suppress('bi:dave', '*');
    await setState('bi:erin', 'sd', 'granted', 'consent', 'sms');
    await setState('bi:alice', 'vb', 'granted', 'legitimate_interest');
    const gate = await gateOn(redisA);
    const verdicts = await gate.decideMany([
      { subjectKey: 'bi:alice', scope: EMAIL },
      { subjectKey: 'bi:bob', scope: EMAIL },
      { subjectKey: 'bi:carol', scope: EMAIL },
      { subjectKey: 'bi:dave', scope: EMAIL },
      { subjectKey: 'bi:erin', scope: EMAIL },
      { subjectKey: 'bi:frank', scope: EMAIL },
      { subjectKey: 'bi:alice', scope: EMAIL_VB },
      { subjectKey: 'bi:bob', scope: EMAIL_VB },
      { subjectKey: 'bi:alice', scope: { ...EMAIL, channel: 'sms' } },
    ]);
    expect(verdicts).toEqual([
      CONSENT_VERDICTS.grantedConsent,
      CONSENT_VERDICTS.withdrawn,
      CONSENT_VERDICTS.grantedSoftOptIn,
      CONSENT_VERDICTS.suppressed,
      CONSENT_VERDICTS.noRecord,
      CONSENT_VERDICTS.noRecord,
      CONSENT_VERDICTS.legitimateInterest,
      CONSENT_VERDICTS.noRecord,
      CONSENT_VERDICTS.noRecord,
    ]);
    expect(reader.calls.map((call) => [call.brand, call.keys.length]).sort()).toEqual([
      ['sd', 6],
      ['vb', 2],
    ]);
  });

  it('names the deciding ledger state beside each verdict (its time stamps the ESP subscription)', async () => {
    await setState('bi:alice', 'sd', 'granted');
    await setState('bi:bob', 'sd', 'withdrawn');
    await store.query(`UPDATE consent_state SET captured_at = $2 WHERE subject_key = $1`, [
      'bi:alice',
      '2026-03-04T05:06:07Z',
    ]);
    const gate = await gateOn(redisA);
    const [alice, bob, nobody, aliceVb] = await gate.decideManyWithStates([
      { subjectKey: 'bi:alice', scope: EMAIL },
      { subjectKey: 'bi:bob', scope: EMAIL },
      { subjectKey: 'bi:nobody', scope: EMAIL },
      { subjectKey: 'bi:alice', scope: EMAIL_VB },
    ]);
    expect(alice?.verdict).toBe(CONSENT_VERDICTS.grantedConsent);
    expect(Date.parse(alice?.state?.capturedAt ?? '')).toBe(Date.parse('2026-03-04T05:06:07Z'));
    expect(alice?.state?.decision).toBe('granted');
    expect(bob?.verdict).toBe(CONSENT_VERDICTS.withdrawn);
    expect(bob?.state?.decision).toBe('withdrawn');
    expect(nobody).toEqual({ verdict: CONSENT_VERDICTS.noRecord });
    expect(aliceVb).toEqual({ verdict: CONSENT_VERDICTS.noRecord });
    // The second ask is answered from the cache, with the same states.
    const again = await gate.decideManyWithStates([{ subjectKey: 'bi:alice', scope: EMAIL }]);
    expect(again[0]?.state?.capturedAt).toBe(alice?.state?.capturedAt);
    expect(reader.calls).toHaveLength(2);
  });

  it('answers from the cache without reading the store again, synchronously', async () => {
    await setState('bi:alice', 'sd', 'granted');
    const gate = await gateOn(redisA);
    expect(gate.decideCached('bi:alice', EMAIL)).toBeUndefined();
    expect(await gate.decide('bi:alice', EMAIL)).toBe(CONSENT_VERDICTS.grantedConsent);
    expect(await gate.decide('bi:alice', EMAIL)).toBe(CONSENT_VERDICTS.grantedConsent);
    expect(gate.decideCached('bi:alice', EMAIL)).toBe(CONSENT_VERDICTS.grantedConsent);
    // Another channel of the same contact point and brand comes from the same entry.
    expect(gate.decideCached('bi:alice', { ...EMAIL, channel: 'sms' })).toBe(CONSENT_VERDICTS.noRecord);
    expect(reader.calls).toHaveLength(1);
    // A change the gate was not told of stays unseen until invalidated (or expired).
    await setState('bi:alice', 'sd', 'withdrawn');
    expect(await gate.decide('bi:alice', EMAIL)).toBe(CONSENT_VERDICTS.grantedConsent);
    await gate.invalidate(['bi:alice'], 'sd');
    expect(await gate.decide('bi:alice', EMAIL)).toBe(CONSENT_VERDICTS.withdrawn);
    expect(reader.calls).toHaveLength(2);
  });

  it('carries an invalidation from gate A to gate B, which reloads', async () => {
    await setState('bi:alice', 'sd', 'granted');
    const gateA = await gateOn(redisA);
    const gateB = await gateOn(redisB);
    expect(await gateB.decide('bi:alice', EMAIL)).toBe(CONSENT_VERDICTS.grantedConsent);
    expect(await gateB.decide('bi:alice', EMAIL_VB)).toBe(CONSENT_VERDICTS.noRecord);
    expect(gateB.decideCached('bi:alice', EMAIL)).toBeDefined();

    await setState('bi:alice', 'sd', 'withdrawn');
    await gateA.invalidate(['bi:alice'], 'sd');
    await waitFor(() => gateB.decideCached('bi:alice', EMAIL) === undefined, 'gate B to drop bi:alice');
    // Only that brand's entry went.
    expect(gateB.decideCached('bi:alice', EMAIL_VB)).toBe(CONSENT_VERDICTS.noRecord);
    const callsBefore = reader.calls.length;
    expect(await gateB.decide('bi:alice', EMAIL)).toBe(CONSENT_VERDICTS.withdrawn);
    expect(reader.calls.length).toBe(callsBefore + 1);
  });

  it("drops a contact point for every brand on a '*' invalidation (a global suppression)", async () => {
    await setState('bi:alice', 'sd', 'granted');
    await setState('bi:alice', 'vb', 'granted');
    const gateA = await gateOn(redisA);
    const gateB = await gateOn(redisB);
    await gateB.decideMany([
      { subjectKey: 'bi:alice', scope: EMAIL },
      { subjectKey: 'bi:alice', scope: EMAIL_VB },
      { subjectKey: 'bi:bob', scope: EMAIL },
    ]);
    await suppress('bi:alice', '*');
    await gateA.invalidate(['bi:alice'], '*');
    await waitFor(
      () =>
        gateB.decideCached('bi:alice', EMAIL) === undefined &&
        gateB.decideCached('bi:alice', EMAIL_VB) === undefined,
      'gate B to drop bi:alice for every brand',
    );
    expect(gateB.decideCached('bi:bob', EMAIL)).toBe(CONSENT_VERDICTS.noRecord);
    expect(await gateB.decide('bi:alice', EMAIL_VB)).toBe(CONSENT_VERDICTS.suppressed);
  });

  it('does not cache a load that an invalidation overtook', async () => {
    await setState('bi:alice', 'sd', 'granted');
    const gateA = await gateOn(redisA);
    let release!: () => void;
    reader.hold = new Promise((resolve) => (release = resolve));
    const held = new Promise<void>((resolve) => (reader.onHeld = resolve));
    const inFlight = gateA.decide('bi:alice', EMAIL);
    await held; // the load has read "granted" and not answered yet
    await setState('bi:alice', 'sd', 'withdrawn');
    await gateA.invalidate(['bi:alice'], 'sd');
    reader.hold = undefined;
    release();
    // The overtaken load still answers its caller (a decision made before the change) …
    expect(await inFlight).toBe(CONSENT_VERDICTS.grantedConsent);
    // … but is not kept: the next decision reads the store again.
    expect(gateA.decideCached('bi:alice', EMAIL)).toBeUndefined();
    expect(await gateA.decide('bi:alice', EMAIL)).toBe(CONSENT_VERDICTS.withdrawn);
    expect(gateA.counters.staleLoadsDiscarded).toBe(1);
    expect(reader.calls).toHaveLength(2);
  });

  it('does not cache an overtaken load when the invalidation comes from another gate', async () => {
    await setState('bi:alice', 'sd', 'granted');
    const gateA = await gateOn(redisA);
    const gateB = await gateOn(redisB);
    let release!: () => void;
    reader.hold = new Promise((resolve) => (release = resolve));
    const held = new Promise<void>((resolve) => (reader.onHeld = resolve));
    const inFlight = gateB.decide('bi:alice', EMAIL);
    await held;
    await setState('bi:alice', 'sd', 'withdrawn');
    await gateA.invalidate(['bi:alice'], 'sd');
    await waitFor(() => gateB.counters.invalidations === 1, 'gate B to receive the invalidation');
    reader.hold = undefined;
    release();
    expect(await inFlight).toBe(CONSENT_VERDICTS.grantedConsent);
    expect(gateB.decideCached('bi:alice', EMAIL)).toBeUndefined();
    expect(await gateB.decide('bi:alice', EMAIL)).toBe(CONSENT_VERDICTS.withdrawn);
  });

  it('expires entries after the TTL, bounding staleness when a message is lost', async () => {
    await setState('bi:alice', 'sd', 'granted');
    const gate = await gateOn(redisA, { ttlMs: 60_000 });
    expect(await gate.decide('bi:alice', EMAIL)).toBe(CONSENT_VERDICTS.grantedConsent);
    await setState('bi:alice', 'sd', 'withdrawn'); // no invalidation: the message was lost
    clock += 59_999;
    expect(gate.decideCached('bi:alice', EMAIL)).toBe(CONSENT_VERDICTS.grantedConsent);
    clock += 1;
    expect(gate.decideCached('bi:alice', EMAIL)).toBeUndefined();
    expect(await gate.decide('bi:alice', EMAIL)).toBe(CONSENT_VERDICTS.withdrawn);
    expect(reader.calls).toHaveLength(2);
  });

  it('drops the whole cache when its subscription connection comes back (messages may have been lost)', async () => {
    await setState('bi:alice', 'sd', 'granted');
    const gate = await gateOn(redisA);
    await gate.decide('bi:alice', EMAIL);
    const clients = (await redisA.client('LIST')) as string;
    const line = clients.split('\n').find((client) => client.includes(`name=${gate.channel}:`));
    const id = /(?:^| )id=(\d+)/.exec(line ?? '')?.[1];
    expect(id).toBeDefined();
    await redisA.client('KILL', 'ID', id as string);
    await waitFor(() => gate.counters.cached === 0, 'the gate to drop its cache on reconnection');
    // And it is subscribed again: an invalidation from another gate still arrives.
    await gate.decide('bi:alice', EMAIL);
    const other = await gateOn(redisB);
    await other.invalidate(['bi:alice'], 'sd');
    await waitFor(
      () => gate.decideCached('bi:alice', EMAIL) === undefined,
      'the invalidation after reconnection',
    );
  });

  it('keeps at most cacheSize entries, evicting the least recently used', async () => {
    const gate = new ConsentGate({ reader, redis: redisA, prefix, cacheSize: 2, now: () => clock });
    gates.push(gate);
    await gate.decide('bi:a', EMAIL);
    await gate.decide('bi:b', EMAIL);
    gate.decideCached('bi:a', EMAIL); // a is now the most recent
    await gate.decide('bi:c', EMAIL);
    expect(gate.counters.cached).toBe(2);
    expect(gate.decideCached('bi:b', EMAIL)).toBeUndefined();
    expect(gate.decideCached('bi:a', EMAIL)).toBe(CONSENT_VERDICTS.noRecord);
    expect(gate.decideCached('bi:c', EMAIL)).toBe(CONSENT_VERDICTS.noRecord);
  });
});
