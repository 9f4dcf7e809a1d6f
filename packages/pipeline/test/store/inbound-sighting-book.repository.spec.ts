import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { InboundSightingBook } from '../../src/store';
import { at } from './store-fixture';

describe.each(STORE_DRIVERS)('InboundSightingBook on %s', (driver) => {
  let store: Store;

  beforeEach(async () => {
    store = await openScratchStore(driver);
  });

  afterEach(() => store.close());

  it('keeps the latest sighting per destination, contact point and channel; never moves one back', async () => {
    const book = new InboundSightingBook(store);
    await book.record('sd-klaviyo', [
      { subjectKey: 'k-ada', channel: 'email', seenAt: at(5) },
      { subjectKey: 'k-ada', channel: 'email', seenAt: at(7) },
      { subjectKey: 'k-ada', channel: 'sms', seenAt: at(3) },
    ]);
    await book.record('sd-braze', [{ subjectKey: 'k-ada', channel: 'email', seenAt: at(9) }]);
    // An older sighting read late does not move the bound back.
    await book.record('sd-klaviyo', [{ subjectKey: 'k-ada', channel: 'email', seenAt: at(6) }]);
    const seen = await book.lastSeen('sd-klaviyo', [
      { subjectKey: 'k-ada', channel: 'email' },
      { subjectKey: 'k-bob', channel: 'email' },
    ]);
    expect(seen.get(InboundSightingBook.key({ subjectKey: 'k-ada', channel: 'email' }))).toEqual(at(7));
    expect(seen.get(InboundSightingBook.key({ subjectKey: 'k-ada', channel: 'sms' }))).toEqual(at(3));
    expect(seen.has(InboundSightingBook.key({ subjectKey: 'k-bob', channel: 'email' }))).toBe(false);
    await book.record('sd-klaviyo', [{ subjectKey: 'k-ada', channel: 'email', seenAt: at(20) }]);
    expect(
      (await book.lastSeen('sd-klaviyo', [{ subjectKey: 'k-ada', channel: 'email' }])).get(
        InboundSightingBook.key({ subjectKey: 'k-ada', channel: 'email' }),
      ),
    ).toEqual(at(20));
    expect(await book.lastSeen('sd-klaviyo', [])).toEqual(new Map());
  });
});
