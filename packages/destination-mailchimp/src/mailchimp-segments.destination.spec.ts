import type { DestinationHarness } from '@tessera/destination-kit';
import type { MailchimpEmulator } from './emulator/mailchimp.emulator';
import type { MailchimpSettings } from './mailchimp-settings';
import { MEMBER_NOT_FOUND_RETRY_MS } from './requests/segment-membership.request';
import {
  hashOf,
  LIST,
  member,
  type MailchimpTestBench,
  startMailchimpBench,
} from './testing/mailchimp-test-bench';

// Segment membership in bulk: one static segment call per segment (a tag is a static segment) and 500 members.

describe('Mailchimp segments and tags against the sandbox', () => {
  let bench: MailchimpTestBench;
  let emulator: MailchimpEmulator;
  let harness: DestinationHarness<MailchimpSettings>;

  async function start(...args: Parameters<typeof startMailchimpBench>): Promise<void> {
    bench = await startMailchimpBench(...args);
    ({ emulator, harness } = bench);
  }

  const lines = (): string[] => bench.lines();
  const stored = (n: number) => bench.stored(n);

  afterEach(async () => {
    const violations = harness.violations();
    await harness.close();
    expect(violations).toEqual([]);
  });

  it('finds or creates each tag once, then changes its members in one call per tag', async () => {
    await start();
    const existingVip = emulator.addStaticSegment(LIST, 'vip');
    await harness.run('upsertProfiles', [member(1), member(2), member(3)]);
    harness.clearRequests();

    const added = await harness.run('addToSegment', [
      { customerId: 'C00001', segment: 'gold', email: 'member1@example.com' },
      { customerId: 'C00002', segment: 'gold', email: 'member2@example.com' },
      { customerId: 'C00001', segment: 'vip', email: 'member1@example.com' },
      { customerId: 'C00003', segment: 'vip', email: 'member3@example.com' },
    ]);

    expect(added).toEqual([1, 2, 1, 3].map((n) => ({ status: 'ok', externalId: hashOf(n) })));
    const goldId = emulator.state().lists[LIST]?.segments.find((segment) => segment.name === 'gold')?.id;
    expect(lines().sort()).toEqual(
      [
        `GET /3.0/lists/${LIST}/tag-search?name=gold`,
        `GET /3.0/lists/${LIST}/tag-search?name=vip`,
        `POST /3.0/lists/${LIST}/segments`,
        `POST /3.0/lists/${LIST}/segments/${goldId}`,
        `POST /3.0/lists/${LIST}/segments/${existingVip}`,
      ].sort(),
    );
    expect(
      harness.requests().find((request) => request.path === `/3.0/lists/${LIST}/segments`)?.body,
    ).toEqual({
      name: 'gold',
      static_segment: [],
    });
    expect([stored(1)?.tags, stored(2)?.tags, stored(3)?.tags]).toEqual([['vip', 'gold'], ['gold'], ['vip']]);

    harness.clearRequests();
    const removed = await harness.run('removeFromSegment', [
      { customerId: 'C00001', segment: 'gold', email: 'member1@example.com' },
      { customerId: 'C00002', segment: 'gold', email: 'member2@example.com' },
      { customerId: 'C00003', segment: 'never-made', email: 'member3@example.com' },
    ]);

    expect(removed).toEqual([1, 2, 3].map((n) => ({ status: 'ok', externalId: hashOf(n) })));
    expect(lines().sort()).toEqual(
      [
        `GET /3.0/lists/${LIST}/tag-search?name=never-made`,
        `POST /3.0/lists/${LIST}/segments/${goldId}`,
      ].sort(),
    );
    expect(harness.requests().find((request) => request.method === 'POST')?.body).toEqual({
      members_to_remove: ['member1@example.com', 'member2@example.com'],
    });
    expect([stored(1)?.tags, stored(2)?.tags]).toEqual([['vip'], []]);
  });

  it('changes 1,000 members of one tag in 2 calls of 500, after one lookup', async () => {
    await start();
    const ids = Array.from({ length: 1000 }, (_, index) => index + 1);
    await harness.run(
      'upsertProfiles',
      ids.map((n) => member(n)),
    );
    harness.clearRequests();

    const results = await harness.run(
      'addToSegment',
      ids.map((n) => ({ customerId: `C${n}`, segment: 'vip', email: `member${n}@example.com` })),
    );

    expect(results.every((result) => result.status === 'ok')).toBe(true);
    expect(lines().filter((line) => line.startsWith('POST'))).toHaveLength(3);
    expect(
      harness
        .requests()
        .filter((request) => /segments\/\d+$/.test(request.path))
        .map((request) => (request.body as { members_to_add: string[] }).members_to_add.length),
    ).toEqual([500, 500]);
    expect(lines().filter((line) => line.includes('tag-search'))).toHaveLength(1);
    expect(emulator.state().lists[LIST]?.segments[0]?.member_ids).toHaveLength(1000);
  });

  it('looks a tag up once per runner, and makes it again when the marketer deleted it', async () => {
    await start();
    await harness.run('upsertProfiles', [member(1), member(2)]);
    await harness.run('addToSegment', [
      { customerId: 'C00001', segment: 'vip', email: 'member1@example.com' },
    ]);
    harness.clearRequests();

    await harness.run('addToSegment', [
      { customerId: 'C00002', segment: 'vip', email: 'member2@example.com' },
    ]);
    expect(lines()).toEqual([`POST /3.0/lists/${LIST}/segments/1001`]);

    emulator.deleteSegmentInEsp(LIST, '1001');
    harness.clearRequests();
    const results = await harness.run('addToSegment', [
      { customerId: 'C00002', segment: 'vip', email: 'member2@example.com' },
    ]);

    expect(results).toEqual([{ status: 'ok', externalId: hashOf(2) }]);
    expect(
      harness.requests().map((request) => `${request.method} ${request.path} ${request.status}`),
    ).toEqual([
      `POST /3.0/lists/${LIST}/segments/1001 404`,
      `GET /3.0/lists/${LIST}/tag-search?name=vip 200`,
      `POST /3.0/lists/${LIST}/segments 200`,
      `POST /3.0/lists/${LIST}/segments/1002 200`,
    ]);
    expect(stored(2)?.tags).toEqual(['vip']);
  });

  it('retries an addition for a member Mailchimp does not hold yet, and skips items without an email', async () => {
    await start();
    const results = await harness.run('addToSegment', [
      { customerId: 'C00009', segment: 'gold', email: 'member9@example.com' },
      { customerId: 'C00010', segment: 'gold' },
    ]);

    expect(results).toEqual([
      {
        status: 'retry',
        afterMs: MEMBER_NOT_FOUND_RETRY_MS,
        reason: `Mailchimp has no member member9@example.com yet (Email addresses are not members of list ${LIST}): the segment change waits for its upsert`,
      },
      {
        status: 'skipped',
        reason: 'Customer C00010 has no email address: Mailchimp audiences are keyed by email',
      },
    ]);
  });

  it('changes mapped segments through their static segment, grouped by segment', async () => {
    await start({ segmentIds: { gold: '1001' } });
    const segmentId = emulator.addStaticSegment(LIST, 'Gold tier');
    expect(segmentId).toBe('1001');
    await harness.run('upsertProfiles', [member(1), member(2)]);
    harness.clearRequests();

    const added = await harness.run('addToSegment', [
      { customerId: 'C00001', segment: 'gold', email: 'member1@example.com' },
      { customerId: 'C00002', segment: 'gold', email: 'Member2@example.com' },
      { customerId: 'C00003', segment: 'gold', email: 'member3@example.com' },
    ]);

    expect(added.map((result) => result.status)).toEqual(['ok', 'ok', 'retry']);
    expect(harness.requests()).toMatchObject([
      {
        path: `/3.0/lists/${LIST}/segments/${segmentId}`,
        body: { members_to_add: ['member1@example.com', 'Member2@example.com', 'member3@example.com'] },
      },
    ]);
    expect(emulator.state().lists[LIST]?.segments).toEqual([
      { id: segmentId, name: 'Gold tier', member_ids: [hashOf(1), hashOf(2)] },
    ]);

    const removed = await harness.run('removeFromSegment', [
      { customerId: 'C00002', segment: 'gold', email: 'member2@example.com' },
    ]);

    expect(removed).toEqual([{ status: 'ok', externalId: hashOf(2) }]);
    expect(emulator.state().lists[LIST]?.segments[0]?.member_ids).toEqual([hashOf(1)]);
  });
});
