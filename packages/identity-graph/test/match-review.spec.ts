import { STORE_DRIVERS } from '@tessera/store';
import { IdentityChangeRefusedError, MatchReview } from '../src';
import { openGraph, record, type GraphFixture, customerIdOf } from './graph-fixture';

const eleanor = {
  first_name: 'Eleanor',
  last_name: 'Whitfield',
  address: { postcode: 'LS6 2AB' },
  date_of_birth: '1987-04-12',
};

describe.each(STORE_DRIVERS)('probabilistic matching and the review queue on %s', (driver) => {
  let fixture: GraphFixture;
  let review: MatchReview;
  beforeEach(async () => {
    fixture = await openGraph(driver);
    review = new MatchReview(fixture.graph);
  });
  afterEach(() => fixture.close());

  const profile = async (identifiers: Parameters<typeof record>[0], traits: Record<string, unknown>) =>
    customerIdOf(await fixture.graph.resolveIdentities([record(identifiers, { traits })]));

  it('merges a strong match when one side holds no anchor, with the score and model on the edge', async () => {
    const member = await profile({ member_id: 'SD1', brand: 'sports-direct' }, eleanor);
    const guest = await profile(
      { anonymous_id: 'showroom-guest-7' },
      { ...eleanor, address: { postcode: 'ls62ab' } },
    );
    const run = await review.findProbableMatches([guest]);
    expect(run).toMatchObject({ compared: 1, queued: 0 });
    expect(run.merges).toEqual([
      expect.objectContaining({ from: guest, to: member, rule: 'probabilistic: score 38.7 (fs-2026-11-1)' }),
    ]);
    const edges = await fixture.store.query<{ kind: string; score: number; model_version: string }>(
      "SELECT kind, score, model_version FROM identity_edges WHERE kind = 'probabilistic'",
    );
    expect(edges).toEqual([
      { kind: 'probabilistic', score: expect.closeTo(38.7, 1), model_version: 'fs-2026-11-1' },
    ]);
    expect((await fixture.graph.getProfile('anonymous_id:showroom-guest-7'))?.customerId).toBe(member);
  });

  it('never auto-merges two anchored profiles: the pair waits for a person', async () => {
    const a = await profile({ member_id: 'SD1', brand: 'sports-direct' }, eleanor);
    const b = await profile({ member_id: 'FL1', brand: 'flannels' }, eleanor);
    const run = await review.findProbableMatches([a, b]);
    expect(run).toEqual({ compared: 1, merges: [], queued: 1 });
    const [pending] = await review.listReviews({ status: 'pending' });
    expect(pending).toMatchObject({
      customerIds: [a, b].sort(),
      status: 'pending',
      modelVersion: 'fs-2026-11-1',
    });
    expect(pending.comparisons.map((comparison) => [comparison.field, comparison.level])).toEqual(
      expect.arrayContaining([
        ['firstName', 'exact'],
        ['lastName', 'exact'],
        ['postcode', 'exact'],
        ['dateOfBirth', 'exact'],
      ]),
    );
    // Scoring again does not queue the pair twice.
    expect(await review.findProbableMatches([a])).toEqual({ compared: 0, merges: [], queued: 0 });
  });

  it('never queues two profiles whose anchors conflict: nobody could approve them', async () => {
    const a = await profile({ member_id: 'SD1', brand: 'sports-direct' }, eleanor);
    const b = await profile({ member_id: 'SD2', brand: 'sports-direct' }, eleanor);
    expect(await review.findProbableMatches([a, b])).toEqual({ compared: 0, merges: [], queued: 0 });
    expect(await review.listReviews()).toEqual([]);
  });

  it('queues a middling pair; approving writes a review edge and merges them', async () => {
    const a = await profile({ member_id: 'SD1', brand: 'sports-direct' }, eleanor);
    const b = await profile(
      { email: 'elenor.w@example.com' },
      { first_name: 'Elenor', last_name: 'Whitfield', address: { postcode: 'LS6 2AB' } },
    );
    expect(await review.findProbableMatches([b])).toEqual({ compared: 1, merges: [], queued: 1 });
    const [pending] = await review.listReviews();
    const decided = await review.decide(pending.id, 'approve', 'reviewer@tessera');
    expect(decided.review).toMatchObject({ status: 'approved', decidedBy: 'reviewer@tessera' });
    expect(decided.merges).toEqual([
      expect.objectContaining({ from: b, to: a, rule: `review ${pending.id}: approved by reviewer@tessera` }),
    ]);
    expect(await fixture.store.query("SELECT kind, actor FROM identity_edges WHERE kind = 'review'")).toEqual(
      [{ kind: 'review', actor: 'reviewer@tessera' }],
    );
    await expect(review.decide(pending.id, 'reject', 'someone')).rejects.toThrow(
      new IdentityChangeRefusedError(`review ${pending.id} was already approved by reviewer@tessera`),
    );
  });

  it('rejecting blocks the pair: later events cannot join them', async () => {
    const a = await profile({ member_id: 'SD1', brand: 'sports-direct' }, eleanor);
    const b = await profile(
      { email: 'elenor.w@example.com' },
      { first_name: 'Elenor', last_name: 'Whitfield', address: { postcode: 'LS6 2AB' } },
    );
    await review.findProbableMatches([b]);
    const [pending] = await review.listReviews();
    await review.decide(pending.id, 'reject', 'reviewer@tessera');
    expect(await fixture.store.query('SELECT reason, actor FROM identity_blocked_pairs')).toEqual([
      { reason: `review ${pending.id} rejected`, actor: 'reviewer@tessera' },
    ]);
    const linking = await fixture.graph.resolveIdentities([
      record({ member_id: 'SD1', brand: 'sports-direct', email: 'elenor.w@example.com' }),
    ]);
    expect(linking.records[0].customerId).toBe(a);
    expect(linking.merges).toEqual([]);
    expect((await fixture.graph.getProfile('email:elenor.w@example.com'))?.customerId).toBe(b);
    expect(await review.findProbableMatches([b])).toEqual({ compared: 0, merges: [], queued: 0 });
  });
});
