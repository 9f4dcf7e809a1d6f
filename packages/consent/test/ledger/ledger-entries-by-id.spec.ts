import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { ConsentLedger } from '../../src/ledger';
import { emailKey, entry } from './ledger-fixture';

// The profile API shows the provenance of the entry that decided each current state (issue 19 item 11).

describe.each(STORE_DRIVERS)('ConsentLedger.entriesById on %s', (driver) => {
  let store: Store;
  let ledger: ConsentLedger;

  beforeAll(async () => {
    store = await openScratchStore(driver);
    ledger = new ConsentLedger(store);
  });

  afterAll(() => store.close());

  it('reads the entries that decided the states, with their whole provenance', async () => {
    const key = emailKey('ana@example.com');
    const granted = entry({ key, decision: 'granted', at: 1, dedupeKey: 'g1', proofRef: 'doi-77' });
    granted.provenance.proof = { method: 'double_opt_in', ip_index: 'idx', user_agent: 'Firefox' };
    await ledger.append([
      granted,
      entry({ key, decision: 'withdrawn', at: 5, dedupeKey: 'w1', brand: 'flannels' }),
    ]);
    const states = await ledger.stateInEveryBrand([key]);
    expect(states.map((state) => [state.scope.brand, state.decision])).toEqual([
      ['flannels', 'withdrawn'],
      ['sd', 'granted'],
    ]);
    const entries = await ledger.entriesById([
      ...states.map((state) => state.ledgerId),
      states[0]?.ledgerId ?? 0,
    ]);
    expect(entries.map((found) => found.id)).toEqual(
      states.map((state) => state.ledgerId).sort((a, b) => a - b),
    );
    const sd = entries.find((found) => found.scope.brand === 'sd');
    expect(sd?.provenance).toEqual({
      source: 'src-web',
      noticeVersion: 'v1',
      proofRef: 'doi-77',
      proof: { method: 'double_opt_in', ip_index: 'idx', user_agent: 'Firefox' },
      capturedAt: '2026-01-01T00:01:00.000Z',
      receivedAt: '2026-01-01T00:02:00.000Z',
      actor: 'source:src-web',
    });
    expect(await ledger.entriesById([])).toEqual([]);
    expect(await ledger.entriesById([987_654])).toEqual([]);
  });
});
