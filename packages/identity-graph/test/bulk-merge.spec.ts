import { createHash } from 'node:crypto';
import { STORE_DRIVERS, type Store } from '@tessera/store';
import {
  BulkMerge,
  BulkMergeError,
  IdentityNotFoundError,
  type BulkMergeRow,
  type IdentifierType,
} from '../src';
import { emptyGraph, openGraph, record, type GraphFixture, customerIdOf } from './graph-fixture';

/** An identifier as a migration file carries it: SHA-256 of the normalized value. */
const hashed = (type: IdentifierType, value: string, scope?: string) => ({
  type,
  ...(scope === undefined ? {} : { scope }),
  sha256: createHash('sha256').update(value).digest('hex'),
});
const consent = (reference: string) => ({ reference, capturedAt: '2025-11-01T09:00:00Z' });

const GRAPH_TABLES = [
  'identity_identifiers',
  'identity_edges',
  'identity_rejected_edges',
  'identity_lineage',
  'identity_profiles',
  'identity_outbox',
];

async function graphSnapshot(store: Store): Promise<Record<string, unknown[]>> {
  const snapshot: Record<string, unknown[]> = {};
  for (const table of GRAPH_TABLES) snapshot[table] = await store.query(`SELECT * FROM ${table} ORDER BY 1`);
  return snapshot;
}

