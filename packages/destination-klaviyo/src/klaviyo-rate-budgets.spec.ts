import { MemoryRateGate, type RateGate, type SandboxStats } from '@tessera/destination-kit';
import {
  emulatorOf,
  type KlaviyoHarness,
  member,
  requestLines,
  startHarness,
} from './klaviyo-destination-test-support';

const GOLD = 'Gold01';

/** A harness whose emulator enforces Klaviyo's limits, paced by `rateGate` when one is given. */
function enforcing(rateGate?: RateGate, emulator: { jobCompletionMs?: number } = {}) {
  return startHarness(
    { listIds: { 'gold-tier': GOLD } },
    {
      limitsLifted: false,
      emulator: { ...emulator, lists: [{ id: GOLD, name: 'Gold' }] },
      ...(rateGate === undefined ? {} : { rateGate }),
    },
  );
}

/** The sandbox's Klaviyo statistics since `before`: requests and 429s. */
function statsSince(harness: KlaviyoHarness, before: SandboxStats) {
  const now = harness.sandbox.stats('klaviyo');
  return {
    total: now.total - before.total,
    throttled: now.throttled - before.throttled,
    throttledByEmulator: now.throttledByEmulator - before.throttledByEmulator,
  };
}

/** Fifteen members Klaviyo holds, by Klaviyo id (profile-import, well under its 75/s). */
async function seedFifteen(harness: KlaviyoHarness): Promise<string[]> {
  await harness.run(
    'upsertProfiles',
    Array.from({ length: 15 }, (_, i) => member(i + 1)),
  );
  harness.clearRequests();
  return Array.from(
    { length: 15 },
    (_, i) => emulatorOf(harness).findProfile({ externalId: member(i + 1).customerId })?.id ?? '',
  );
}

describe('Klaviyo rate budgets against an emulator enforcing Klaviyo’s limits', () => {
  let harness: KlaviyoHarness;

  afterEach(async () => {
    const violations = harness.violations();
    await harness.close();
    expect(violations).toEqual([]);
  });

  it('paces 15 list additions sent at once to 10 a second: no 429 from the emulator', async () => {
    harness = await enforcing(new MemoryRateGate());
    const ids = await seedFifteen(harness);
    const before = harness.sandbox.stats('klaviyo');
    const started = Date.now();
    const results = await Promise.all(
      ids.map((id, i) =>
        harness.run('addToSegment', [
          { customerId: member(i + 1).customerId, segment: 'gold-tier', externalId: id },
        ]),
      ),
    );
    expect(results.flat()).toEqual(ids.map((id) => ({ status: 'ok', externalId: id })));
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(statsSince(harness, before)).toEqual({ total: 15, throttled: 0, throttledByEmulator: 0 });
  });

  it('without the budgets the same burst meets Klaviyo’s 429 (what the budgets prevent)', async () => {
    harness = await enforcing();
    const ids = await seedFifteen(harness);
    const before = harness.sandbox.stats('klaviyo');
    const results = await Promise.all(
      ids.map((id, i) =>
        harness.run('addToSegment', [
          { customerId: member(i + 1).customerId, segment: 'gold-tier', externalId: id },
        ]),
      ),
    );
    expect(results.flat().filter((result) => result.status === 'retry')).toHaveLength(5);
    expect(statsSince(harness, before)).toEqual({ total: 15, throttled: 5, throttledByEmulator: 5 });
  });

  it('counts bulk job status polls in their own budget: 12 upserts at once, each job sent once, no 429', async () => {
    // Jobs take 700 ms: each is polled two or three times, far more than 10 polls a second all told.
    harness = await enforcing(new MemoryRateGate(), { jobCompletionMs: 700 });
    const batches = Array.from({ length: 12 }, (_, b) =>
      Array.from({ length: 20 }, (_, i) => member(b * 20 + i + 1)),
    );
    const results = await Promise.all(batches.map((batch) => harness.run('upsertProfiles', batch)));
    expect(results.flat().every((result) => result.status === 'ok')).toBe(true);
    const lines = requestLines(harness);
    expect(lines.filter((line) => line === 'POST /api/profile-bulk-import-jobs')).toHaveLength(12);
    const polls = lines.filter((line) => /^GET \/api\/profile-bulk-import-jobs\/[^/]+$/.test(line));
    expect(polls.length).toBeGreaterThanOrEqual(20);
    expect(harness.sandbox.stats('klaviyo')).toMatchObject({
      total: 12 + polls.length,
      throttled: 0,
      throttledByEmulator: 0,
    });
    expect(emulatorOf(harness).state().profiles).toHaveLength(240);
  });
});
