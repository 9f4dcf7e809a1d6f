import { MemoryRateGate, mergeRateClaims } from './rate-gate';
import { ManualClock } from './retry-policy';

const twoPerSecond = [{ requests: 2, perMs: 1000 }];

/** Resolves true when `promise` settles before the microtask queue drains, false while it waits. */
async function settledNow(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return settled;
}

describe('MemoryRateGate', () => {
  it('counts a request in flight at every instant, and from its answer on once answered', async () => {
    const clock = new ManualClock(0);
    const gate = new MemoryRateGate(clock);
    const first = await gate.acquireAll([{ key: 'acct:rest', windows: twoPerSecond }]);
    const second = await gate.acquireAll([{ key: 'acct:rest', windows: twoPerSecond }]);
    // Both in flight for five seconds: still counted, so the third waits, looking again every tenth of a window.
    clock.advance(5000);
    const third = gate.acquireAll([{ key: 'acct:rest', windows: twoPerSecond }]);
    expect(await settledNow(third)).toBe(false);
    clock.advance(100);
    expect(await settledNow(third)).toBe(false);
    // Answered at 5.1 s: counted from then, so room comes back at 6.1 s, not at 1 s.
    first();
    second();
    for (let step = 0; step < 9; step++) {
      clock.advance(100);
      expect(await settledNow(third)).toBe(false);
    }
    clock.advance(100);
    expect(await settledNow(third)).toBe(true);
  });

  it('takes every claim or none: a request waiting for one budget is not counted in another', async () => {
    const clock = new ManualClock(0);
    const gate = new MemoryRateGate(clock);
    (await gate.acquireAll([{ key: 'acct:lists', windows: [{ requests: 1, perMs: 1000 }] }]))();
    const waiting = gate.acquireAll([
      { key: 'acct:lists', windows: [{ requests: 1, perMs: 1000 }] },
      { key: 'acct:all', windows: [{ requests: 1, perMs: 1000 }] },
    ]);
    expect(await settledNow(waiting)).toBe(false);
    // `acct:all` is still free meanwhile.
    expect(
      await settledNow(gate.acquireAll([{ key: 'acct:all', windows: [{ requests: 1, perMs: 1000 }] }])),
    ).toBe(true);
  });

  it('counts `acquire` at once, as before budgets', async () => {
    const clock = new ManualClock(0);
    const gate = new MemoryRateGate(clock);
    await gate.acquire('op', twoPerSecond, 2);
    const next = gate.acquire('op', twoPerSecond);
    expect(await settledNow(next)).toBe(false);
    clock.advance(1000);
    expect(await settledNow(next)).toBe(true);
  });

  it('merges claims on one key: costs add up, windows join', () => {
    expect(
      mergeRateClaims([
        { key: 'a', windows: twoPerSecond },
        { key: 'b', windows: twoPerSecond, cost: 3 },
        { key: 'a', windows: [{ requests: 5, perMs: 60_000 }], cost: 2 },
      ]),
    ).toEqual(
      new Map([
        ['a', { cost: 3, windows: [...twoPerSecond, { requests: 5, perMs: 60_000 }] }],
        ['b', { cost: 3, windows: twoPerSecond }],
      ]),
    );
  });
});
