import type { BatchResult, SegmentMembership } from '@tessera/destination-kit';
import {
  emulatorOf,
  type KlaviyoHarness,
  member,
  requestLines,
  startHarness,
} from '../klaviyo-destination-test-support';

const GOLD = 'Gold01';
const VIP = 'Vip001';
const LISTS = {
  emulator: {
    lists: [
      { id: GOLD, name: 'Gold' },
      { id: VIP, name: 'VIP' },
    ],
  },
};
const SETTINGS = { listIds: { 'gold-tier': GOLD, vip: VIP } };

const membersOf = (harness: KlaviyoHarness, listId: string) =>
  (
    emulatorOf(harness)
      .state()
      .lists.find((list) => list.id === listId)?.profileIds ?? []
  ).sort();

/** Upserts members 1..n (one bulk job when n ≥ 20) and returns their Klaviyo ids by customer id. */
async function seed(harness: KlaviyoHarness, n: number): Promise<Map<string, string>> {
  const results = await harness.run(
    'upsertProfiles',
    Array.from({ length: n }, (_, i) => member(i + 1)),
  );
  expect(results.every((result) => result.status === 'ok')).toBe(true);
  const ids = new Map<string, string>();
  for (let i = 1; i <= n; i++) {
    const customerId = member(i).customerId;
    const found = emulatorOf(harness).findProfile({ externalId: customerId });
    if (found !== undefined) ids.set(customerId, found.id);
  }
  harness.clearRequests();
  return ids;
}

const idsOf = (results: BatchResult) =>
  results.map((result) => (result.status === 'ok' ? result.externalId : result.status));

