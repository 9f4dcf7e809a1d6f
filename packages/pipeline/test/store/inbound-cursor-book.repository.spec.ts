import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { InboundCursorBook } from '../../src/store';
import { at } from './store-fixture';

describe.each(STORE_DRIVERS)('InboundCursorBook on %s', (driver) => {
  let store: Store;

  beforeEach(async () => {
    store = await openScratchStore(driver);
  });

  afterEach(() => store.close());

  it('keeps one cursor per destination, with when it was polled', async () => {
    const book = new InboundCursorBook(store);
    expect(await book.get('sd-klaviyo')).toBeUndefined();
    await book.set('sd-klaviyo', 'page-1', at(1));
    await book.set('sd-braze', 'b-9', at(1));
    await book.set('sd-klaviyo', 'page-2', at(2));
    expect(await book.get('sd-klaviyo')).toBe('page-2');
    expect(await book.polledAt('sd-klaviyo')).toEqual(at(2));
    expect(await book.get('sd-braze')).toBe('b-9');
    expect(await book.polledAt('sd-mailchimp')).toBeUndefined();
  });
});