describe.each(STORE_DRIVERS)('bulk merge on %s', (driver) => {
  let fixture: GraphFixture;
  let bulk: BulkMerge;
  let brandIds: Record<'SD1' | 'SD2' | 'SD3', string>;

  beforeAll(async () => {
    fixture = await openGraph(driver);
    bulk = new BulkMerge(fixture.graph);
  }, 30_000);
  afterAll(() => fixture.close());

  beforeEach(async () => {
    await emptyGraph(fixture.store);
    const { graph } = fixture;
    const brand = await graph.resolveIdentities(
      [
        ['SD1', 'ana@example.com'],
        ['SD2', 'bruno@example.com'],
        ['SD3', 'carla@example.com'],
      ].map(([memberId, email]) =>
        record(
          { member_id: memberId, brand: 'sports-direct', email },
          { eventTime: new Date('2024-01-01T00:00:00Z') },
        ),
      ),
    );
    brandIds = {
      SD1: customerIdOf(brand),
      SD2: customerIdOf(brand, 1),
      SD3: customerIdOf(brand, 2),
    };
    // The group programme's own accounts; C4 already holds another Sports Direct member id.
    await graph.resolveIdentities([
      record({ customer_id: 'C1' }, { eventTime: new Date('2025-06-01T00:00:00Z') }),
      record({ customer_id: 'C2' }, { eventTime: new Date('2025-06-01T00:00:00Z') }),
      record(
        { customer_id: 'C4', member_id: 'SD9', brand: 'sports-direct' },
        { eventTime: new Date('2025-06-01T00:00:00Z') },
      ),
    ]);
  });

  const file = (): BulkMergeRow[] => [
    {
      ref: 'r1',
      identifiers: [hashed('customer_id', 'C1'), hashed('member', 'SD1', 'sports-direct')],
      consent: consent('consent-1'),
    },
    {
      ref: 'r2',
      identifiers: [
        hashed('customer_id', 'C2'),
        hashed('member', 'SD2', 'Sports-Direct'),
        hashed('email', 'bruno@example.com'),
      ],
      consent: consent('consent-2'),
    },
    {
      ref: 'r3',
      identifiers: [hashed('customer_id', 'C4'), hashed('member', 'SD3', 'sports-direct')],
      consent: consent('consent-3'),
    },
    {
      ref: 'r4',
      identifiers: [hashed('customer_id', 'C404'), hashed('email', 'nobody@example.com')],
      consent: consent('consent-4'),
    },
    { ref: 'r5', identifiers: [hashed('customer_id', 'C1')] } as unknown as BulkMergeRow,
    {
      ref: 'r6',
      identifiers: [{ type: 'passport' as IdentifierType, sha256: 'ab'.repeat(32) }],
      consent: consent('consent-6'),
    },
    // Already one profile: linked, and nothing to write.
    {
      ref: 'r7',
      identifiers: [hashed('email', 'carla@example.com'), hashed('member', 'SD3', 'sports-direct')],
      consent: consent('consent-7'),
    },
  ];

  const expectedReport = () => ({
    batchId: expect.stringMatching(/^bulk_[0-9a-f]{20}$/),
    rows: 7,
    linkedRows: 3,
    merges: [
      { from: 'C1', to: brandIds.SD1 },
      { from: 'C2', to: brandIds.SD2 },
    ],
    componentSizes: { '3': 2 },
    unknownIdentifiers: 2,
    rejected: [
      { ref: 'r3', reason: 'anchor conflict: two different member.sports-direct values never merge' },
      { ref: 'r5', reason: 'no consent: every row needs consent.reference and consent.capturedAt' },
      { ref: 'r6', reason: 'identifier 1: unknown identifier type "passport"' },
    ],
  });
  const byFrom = (merges: Array<{ from: string; to: string }>) =>
    [...merges].sort((a, b) => a.from.localeCompare(b.from));

  it('plans a dry run that reports the outcome and leaves the graph untouched', async () => {
    const before = await graphSnapshot(fixture.store);
    const progress: Array<[number, number]> = [];
    const report = await bulk.plan({
      rows: file(),
      actor: 'ops@tessera',
      onProgress: (done, total) => progress.push([done, total]),
    });

    expect({ ...report, merges: byFrom(report.merges) }).toEqual(expectedReport());
    expect(await graphSnapshot(fixture.store)).toEqual(before);
    const batches = await fixture.store.query<{
      id: string;
      status: string;
      actor: string;
      report: Record<string, unknown>;
    }>('SELECT id, status, actor, report FROM identity_bulk_batches');
    expect(batches).toEqual([
      {
        id: report.batchId,
        status: 'planned',
        actor: 'ops@tessera',
        report: expect.objectContaining(report),
      },
    ]);
    // First pass with r3, then again without it.
    expect(progress).toEqual([
      [3, 3],
      [2, 2],
    ]);
  });

  it('applies the batch as bulk edges that carry the batch id and each row’s consent', async () => {
    const plan = await bulk.plan({ rows: file(), actor: 'ops@tessera' });
    const applied = await bulk.apply(plan.batchId, 'lead@tessera');

    expect(applied).toEqual(plan);
    for (const [reference, customerId] of [
      ['customer_id:C1', brandIds.SD1],
      ['customer_id:C2', brandIds.SD2],
      ['customer_id:C4', 'C4'],
      ['member.sports-direct:SD3', brandIds.SD3],
    ]) {
      expect((await fixture.graph.getProfile(reference))?.customerId).toBe(customerId);
    }
    const edges = await fixture.store.query(
      'SELECT kind, batch_id, actor, consent_reference FROM identity_edges WHERE batch_id IS NOT NULL ORDER BY id',
    );
    const edge = (reference: string) => ({
      kind: 'bulk',
      batch_id: plan.batchId,
      actor: 'lead@tessera',
      consent_reference: reference,
    });
    expect(edges).toEqual([edge('consent-1'), edge('consent-2'), edge('consent-2')]);
    const lineage = await fixture.store.query(
      'SELECT kind, loser, rule, actor, batch_id FROM identity_lineage ORDER BY loser',
    );
    expect(lineage).toEqual(
      ['C1', 'C2'].map((loser) => ({
        kind: 'merge',
        loser,
        rule: `bulk: migration batch ${plan.batchId}`,
        actor: 'lead@tessera',
        batch_id: plan.batchId,
      })),
    );
    expect(await fixture.store.query('SELECT status FROM identity_bulk_batches')).toEqual([
      { status: 'applied' },
    ]);

    await expect(bulk.apply(plan.batchId, 'lead@tessera')).rejects.toThrow(
      new BulkMergeError(`bulk batch ${plan.batchId} was already applied`),
    );
  });

  it('rolls a batch back so every identifier returns to its profile', async () => {
    const plan = await bulk.plan({ rows: file(), actor: 'ops@tessera' });
    await expect(bulk.rollback(plan.batchId, 'lead@tessera')).rejects.toThrow(
      new BulkMergeError(`bulk batch ${plan.batchId} was never applied`),
    );
    const membership = () =>
      fixture.store.query('SELECT id, customer_id FROM identity_identifiers ORDER BY id');
    const before = await membership();
    await bulk.apply(plan.batchId, 'lead@tessera');
    expect(await membership()).not.toEqual(before);

    expect(await bulk.rollback(plan.batchId, 'lead@tessera')).toEqual({ restoredProfiles: 2 });
    expect(await membership()).toEqual(before);
    expect(
      await fixture.store.query(
        "SELECT customer_id, status, merged_into FROM identity_profiles WHERE customer_id IN ('C1', 'C2') ORDER BY 1",
      ),
    ).toEqual([
      { customer_id: 'C1', status: 'active', merged_into: null },
      { customer_id: 'C2', status: 'active', merged_into: null },
    ]);
    const outbox = await fixture.store.query<{
      type: string;
      data: { from_customer_id: string; to_customer_id: string };
    }>('SELECT type, data FROM identity_outbox ORDER BY id');
    expect(
      outbox
        .filter((event) => event.type === 'membership.split')
        .map((event) => event.data.to_customer_id)
        .sort(),
    ).toEqual(['C1', 'C2']);
    expect(
      await fixture.store.query(
        'SELECT DISTINCT retraction_reason FROM identity_edges WHERE batch_id IS NOT NULL',
      ),
    ).toEqual([{ retraction_reason: `bulk rollback ${plan.batchId}` }]);
    expect(
      await fixture.store.query(
        "SELECT id FROM identity_lineage WHERE kind = 'merge' AND reverted_by IS NULL",
      ),
    ).toEqual([]);

    await expect(bulk.rollback(plan.batchId, 'lead@tessera')).rejects.toThrow(
      new BulkMergeError(`bulk batch ${plan.batchId} was already rolled back`),
    );
    await expect(bulk.apply(plan.batchId, 'lead@tessera')).rejects.toThrow(
      new BulkMergeError(`bulk batch ${plan.batchId} was rolled back; plan the file again to re-apply it`),
    );
  });

  it('refuses a batch over 100,000 rows and an unknown batch', async () => {
    const rows = new Array<BulkMergeRow>(100_001).fill(file()[0]);
    await expect(bulk.plan({ rows, actor: 'ops@tessera' })).rejects.toThrow(
      new BulkMergeError('a bulk merge batch holds at most 100000 rows, this one has 100001: split the file'),
    );
    await expect(bulk.apply('bulk_missing', 'ops@tessera')).rejects.toThrow(
      new IdentityNotFoundError('no bulk batch bulk_missing'),
    );
    expect(await fixture.store.query('SELECT id FROM identity_bulk_batches')).toEqual([]);
  });
});
