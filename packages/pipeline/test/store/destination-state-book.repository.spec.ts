import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { DestinationStateBook, UnknownDestinationError, type DeclaredDestination } from '../../src/store';
import { at } from './store-fixture';

const KLAVIYO: DeclaredDestination = { id: 'sd-klaviyo', brand: 'sd', type: 'klaviyo', state: 'enabled' };
const BRAZE: DeclaredDestination = { id: 'sd-braze', brand: 'sd', type: 'braze', state: 'disabled' };
const ADMIN = { actor: 'admin:lea', reason: 'ESP maintenance' };

describe.each(STORE_DRIVERS)('DestinationStateBook on %s', (driver) => {
  let store: Store;
  let book: DestinationStateBook;
  let clock: number;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    clock = 0;
    book = new DestinationStateBook(store, { now: () => at(clock) });
  });

  afterEach(() => store.close());

  const stateOf = async (id: string) => (await book.all()).find((row) => row.destinationId === id);

  it('ensure inserts missing destinations only and never overwrites an operator change', async () => {
    expect(await book.ensure([KLAVIYO, BRAZE, KLAVIYO])).toEqual(['sd-klaviyo', 'sd-braze']);
    expect(await book.all()).toEqual([
      {
        destinationId: 'sd-braze',
        brand: 'sd',
        type: 'braze',
        state: 'disabled',
        reason: null,
        changedBy: 'workspace',
        changedAt: at(0),
        consecutiveAuthFailures: 0,
      },
      expect.objectContaining({ destinationId: 'sd-klaviyo', state: 'enabled' }),
    ]);

    clock = 5;
    await book.setState('sd-klaviyo', 'paused', ADMIN);
    clock = 10;
    // The workspace file is applied again at the next start, still saying enabled.
    const mailchimp: DeclaredDestination = {
      id: 'sd-mailchimp',
      brand: 'sd',
      type: 'mailchimp',
      state: 'enabled',
    };
    expect(await book.ensure([KLAVIYO, BRAZE, mailchimp])).toEqual(['sd-mailchimp']);
    expect(await stateOf('sd-klaviyo')).toEqual(
      expect.objectContaining({
        state: 'paused',
        reason: 'ESP maintenance',
        changedBy: 'admin:lea',
        changedAt: at(5),
      }),
    );
    expect(await book.ensure([])).toEqual([]);
  });

  it('ensures 1,000 destinations in one call', async () => {
    const many = Array.from({ length: 1_000 }, (_, i) => ({ ...KLAVIYO, id: `d${i}` }));
    expect(await book.ensure(many)).toHaveLength(1_000);
    expect(await book.ensure(many)).toEqual([]);
    expect(await book.all()).toHaveLength(1_000);
  });

  it('refuses an unknown destination with a typed error and an exact message', async () => {
    const attempt = book.setState('sd-nope', 'enabled', ADMIN);
    await expect(attempt).rejects.toBeInstanceOf(UnknownDestinationError);
    await expect(attempt).rejects.toThrow(new Error('unknown destination "sd-nope"'));
    await expect(book.recordAuthFailure('sd-nope', { pauseAfter: 2, reason: 'x' })).rejects.toThrow(
      'unknown destination "sd-nope"',
    );
    await expect(book.setState('sd-nope', 'sleeping' as unknown as 'enabled', ADMIN)).rejects.toThrow(
      'DestinationStateBook.setState: state must be one of enabled, paused, disabled, got "sleeping"',
    );
  });

  it('pauses exactly on the 2nd auth failure, reports the transition once, and enabling resets the count', async () => {
    await book.ensure([KLAVIYO]);
    const fail = () => book.recordAuthFailure('sd-klaviyo', { pauseAfter: 2, reason: 'API key revoked' });
    clock = 1;
    expect(await fail()).toEqual({ failures: 1, paused: false });
    expect(await stateOf('sd-klaviyo')).toEqual(
      expect.objectContaining({ state: 'enabled', consecutiveAuthFailures: 1 }),
    );
    clock = 2;
    expect(await fail()).toEqual({ failures: 2, paused: true });
    clock = 3;
    expect(await fail()).toEqual({ failures: 3, paused: false });
    expect(await stateOf('sd-klaviyo')).toEqual(
      expect.objectContaining({
        state: 'paused',
        reason: 'API key revoked',
        changedBy: 'system',
        changedAt: at(2),
        consecutiveAuthFailures: 3,
      }),
    );

    clock = 4;
    const enabled = await book.setState('sd-klaviyo', 'enabled', { actor: 'admin:lea', reason: 'new key' });
    expect(enabled).toEqual(
      expect.objectContaining({
        state: 'enabled',
        consecutiveAuthFailures: 0,
        changedBy: 'admin:lea',
        changedAt: at(4),
      }),
    );
    expect(await fail()).toEqual({ failures: 1, paused: false });
  });

  it('counts concurrent auth failures one by one: exactly one caller sees the pause', async () => {
    await book.ensure([KLAVIYO]);
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        book.recordAuthFailure('sd-klaviyo', { pauseAfter: 2, reason: 'revoked' }),
      ),
    );
    expect(results.map((r) => r.failures).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(results.filter((r) => r.paused)).toEqual([{ failures: 2, paused: true }]);
  });

  it('never pauses a destination an operator disabled, and success resets the count', async () => {
    await book.ensure([KLAVIYO, BRAZE]);
    expect(await book.recordAuthFailure('sd-braze', { pauseAfter: 1, reason: 'x' })).toEqual({
      failures: 1,
      paused: false,
    });
    expect(await stateOf('sd-braze')).toEqual(
      expect.objectContaining({ state: 'disabled', changedBy: 'workspace' }),
    );

    await book.recordAuthFailure('sd-klaviyo', { pauseAfter: 3, reason: 'x' });
    await book.recordSuccess('sd-klaviyo');
    await book.recordSuccess('sd-klaviyo');
    expect(await stateOf('sd-klaviyo')).toEqual(expect.objectContaining({ consecutiveAuthFailures: 0 }));
    expect(await book.recordAuthFailure('sd-klaviyo', { pauseAfter: 3, reason: 'x' })).toEqual({
      failures: 1,
      paused: false,
    });
  });

  it('holds and releases sources', async () => {
    expect(await book.sourceHolds()).toEqual(new Map());
    clock = 1;
    await book.setSourceHold('src-web', true, { actor: 'admin:lea', reason: 'bad deploy' });
    await book.setSourceHold('src-app', true, { actor: 'admin:lea' });
    clock = 2;
    expect(await book.setSourceHold('src-web', false, { actor: 'admin:max' })).toEqual({
      held: false,
      reason: null,
      changedBy: 'admin:max',
      changedAt: at(2),
    });
    expect(await book.sourceHolds()).toEqual(
      new Map([
        ['src-app', { held: true, reason: null, changedBy: 'admin:lea', changedAt: at(1) }],
        ['src-web', { held: false, reason: null, changedBy: 'admin:max', changedAt: at(2) }],
      ]),
    );
  });

  it('fingerprint changes with every state or hold change, even within one instant, and only then', async () => {
    const seen = [await book.fingerprint()];
    const expectChanged = async () => {
      const next = await book.fingerprint();
      expect(seen).not.toContain(next);
      seen.push(next);
    };
    const expectSame = async () => expect(await book.fingerprint()).toBe(seen[seen.length - 1]);

    await expectSame();
    await book.ensure([KLAVIYO]);
    await expectChanged();
    await book.ensure([KLAVIYO]);
    await expectSame();
    // Same clock instant as the previous change: a max(changed_at) fingerprint would miss it.
    await book.setState('sd-klaviyo', 'paused', ADMIN);
    await expectChanged();
    await book.setState('sd-klaviyo', 'enabled', ADMIN);
    await expectChanged();
    await book.recordAuthFailure('sd-klaviyo', { pauseAfter: 2, reason: 'x' });
    await book.recordSuccess('sd-klaviyo');
    await expectSame();
    await book.recordAuthFailure('sd-klaviyo', { pauseAfter: 1, reason: 'x' });
    await expectChanged();
    await book.setSourceHold('src-web', true, ADMIN);
    await expectChanged();
    await book.setSourceHold('src-web', false, ADMIN);
    await expectChanged();
  });
});
