import fc from 'fast-check';
import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import type { ConsentEntry, ConsentState } from '../../src/consent-contract';
import { ConsentLedger, foldConsentStates } from '../../src/ledger';
import { emailKey, entry } from './ledger-fixture';

const KEYS = [emailKey('ana@example.com'), emailKey('bruno@example.com')];

// A small universe with few distinct times: many entries share a scope and a captured time.
const entrySpec = fc.record({
  key: fc.constantFrom(...KEYS),
  brand: fc.constantFrom('sd', 'flannels'),
  purpose: fc.constantFrom('marketing', 'newsletter'),
  decision: fc.constantFrom<'granted' | 'withdrawn'>('granted', 'withdrawn'),
  at: fc.integer({ min: 0, max: 4 }),
  proofRef: fc.option(fc.constantFrom('p1', 'p2', 'p3'), { nil: undefined }),
  legalBasis: fc.constantFrom<'consent' | 'soft_opt_in'>('consent', 'soft_opt_in'),
  customerId: fc.option(fc.constantFrom('C1', 'C2', 'C3'), { nil: undefined }),
});

const histories = fc
  .array(entrySpec, { minLength: 1, maxLength: 16 })
  .map((specs) => specs.map((spec, index) => entry({ ...spec, dedupeKey: `d${index}` })));

/** The history in a random order, cut into random batches (with a retried batch now and then). */
const batched = histories.chain((history) =>
  fc.tuple(
    fc.constant(history),
    fc.shuffledSubarray(history, { minLength: history.length }),
    fc.array(fc.integer({ min: 1, max: 5 }), { minLength: history.length, maxLength: history.length }),
    fc.boolean(),
  ),
);

function batches(entries: ConsentEntry[], sizes: number[]): ConsentEntry[][] {
  const result: ConsentEntry[][] = [];
  for (let start = 0, index = 0; start < entries.length; start += sizes[index], index += 1) {
    result.push(entries.slice(start, start + sizes[index]));
  }
  return result;
}

const sortStates = (states: ConsentState[]) =>
  [...states].sort((a, b) =>
    JSON.stringify([a.subject.key, a.scope]).localeCompare(JSON.stringify([b.subject.key, b.scope])),
  );

describe.each(STORE_DRIVERS)('ConsentLedger properties on %s', (driver) => {
  let store: Store;
  let ledger: ConsentLedger;

  beforeAll(async () => {
    store = await openScratchStore(driver);
    ledger = new ConsentLedger(store);
  });

  afterAll(() => store.close());

  const reset = () => store.query('TRUNCATE consent_ledger, consent_state, audit_log RESTART IDENTITY');

  const stateTable = async () => {
    const rows = await store.query<{ key: string; brand: string }>(
      `SELECT subject_key AS key, brand FROM consent_state`,
    );
    const keys = [...new Set(rows.map((row) => row.key))];
    const states = (await Promise.all(['sd', 'flannels'].map((brand) => ledger.state(keys, brand)))).flat();
    expect(states).toHaveLength(rows.length);
    return sortStates(states);
  };

  const ledgerFold = async () => sortStates(foldConsentStates(await ledger.history()));

  // (b) The derived table is the fold of the ledger, whatever the batches and order; a rebuild changes nothing.
  it('keeps consent_state equal to the fold of the ledger (property)', async () => {
    await fc.assert(
      fc.asyncProperty(batched, async ([, shuffled, sizes, retry]) => {
        await reset();
        let appended = 0;
        for (const batch of batches(shuffled, sizes)) {
          appended += (await ledger.append(batch)).appended;
          if (retry) expect((await ledger.append(batch)).appended).toBe(0);
        }
        const ledgerRows = await ledger.history();
        expect(ledgerRows).toHaveLength(appended);
        const state = await stateTable();
        expect(state).toEqual(await ledgerFold());
        expect(await ledger.rebuildState()).toBe(state.length);
        expect(await stateTable()).toEqual(state);
      }),
      { numRuns: 25 },
    );
  });

  // (c) Customer ids are informational: reassigning them (a merge, a split) changes no contact point's consent.
  it('moves no consent when customer ids are reassigned (property)', async () => {
    const reassigned = histories.chain((history) =>
      fc.tuple(
        fc.constant(history),
        fc.array(fc.option(fc.constantFrom('C1', 'C2', 'C3', 'MERGED'), { nil: undefined }), {
          minLength: history.length,
          maxLength: history.length,
        }),
      ),
    );
    const outcome = async (entries: ConsentEntry[]) => {
      await reset();
      const results = [await ledger.append(entries.slice(0, 5)), await ledger.append(entries.slice(5))];
      const byId = new Map((await ledger.history()).map((item) => [item.id, item.dedupeKey]));
      const states = (await stateTable()).map(({ ledgerId, ...state }) => ({
        ...state,
        by: byId.get(ledgerId),
      }));
      return { states, refused: results.flatMap((result) => result.refused) };
    };
    await fc.assert(
      fc.asyncProperty(reassigned, async ([history, customerIds]) => {
        const before = await outcome(history);
        const after = await outcome(
          history.map((item, index) => {
            const { customerId: _old, ...subject } = item.subject;
            const customerId = customerIds[index];
            return { ...item, subject: customerId === undefined ? subject : { ...subject, customerId } };
          }),
        );
        expect(after).toEqual(before);
      }),
      { numRuns: 25 },
    );
  });
});
