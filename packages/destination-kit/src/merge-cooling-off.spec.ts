import { defineDestination, DestinationDefinitionError, type ProfileMerge } from './destination-definition';
import {
  decideMergeRelease,
  DEFAULT_MERGE_COOLING_OFF_MINUTES,
  MERGE_COOLING_OFF_SETTING,
  mergeCoolingOffMsOf,
  probabilisticMergeReason,
} from './merge-cooling-off';
import { ManualClock } from './retry-policy';
import { DestinationHarness } from './sandbox/destination-harness';

const NOW = Date.parse('2026-03-10T12:00:00Z');

/** A destination that merges by posting the due merges to /merges. */
const merger = (extra: Record<string, unknown> = {}) =>
  defineDestination<{ baseUrl: string; mergeCoolingOffMinutes?: number }>({
    type: 'merger',
    name: 'Merger',
    hosts: ['merger.invalid'],
    settingsSchema: {
      type: 'object',
      properties: { baseUrl: { type: 'string', default: 'https://merger.invalid' }, ...extra },
      additionalProperties: false,
    },
    requestHeaders: (): Record<string, string> => ({}),
    testConnection: async () => undefined,
    operations: {
      mergeProfiles: {
        batchSize: 10,
        perform: async (items, { http }) => {
          await http.post('/merges', items);
          return items.map(() => ({ status: 'ok' }));
        },
      },
    },
  });

const merge = (extra: Partial<ProfileMerge> = {}): ProfileMerge => ({
  customerId: 'C1',
  mergedCustomerId: 'C2',
  mergedWasGuest: false,
  basis: 'deterministic',
  mergedAt: new Date(NOW - 30 * 60_000).toISOString(),
  ...extra,
});

describe('the merge cooling-off every merging destination shares', () => {
  let harness: DestinationHarness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  async function start(settings: Record<string, unknown>, clock = new ManualClock(NOW)) {
    harness = await DestinationHarness.start({
      definition: merger() as never,
      settings,
      runner: { clock },
    });
    return { harness, clock };
  }

  it('adds mergeCoolingOffMinutes (default 24 h) to a destination that merges, and only to one', () => {
    expect(merger().settingsSchema.properties['mergeCoolingOffMinutes']).toBe(MERGE_COOLING_OFF_SETTING);
    expect(DEFAULT_MERGE_COOLING_OFF_MINUTES).toBe(1440);
    const plain = defineDestination({
      ...merger(),
      settingsSchema: {
        type: 'object',
        properties: { baseUrl: { type: 'string', default: 'https://m.invalid' } },
      },
      operations: { fetchProfiles: { batchSize: 1, perform: async () => [] } },
    });
    expect(plain.settingsSchema.properties['mergeCoolingOffMinutes']).toBeUndefined();
  });

  it("refuses a destination's own mergeCoolingOffMinutes at load", () => {
    expect(() => merger({ mergeCoolingOffMinutes: { type: 'integer' } })).toThrow(
      new DestinationDefinitionError(
        'merger',
        'settingsSchema.properties.mergeCoolingOffMinutes',
        "is the kit's own setting (the merge cooling-off)",
      ),
    );
  });

  it('holds a merge with the default 24 h, retrying it when the period ends, never sending it early', async () => {
    const { harness, clock } = await start({});
    const fresh = merge({ mergedAt: new Date(NOW - 3_600_000).toISOString() });

    expect(await harness.run('mergeProfiles', [fresh])).toEqual([
      {
        status: 'retry',
        afterMs: 23 * 3_600_000,
        reason: 'Cooling off until 2026-03-11T11:00:00.000Z before an irreversible Merger merge',
      },
    ]);
    clock.advance(23 * 3_600_000 - 1);
    expect((await harness.run('mergeProfiles', [fresh]))[0]).toMatchObject({ status: 'retry', afterMs: 1 });
    expect(harness.requests()).toEqual([]);

    clock.advance(1);
    expect(await harness.run('mergeProfiles', [fresh])).toEqual([{ status: 'ok' }]);
    expect(harness.requests().map((request) => [request.path, request.body])).toEqual([['/merges', [fresh]]]);
  });

  it('sends due merges only, answering the others in place; 0 sends at once', async () => {
    const { harness } = await start({ mergeCoolingOffMinutes: 20 });
    const results = await harness.run('mergeProfiles', [
      merge({ basis: 'probabilistic' }),
      merge({ mergedCustomerId: 'C3', mergedAt: new Date(NOW - 10 * 60_000).toISOString() }),
      merge({ mergedCustomerId: 'C4', basis: 'human' }),
      merge({ mergedCustomerId: 'C1' }),
      merge({ mergedCustomerId: 'C5', mergedAt: 'yesterday' }),
    ]);
    expect(results).toEqual([
      { status: 'rejected', reason: probabilisticMergeReason('Merger') },
      {
        status: 'retry',
        afterMs: 10 * 60_000,
        reason: 'Cooling off until 2026-03-10T12:10:00.000Z before an irreversible Merger merge',
      },
      { status: 'ok' },
      { status: 'rejected', reason: 'Cannot merge C1 into itself' },
      { status: 'rejected', reason: 'mergedAt is not an ISO-8601 time: "yesterday"' },
    ]);
    expect(harness.requests().map((request) => request.body)).toEqual([
      [merge({ mergedCustomerId: 'C4', basis: 'human' })],
    ]);
  });

  it('refuses a cooling-off outside 0..43,200 minutes', async () => {
    await expect(start({ mergeCoolingOffMinutes: 43_201 })).rejects.toThrow(
      'Destination "merger" settings are invalid: /mergeCoolingOffMinutes must be <= 43200',
    );
    const { harness } = await start({ mergeCoolingOffMinutes: 0 });
    expect(await harness.run('mergeProfiles', [merge({ mergedAt: new Date(NOW).toISOString() })])).toEqual([
      { status: 'ok' },
    ]);
  });

  it('decides the release of a merge from its basis and age', () => {
    const due = merge({ mergedAt: new Date(NOW - 60_000).toISOString() });
    expect(decideMergeRelease(due, 60_000, NOW)).toEqual({ action: 'send' });
    expect(decideMergeRelease(due, 120_000, NOW)).toEqual({
      action: 'wait',
      afterMs: 60_000,
      until: new Date(NOW + 60_000).toISOString(),
    });
    expect(mergeCoolingOffMsOf({})).toBe(1440 * 60_000);
    expect(mergeCoolingOffMsOf({ mergeCoolingOffMinutes: 0 })).toBe(0);
  });
});
