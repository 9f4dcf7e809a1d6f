import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { PipelineSubjectErasure } from '../../src/erasure/pipeline-subject-erasure.service';
import {
  DeadLetterBox,
  DeliveryLog,
  DestinationSyncState,
  RawEventLog,
  UnresolvedEvents,
  type RawEventKey,
} from '../../src/store';
import { ingested, tableText, vault } from '../store/store-fixture';

// Issue 18, item 2: an event that resolved to no profile (no usable identifier, or not resolved yet) is found by
// no customer id, yet it may carry the person's email or phone. The erasure opens such events and removes the
// person's, leaving each its tombstone; everyone else's stay.

const SUBJECT_EMAIL = 'zeferina.quixotaria@example.com';
/** The blind index a DSR request keeps of the subject's email (as `contactKeysOf` computes it from an event). */
const emailKey = (email: string) => vault.blindIndex('email', email.toLowerCase());

describe.each(STORE_DRIVERS)('erasing events that resolved to no profile, on %s', (driver) => {
  let store: Store;
  let rawLog: RawEventLog;
  let erasure: PipelineSubjectErasure;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    rawLog = new RawEventLog(store, vault);
    erasure = new PipelineSubjectErasure({
      rawLog,
      unresolved: new UnresolvedEvents(store, vault),
      contactKeysOf: (_brand, data) => (typeof data['email'] === 'string' ? [emailKey(data['email'])] : []),
      deliveryLog: new DeliveryLog(store),
      deadLetters: new DeadLetterBox(store, vault),
      syncState: new DestinationSyncState(store, vault),
      // Redis holds nothing of the subject here: the sweep has its own suite (redis-erasure-sweep.spec.ts).
      sweep: {
        sweep: async () => ({ jobsRemoved: 0, jobsRewritten: 0, windowItemsRemoved: 0, eventKeys: [] }),
      },
    });
  });
  afterEach(() => store.close());

  const keys = async () =>
    (await store.query<{ event_id: string }>('SELECT event_id FROM raw_events ORDER BY event_id')).map(
      (row) => row.event_id,
    );

  it('opens every unresolved event, over several pages, and erases the subject’s only', async () => {
    // 1,204 unresolved events (more than two pages of 500); the subject's are on the first and the last page.
    const others = Array.from({ length: 1_200 }, (_, index) =>
      ingested({ id: `other-${String(index).padStart(4, '0')}`, received: index }),
    );
    const subjects = [
      ingested({ id: 'subject-early', received: 1, email: SUBJECT_EMAIL }),
      ingested({ id: 'subject-late', received: 1_300, email: SUBJECT_EMAIL.toUpperCase() }),
    ];
    const resolvedOfSubject = ingested({
      id: 'subject-resolved',
      received: 5,
      email: 'other.address@example.com',
    });
    const resolvedOther = ingested({ id: 'kept-resolved', received: 6, email: SUBJECT_EMAIL });
    expect(await rawLog.append([...others, ...subjects, resolvedOfSubject, resolvedOther])).toHaveLength(
      1_204,
    );
    const keyOf = (event: ReturnType<typeof ingested>): RawEventKey => ({
      sourceId: event.sourceId,
      eventSource: event.event.source,
      eventId: event.event.id,
    });
    // Two events resolved: one to the subject's profile (found by its customer id), one to another profile: only
    // unresolved events are opened and asked.
    await store.transaction((tx) =>
      rawLog.markResolved(
        [
          { key: keyOf(resolvedOfSubject), customerId: 'C-SUBJECT' },
          { key: keyOf(resolvedOther), customerId: 'C-OTHER' },
        ],
        tx,
      ),
    );

    const counts = await erasure.erase({
      customerIds: ['C-SUBJECT'],
      subjectKeys: [emailKey(SUBJECT_EMAIL)],
      requestId: 'dsr-1',
    });

    expect(counts['rawEvents']).toBe(3);
    const left = await keys();
    expect(left).toHaveLength(1_201);
    expect(left).not.toContain('subject-early');
    expect(left).not.toContain('subject-late');
    expect(left).not.toContain('subject-resolved');
    expect(left).toContain('kept-resolved');
    expect(left).toContain('other-0000');
    expect(left).toContain('other-1199');
    // Each erased event leaves its tombstone: a retry of it is recognised, and is not stored again.
    const erased = await rawLog.erasedAmong(subjects.map(keyOf));
    expect(erased.size).toBe(2);
    expect(await rawLog.append(subjects)).toEqual([false, false]);
    expect(await tableText(store, 'raw_events')).not.toContain('subject-');
  });

  it('erases nothing when no unresolved event carries the subject', async () => {
    await rawLog.append([ingested({ id: 'a' }), ingested({ id: 'b' })]);
    const counts = await erasure.erase({
      customerIds: ['C-NOBODY'],
      subjectKeys: [emailKey(SUBJECT_EMAIL)],
      requestId: 'dsr-1',
    });
    expect(counts['rawEvents']).toBe(0);
    expect(await keys()).toEqual(['a', 'b']);
  });
});