describe('Klaviyo list membership (addToSegment, removeFromSegment)', () => {
  let harness: KlaviyoHarness;

  afterEach(async () => {
    const violations = harness.violations();
    await harness.close();
    expect(violations).toEqual([]);
  });

  it('sends the ids a previous write returned without a lookup: one request per list, the ids back', async () => {
    harness = await startHarness(SETTINGS, LISTS);
    const ids = await seed(harness, 3);
    const [a, b, c] = ['C00001', 'C00002', 'C00003'].map((customerId) => ids.get(customerId) ?? '');
    const items: SegmentMembership[] = [
      { customerId: 'C00001', segment: 'gold-tier', externalId: a },
      { customerId: 'C00002', segment: 'gold-tier', externalId: b },
      { customerId: 'C00003', segment: 'vip', externalId: c },
      { customerId: 'C00001', segment: 'vip', externalId: a },
      { customerId: 'C00001', segment: 'platinum', externalId: a },
      { customerId: 'C00002', segment: 'gold-tier', externalId: b },
    ];
    const results = await harness.run('addToSegment', items);
    expect(results).toEqual([
      { status: 'ok', externalId: a },
      { status: 'ok', externalId: b },
      { status: 'ok', externalId: c },
      { status: 'ok', externalId: a },
      {
        status: 'rejected',
        reason: 'No Klaviyo list is mapped to segment "platinum" (add it to the listIds setting)',
      },
      { status: 'ok', externalId: b },
    ]);
    const requests = harness.requests();
    expect(requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      `POST /api/lists/${GOLD}/relationships/profiles`,
      `POST /api/lists/${VIP}/relationships/profiles`,
    ]);
    expect(requests.map((request) => request.body)).toEqual([
      {
        data: [
          { type: 'profile', id: a },
          { type: 'profile', id: b },
        ],
      },
      {
        data: [
          { type: 'profile', id: c },
          { type: 'profile', id: a },
        ],
      },
    ]);
    expect(membersOf(harness, GOLD)).toEqual([a, b].sort());
    expect(membersOf(harness, VIP)).toEqual([a, c].sort());

    harness.clearRequests();
    const removed = await harness.run('removeFromSegment', [
      { customerId: 'C00001', segment: 'gold-tier', externalId: a },
    ]);
    expect(removed).toEqual([{ status: 'ok', externalId: a }]);
    expect(requestLines(harness)).toEqual([`DELETE /api/lists/${GOLD}/relationships/profiles`]);
    expect(membersOf(harness, GOLD)).toEqual([b]);
  });

  it('finds the others by email, 100 to a query, and adds up to 1,000 profiles per request', async () => {
    harness = await startHarness(SETTINGS, LISTS);
    const ids = await seed(harness, 1_050);
    const items = Array.from({ length: 1_050 }, (_, i) => ({
      customerId: member(i + 1).customerId,
      segment: 'gold-tier',
      // Klaviyo keeps emails lower-cased; the look-up matches whatever case the item carries.
      email: i === 7 ? 'MEMBER8@Example.com' : (member(i + 1).email ?? ''),
    }));
    const results = await harness.run('addToSegment', items);
    expect(idsOf(results)).toEqual(items.map((item) => ids.get(item.customerId)));
    // Batches of 1,000 (the operation's batch size): 10 look-ups and one request, then 1 and 1.
    expect(requestLines(harness)).toEqual([
      ...Array.from({ length: 10 }, () => 'GET /api/profiles'),
      `POST /api/lists/${GOLD}/relationships/profiles`,
      'GET /api/profiles',
      `POST /api/lists/${GOLD}/relationships/profiles`,
    ]);
    const [firstQuery] = harness.requests();
    const query = new URL(firstQuery?.path ?? '', 'http://sandbox').searchParams;
    expect(query.get('page[size]')).toBe('100');
    expect(query.get('fields[profile]')).toBe('email,external_id');
    expect(query.get('filter')).toBe(
      `any(email,[${Array.from({ length: 100 }, (_, i) => JSON.stringify(i === 7 ? 'member8@example.com' : `member${i + 1}@example.com`)).join(',')}])`,
    );
    const posts = harness.requests().filter((request) => request.method === 'POST');
    expect(posts.map((request) => (request.body as { data: unknown[] }).data.length)).toEqual([1_000, 50]);
    expect(membersOf(harness, GOLD)).toHaveLength(1_050);
  });

  it('finds members without an email by customer id; one Klaviyo lacks is retried when added, ok when removed', async () => {
    harness = await startHarness(SETTINGS, LISTS);
    const ids = await seed(harness, 2);
    const added = await harness.run('addToSegment', [
      { customerId: 'C00001', segment: 'gold-tier', email: 'member1@example.com' },
      { customerId: 'C00002', segment: 'gold-tier' },
      { customerId: 'C09999', segment: 'gold-tier' },
      { customerId: 'C08888', segment: 'gold-tier', email: 'ghost@example.com' },
    ]);
    expect(added).toEqual([
      { status: 'ok', externalId: ids.get('C00001') },
      { status: 'ok', externalId: ids.get('C00002') },
      { status: 'retry', afterMs: 60_000, reason: 'Klaviyo holds no profile for customer C09999 yet' },
      { status: 'retry', afterMs: 60_000, reason: 'Klaviyo holds no profile for customer C08888 yet' },
    ]);
    const filters = harness
      .requests()
      .filter((request) => request.method === 'GET')
      .map((request) => new URL(request.path, 'http://sandbox').searchParams.get('filter'));
    expect(filters).toEqual([
      'any(email,["member1@example.com","ghost@example.com"])',
      'any(external_id,["C00002","C09999"])',
    ]);
    expect(requestLines(harness).slice(2)).toEqual([`POST /api/lists/${GOLD}/relationships/profiles`]);

    harness.clearRequests();
    const removed = await harness.run('removeFromSegment', [
      { customerId: 'C09999', segment: 'gold-tier' },
      { customerId: 'C08888', segment: 'gold-tier', email: 'ghost@example.com' },
    ]);
    expect(removed).toEqual([{ status: 'ok' }, { status: 'ok' }]);
    // Nothing to remove: no relationships request at all.
    expect(requestLines(harness)).toEqual(['GET /api/profiles', 'GET /api/profiles']);
  });

  it('looks up again an id Klaviyo no longer holds and adds the profile under its new id', async () => {
    harness = await startHarness(SETTINGS, LISTS);
    const ids = await seed(harness, 2);
    const oldId = ids.get('C00001') ?? '';
    // Klaviyo erased the profile, and a later upsert created it again under a new id.
    await harness.run('deleteProfiles', [{ customerId: 'C00001', email: 'member1@example.com' }]);
    await harness.run('upsertProfiles', [member(1)]);
    const newId = emulatorOf(harness).findProfile({ externalId: 'C00001' })?.id ?? '';
    expect(newId).not.toBe(oldId);
    harness.clearRequests();

    const results = await harness.run('addToSegment', [
      { customerId: 'C00001', segment: 'gold-tier', email: 'member1@example.com', externalId: oldId },
      {
        customerId: 'C00002',
        segment: 'gold-tier',
        email: 'member2@example.com',
        externalId: ids.get('C00002'),
      },
    ]);
    expect(results).toEqual([
      { status: 'ok', externalId: newId },
      { status: 'ok', externalId: ids.get('C00002') },
    ]);
    expect(harness.requests().map((request) => [request.method, request.status])).toEqual([
      ['POST', 400],
      ['POST', 204],
      ['GET', 200],
      ['POST', 204],
    ]);
    expect(membersOf(harness, GOLD)).toEqual([newId, ids.get('C00002')].sort());

    // A removal for a profile Klaviyo erased: nothing to remove.
    await harness.run('deleteProfiles', [{ customerId: 'C00002', email: 'member2@example.com' }]);
    harness.clearRequests();
    const removed = await harness.run('removeFromSegment', [
      {
        customerId: 'C00002',
        segment: 'gold-tier',
        email: 'member2@example.com',
        externalId: ids.get('C00002'),
      },
    ]);
    expect(removed).toEqual([{ status: 'ok' }]);
    expect(harness.requests().map((request) => [request.method, request.status])).toEqual([
      ['DELETE', 400],
      ['GET', 200],
    ]);
  });

  it('settles each request on its own: a throttled list or look-up retries only the items it carried', async () => {
    harness = await startHarness(SETTINGS, LISTS);
    const ids = await seed(harness, 3);
    harness.sandbox.injectFault('klaviyo', {
      kind: 'rate-limit',
      pathPrefix: `/api/lists/${VIP}`,
      retryAfterSeconds: 7,
    });
    const results = await harness.run('addToSegment', [
      { customerId: 'C00001', segment: 'gold-tier', externalId: ids.get('C00001') },
      { customerId: 'C00002', segment: 'vip', externalId: ids.get('C00002') },
    ]);
    expect(results).toEqual([
      { status: 'ok', externalId: ids.get('C00001') },
      { status: 'retry', afterMs: 7_000, reason: expect.stringMatching(/^HTTP 429/) },
    ]);

    harness.sandbox.injectFault('klaviyo', {
      kind: 'rate-limit',
      pathPrefix: '/api/profiles',
      retryAfterSeconds: 3,
    });
    const lookedUp = await harness.run('addToSegment', [
      { customerId: 'C00003', segment: 'vip', email: 'member3@example.com' },
      { customerId: 'C00002', segment: 'vip', externalId: ids.get('C00002') },
    ]);
    expect(lookedUp).toEqual([
      { status: 'retry', afterMs: 3_000, reason: expect.stringMatching(/^HTTP 429/) },
      { status: 'ok', externalId: ids.get('C00002') },
    ]);
    expect(membersOf(harness, VIP)).toEqual([ids.get('C00002')]);
  });
});
