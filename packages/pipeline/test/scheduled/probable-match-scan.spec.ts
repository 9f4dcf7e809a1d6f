import { randomBytes } from 'node:crypto';
import { IdentityGraph, MatchReview, type IdentityRecord } from '@tessera/identity-graph';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import {
  PROBABLE_MATCH_CURSOR,
  ProbableMatchScan,
  type ProbableMatchCursor,
} from '../../src/scheduled/probable-match-scan.service';
import { ScheduleCursorBook } from '../../src/scheduled/schedule-cursor-book.repository';

/** Traits that score as one person (the identity graph's match-review spec). */
const eleanor = {
  first_name: 'Eleanor',
  last_name: 'Whitfield',
  address: { postcode: 'LS6 2AB' },
  date_of_birth: '1987-04-12',
};

// The minutely scan on both stores, through the real MatchReview and identity graph.
describe.each(STORE_DRIVERS)('ProbableMatchScan on %s', (driver) => {
  let store: Store;
  let graph: IdentityGraph;
  let sequence = 0;

  beforeAll(async () => {
    store = await openScratchStore(driver);
    graph = new IdentityGraph({
      store,
      vault: new PiiVault([randomBytes(32)]),
      brands: [
        { id: 'sports-direct', defaultCountry: 'GB' },
        { id: 'flannels', defaultCountry: 'GB' },
        { id: 'group', defaultCountry: 'GB' },
      ],
    });
  }, 30_000);
  afterAll(() => store.close());
  beforeEach(async () => {
    await store.execScript(
      `TRUNCATE identity_profiles, identity_identifiers, identity_edges, identity_lineage, identity_outbox,
                identity_match_keys, identity_review_pairs, identity_blocked_pairs, schedule_cursors CASCADE`,
    );
  });

  async function profile(
    identifiers: IdentityRecord['identifiers'],
    traits: Record<string, unknown>,
  ): Promise<string> {
    sequence += 1;
    const result = await graph.resolveIdentities([
      {
        brand: 'group',
        eventTime: new Date(Date.UTC(2026, 0, 1, 0, 0, sequence)),
        eventSource: 'test',
        eventId: `evt-${sequence}`,
        identifiers,
        traits,
      },
    ]);
    return result.records[0]?.customerId ?? '';
  }

  // No settling wait: every profile written so far has committed.
  const scan = (options: { pageSize?: number; settleMs?: number } = {}) =>
    new ProbableMatchScan({
      store,
      cursors: new ScheduleCursorBook(store),
      review: new MatchReview(graph),
      settleMs: options.settleMs ?? 0,
      ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
    });

  it('queues two anchored look-alikes of different brands once, then compares nothing until something changes', async () => {
    const a = await profile({ member_id: 'SD1', brand: 'sports-direct' }, eleanor);
    const b = await profile({ member_id: 'FL1', brand: 'flannels' }, eleanor);
    await profile({ email: 'nobody@example.com' }, { first_name: 'Nobody' }); // no blocking keys: not read

    expect(await scan().run()).toEqual({ profiles: 2, pages: 1, compared: 1, merged: 0, queued: 1 });
    const [pending, ...more] = await new MatchReview(graph).listReviews({ status: 'pending' });
    expect(more).toEqual([]);
    expect(pending.customerIds).toEqual([a, b].sort());
    const cursor = await new ScheduleCursorBook(store).get<ProbableMatchCursor>(PROBABLE_MATCH_CURSOR);
    // The cursor rests on the last profile in scan order: the later change, or the larger id on a tie.
    const [last] = await store.query<{ customer_id: string }>(
      `SELECT customer_id FROM identity_profiles WHERE customer_id = ANY ($1::text[])
        ORDER BY updated_at DESC, customer_id DESC LIMIT 1`,
      [[a, b]],
    );
    expect(cursor?.after.customerId).toBe(last?.customer_id);

    expect(await scan().run()).toEqual({ profiles: 0, pages: 0, compared: 0, merged: 0, queued: 0 });
  });

  it('scans, on the next run, a profile changed after the previous one', async () => {
    await profile({ member_id: 'SD1', brand: 'sports-direct' }, eleanor);
    expect(await scan().run()).toMatchObject({ profiles: 1, compared: 0 });

    await profile({ member_id: 'FL1', brand: 'flannels' }, eleanor);
    expect(await scan().run()).toEqual({ profiles: 1, pages: 1, compared: 1, merged: 0, queued: 1 });
    expect(await scan().run()).toMatchObject({ profiles: 0 });
  });

  it('reads in pages, moving the cursor after each', async () => {
    for (const id of ['SD1', 'SD2', 'SD3'])
      await profile({ member_id: id, brand: 'sports-direct' }, { ...eleanor, first_name: `E${id}` });
    const cursors = new ScheduleCursorBook(store);
    const seen: string[][] = [];
    const paged = new ProbableMatchScan({
      store,
      cursors,
      review: {
        findProbableMatches: async (customerIds) => {
          seen.push(customerIds);
          return { compared: 0, merges: [], queued: 0 };
        },
      },
      pageSize: 2,
      settleMs: 0,
    });
    expect(await paged.run()).toMatchObject({ profiles: 3, pages: 2 });
    expect(seen.map((page) => page.length)).toEqual([2, 1]);
    expect(new Set(seen.flat()).size).toBe(3);
  });

  it('leaves a change younger than the settling time to a later run', async () => {
    await profile({ member_id: 'SD1', brand: 'sports-direct' }, eleanor);
    expect(await scan({ settleMs: 3_600_000 }).run()).toMatchObject({ profiles: 0 });
    expect(await scan().run()).toMatchObject({ profiles: 1 });
  });

  it('merges a strong match with an unanchored side, through the outbox like any merge', async () => {
    const member = await profile({ member_id: 'SD1', brand: 'sports-direct' }, eleanor);
    const guest = await profile(
      { anonymous_id: 'showroom-guest-7' },
      { ...eleanor, address: { postcode: 'ls62ab' } },
    );

    expect(await scan().run()).toEqual({ profiles: 2, pages: 1, compared: 1, merged: 1, queued: 0 });
    expect(await new MatchReview(graph).listReviews()).toEqual([]);
    const outbox = await store.query<{ type: string; data: Record<string, unknown> }>(
      'SELECT type, data FROM identity_outbox WHERE published_at IS NULL',
    );
    expect(outbox).toEqual([
      {
        type: 'membership.merged',
        data: expect.objectContaining({ from_customer_id: guest, to_customer_id: member }),
      },
    ]);
    expect((await graph.getProfile('anonymous_id:showroom-guest-7'))?.customerId).toBe(member);
  });
});
