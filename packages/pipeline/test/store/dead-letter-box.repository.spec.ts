import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { DEAD_LETTER_TEXT_BYTES, DeadLetterBox, type DeadLetterInput } from '../../src/store';
import { at, tableText, vault } from './store-fixture';

const NOW = at(100);

function letter(itemKey: string, overrides: Partial<DeadLetterInput> = {}): DeadLetterInput {
  return {
    brand: 'sd',
    destinationId: 'sd-klaviyo',
    operation: 'upsert_profile',
    itemKey,
    item: { email: `${itemKey}@example.com`, first_name: 'Ana' },
    sourceId: 'src-web',
    eventSource: 'https://shop.example/orders',
    eventId: `e-${itemKey}`,
    customerId: 'C1',
    errorClass: 'validation',
    error: 'invalid profile',
    attempts: 1,
    failedAt: at(1),
    ...overrides,
  };
}

describe.each(STORE_DRIVERS)('DeadLetterBox on %s', (driver) => {
  let store: Store;
  let box: DeadLetterBox;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    box = new DeadLetterBox(store, vault, { now: () => NOW });
  });

  afterEach(() => store.close());

  it('keeps one waiting letter per item: a repeat updates it, within a batch and across batches', async () => {
    const [first, again, other] = await box.add([
      letter('k1'),
      letter('k1', { attempts: 2, failedAt: at(3), error: 'still invalid' }),
      letter('k2'),
    ]);
    expect(again).toBe(first);
    expect(other).not.toBe(first);
    await box.add([
      letter('k1', {
        attempts: 4,
        failedAt: at(7),
        errorClass: 'rejected',
        error: 'refused',
        espAnswer: 'no',
      }),
    ]);
    expect(await box.count()).toBe(2);
    const [view] = await box.list({ limit: 1 });
    expect(view).toEqual({
      id: first,
      brand: 'sd',
      destinationId: 'sd-klaviyo',
      operation: 'upsert_profile',
      itemKey: 'k1',
      sourceId: 'src-web',
      eventSource: 'https://shop.example/orders',
      eventId: 'e-k1',
      customerId: 'C1',
      errorClass: 'rejected',
      error: 'refused',
      espAnswer: 'no',
      attempts: 7,
      firstFailedAt: at(1),
      lastFailedAt: at(7),
      replayCount: 0,
    });
    // The same item key at another destination is another letter.
    await box.add([letter('k1', { destinationId: 'sd-braze' })]);
    expect(await box.count()).toBe(3);
  });

  it('adds 1,000 letters in one call', async () => {
    const entries = Array.from({ length: 1_000 }, (_, i) =>
      letter(`k${i % 800}`, { destinationId: i % 2 === 0 ? 'sd-klaviyo' : 'sd-braze' }),
    );
    const ids = await box.add(entries);
    expect(ids).toHaveLength(1_000);
    // Items 800–999 repeat items 0–199 at the same destination: 800 letters.
    expect(await box.count()).toBe(800);
    expect(new Set(ids).size).toBe(800);
    expect(await box.countByDestination()).toEqual(
      new Map([
        ['sd-braze', 400],
        ['sd-klaviyo', 400],
      ]),
    );
    expect((await box.add(entries)).sort()).toEqual([...ids].sort());
  });

  it('keeps no contact point in clear: items sealed, errors and ESP answers masked and cut to 2 KB', async () => {
    const answer = `{"errors":[{"detail":"ana.secret@example.com is invalid; phone +33 6 12 34 56 78"}],"pad":"${'é'.repeat(3_000)}"}`;
    await box.add([
      letter('k1', {
        item: { email: 'ana.secret@example.com', phone: '+33612345678' },
        error: 'Klaviyo refused ana.secret@example.com',
        espAnswer: answer,
      }),
    ]);
    const text = await tableText(store, 'dead_letters');
    expect(text).not.toContain('ana.secret@example.com');
    expect(text).not.toContain('+33612345678');
    expect(text).not.toContain('+33 6 12 34 56 78');
    const [view] = await box.list({ limit: 10 });
    expect(view).not.toHaveProperty('item');
    expect(view.error).toBe('Klaviyo refused [email]');
    expect(view.espAnswer?.startsWith('{"errors":[{"detail":"[email] is invalid; phone [phone]"}]')).toBe(
      true,
    );
    expect(Buffer.byteLength(view.espAnswer ?? '')).toBeLessThanOrEqual(DEAD_LETTER_TEXT_BYTES);
    expect(Buffer.byteLength(view.espAnswer ?? '')).toBeGreaterThan(DEAD_LETTER_TEXT_BYTES - 2);
    expect(view.espAnswer).not.toContain('\uFFFD');
  });

  it('lists, pages and counts by brand, destination and error class', async () => {
    await box.add([
      letter('a', { errorClass: 'auth' }),
      letter('b'),
      letter('c', { brand: 'other', destinationId: 'other-braze' }),
      letter('d'),
    ]);
    const keys = async (filter: Parameters<DeadLetterBox['list']>[0]) =>
      (await box.list(filter)).map((view) => view.itemKey);
    expect(await keys({ limit: 10 })).toEqual(['a', 'b', 'c', 'd']);
    expect(await keys({ brand: 'sd', errorClass: 'validation', limit: 10 })).toEqual(['b', 'd']);
    expect(await keys({ destinationId: 'other-braze', limit: 10 })).toEqual(['c']);
    const [, second] = await box.list({ limit: 2 });
    expect(await keys({ afterId: second.id, limit: 10 })).toEqual(['c', 'd']);
    expect(await box.count({ brand: 'sd' })).toBe(3);
    expect(await box.count({ errorClass: 'auth' })).toBe(1);
    expect(await box.countByDestination()).toEqual(
      new Map([
        ['other-braze', 1],
        ['sd-klaviyo', 3],
      ]),
    );
  });

  it('takes letters for replay with their items, once; a new failure of the item starts a new letter', async () => {
    const [a, b] = await box.add([letter('a'), letter('b'), letter('c', { errorClass: 'auth' })]);
    const taken = await box.takeForReplay({ errorClass: 'validation', limit: 10 });
    expect(taken.map((t) => [t.id, t.itemKey, t.replayCount, t.replayedAt])).toEqual([
      [a, 'a', 1, NOW],
      [b, 'b', 1, NOW],
    ]);
    expect(taken[0].item).toEqual({ email: 'a@example.com', first_name: 'Ana' });
    expect(await box.takeForReplay({ errorClass: 'validation', limit: 10 })).toEqual([]);
    expect(await box.count()).toBe(1);
    expect(await box.count({ includeReplayed: true })).toBe(3);
    expect((await box.list({ includeReplayed: true, limit: 10 })).map((v) => v.itemKey)).toEqual([
      'a',
      'b',
      'c',
    ]);

    const [again] = await box.add([letter('a', { failedAt: at(50) })]);
    expect(again).not.toBe(a);
    expect(await box.countByDestination()).toEqual(new Map([['sd-klaviyo', 2]]));
    const byId = await box.takeForReplay({ ids: [again, a], limit: 10 });
    expect(byId.map((t) => [t.id, t.attempts, t.firstFailedAt])).toEqual([[again, 1, at(50)]]);
  });

  it('never gives the same letter to two replays running at once', async () => {
    const ids = await box.add(Array.from({ length: 200 }, (_, i) => letter(`k${i}`)));
    const [first, second] = await Promise.all([
      box.takeForReplay({ limit: 150 }),
      box.takeForReplay({ limit: 150 }),
    ]);
    const firstIds = new Set(first.map((t) => t.id));
    expect(second.filter((t) => firstIds.has(t.id))).toEqual([]);
    expect([...first, ...second].map((t) => t.id).sort((x, y) => x - y)).toEqual(
      [...ids].sort((x, y) => x - y),
    );
    const counts = await store.query<{ replay_count: number; n: number }>(
      'SELECT replay_count, count(*)::int AS n FROM dead_letters GROUP BY replay_count',
    );
    expect(counts).toEqual([{ replay_count: 1, n: 200 }]);
  });

  it('finds letters by a piece of their error, ignoring case and taking % and _ literally', async () => {
    const [refused, percent] = await box.add([
      letter('r1', { error: 'Braze: REFUSED by policy' }),
      letter('r2', { error: '100% over quota_limit' }),
      letter('r3', { error: 'invalid profile', destinationId: 'sd-braze' }),
    ]);
    expect((await box.list({ errorContains: 'refused', limit: 10 })).map((view) => view.id)).toEqual([
      refused,
    ]);
    expect((await box.list({ errorContains: '0% over quota_', limit: 10 })).map((view) => view.id)).toEqual([
      percent,
    ]);
    expect(await box.count({ errorContains: '_' })).toBe(1);
    expect(await box.count({ errorContains: '%' })).toBe(1);
    expect(await box.countByDestination({ errorContains: 'invalid' })).toEqual(new Map([['sd-braze', 1]]));
    expect(await box.countByDestination()).toEqual(
      new Map([
        ['sd-braze', 1],
        ['sd-klaviyo', 2],
      ]),
    );

    const taken = await box.takeForReplay({ errorContains: 'REFUSED', limit: 10 });
    expect(taken.map((letter) => letter.id)).toEqual([refused]);
  });

  it('takes only the destinations a process runs, and counts the waiting letters it leaves to others', async () => {
    const [klaviyo, braze, , waitingBraze] = await box.add([
      letter('k1'),
      letter('b1', { destinationId: 'sd-braze' }),
      letter('m1', { destinationId: 'sd-mailchimp', errorClass: 'auth' }),
      letter('b2', { destinationId: 'sd-braze' }),
    ]);
    await box.takeForReplay({ ids: [braze], limit: 10 });
    const runHere = ['sd-klaviyo', 'sd-sfmc'];

    expect(await box.waitingOutside({}, runHere)).toEqual(
      new Map([
        ['sd-braze', 1],
        ['sd-mailchimp', 1],
      ]),
    );
    expect(await box.waitingOutside({ errorClass: 'validation' }, runHere)).toEqual(
      new Map([['sd-braze', 1]]),
    );
    expect(await box.waitingOutside({ ids: [klaviyo, waitingBraze] }, runHere)).toEqual(
      new Map([['sd-braze', 1]]),
    );
    expect(await box.waitingOutside({}, [])).toEqual(
      new Map([
        ['sd-braze', 1],
        ['sd-klaviyo', 1],
        ['sd-mailchimp', 1],
      ]),
    );
    expect(await box.takeForReplay({ destinationIds: [], limit: 10 })).toEqual([]);
    expect((await box.takeForReplay({ destinationIds: runHere, limit: 10 })).map((t) => t.id)).toEqual([
      klaviyo,
    ]);
    expect(await box.count()).toBe(2);
  });

  it('discards waiting letters once, with who and why; they no longer wait and cannot be replayed', async () => {
    const [first, second] = await box.add([letter('k1'), letter('k2')]);
    const ids = [first ?? 0, second ?? 0];
    expect(await box.discard([...ids, 999], { actor: 'console:key_ops', reason: 'test data' })).toEqual(ids);
    expect(await box.discard(ids, { actor: 'console:key_ops', reason: 'again' })).toEqual([]);
    expect(await box.count()).toBe(0);
    expect(await box.get(first ?? 0)).toMatchObject({
      discardedBy: 'console:key_ops',
      discardReason: 'test data',
      discardedAt: expect.any(Date),
    });
    expect((await box.get(first ?? 0))?.replayedAt).toBeUndefined();
    expect(await box.takeForReplay({ ids, limit: 10 })).toEqual([]);
    const [renewed] = await box.add([letter('k1')]);
    expect(renewed).not.toBe(first);
  });

  it('gets one letter by id, waiting or replayed, without its item', async () => {
    const [id] = await box.add([letter('g1')]);
    expect(await box.get(id)).toMatchObject({ id, itemKey: 'g1', replayCount: 0 });
    expect(await box.get(id)).not.toHaveProperty('item');
    await box.takeForReplay({ ids: [id], limit: 1 });
    expect(await box.get(id)).toMatchObject({ id, replayedAt: NOW, replayCount: 1 });
    expect(await box.get(id + 1000)).toBeUndefined();
  });

  // Row locks are PostgreSQL's (PGlite has one connection): registered on PostgreSQL only, never skipped.
  if (driver === 'postgres') {
    it('skips letters another replay is taking, without waiting', async () => {
      const ids = await box.add([letter('a'), letter('b'), letter('c')]);
      await store.transaction(async (tx) => {
        await tx.query('SELECT id FROM dead_letters WHERE id = ANY($1::bigint[]) FOR UPDATE', [
          [ids[0], ids[2]],
        ]);
        const taken = await box.takeForReplay({ limit: 10 });
        expect(taken.map((t) => t.id)).toEqual([ids[1]]);
      });
      expect((await box.takeForReplay({ limit: 10 })).map((t) => t.id)).toEqual([ids[0], ids[2]]);
    });
  }
});
