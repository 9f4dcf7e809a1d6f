import { definePlugin } from './plugins/plugin-definition';
import { RuleSetError } from './rules';
import { BRAND_RULES, event, PROFILE } from './rules/rule-fixtures';
import { previewTransform } from './transform-harness';

const vipPlugin = definePlugin<{ segment: string }>({
  name: 'vip-flag',
  version: '1.0.0',
  description: 'Adds Gold members to a segment.',
  configSchema: {
    type: 'object',
    properties: { segment: { type: 'string', default: 'gold' } },
    additionalProperties: false,
  },
  transform: (_event, profile, { config }) =>
    profile.loyalty_tier === 'Gold'
      ? [{ operation: 'addToSegment', item: { customerId: profile.customer_id, segment: config.segment } }]
      : [],
});

const throwingPlugin = definePlugin({
  name: 'broken',
  version: '0.1.0',
  description: 'Always throws.',
  configSchema: { type: 'object' },
  transform: () => {
    throw new Error('no tier table loaded');
  },
});

describe('previewTransform', () => {
  const points = event(
    'points.updated',
    { customer_id: 'cus_123', delta: 120, new_balance: 3200 },
    'evt_points',
  );

  it('returns, per sample, the rule operations then each plugin operations, as plain JSON', async () => {
    const [result] = await previewTransform({
      rules: BRAND_RULES,
      plugins: [{ plugin: vipPlugin, config: { segment: 'gold-club' } }],
      samples: [{ event: points, profile: PROFILE }],
    });
    expect(result?.eventId).toBe('evt_points');
    expect(result?.errors).toEqual([]);
    expect(result?.operations.map((operation) => operation.operation)).toEqual([
      'upsertProfiles',
      'addToSegment',
      'removeFromSegment',
      'addToSegment',
    ]);
    expect(result?.operations[0]?.item).toMatchObject({
      customerId: 'cus_123',
      attributes: {
        loyalty_tier: 'Gold',
        points_to_next_tier: 1800,
        brand_name: 'Preview brand',
        synced_at: '2024-06-01T00:00:00.000Z',
      },
    });
    expect(result?.operations[3]).toEqual({
      operation: 'addToSegment',
      item: { customerId: 'cus_123', segment: 'gold-club' },
    });
  });

  it('reports a failing plugin per sample by name, and keeps the other operations', async () => {
    const results = await previewTransform({
      plugins: [{ plugin: throwingPlugin }, { plugin: vipPlugin }],
      samples: [
        { event: points, profile: PROFILE },
        { event: points, profile: { ...PROFILE, loyalty_tier: 'Silver' } },
      ],
    });
    expect(results.map((result) => result.errors)).toEqual([
      ['plugin "broken": no tier table loaded'],
      ['plugin "broken": no tier table loaded'],
    ]);
    expect(results.map((result) => result.operations.length)).toEqual([1, 0]);
  });

  it('reports a rule that fails at run time with its path and position', async () => {
    const [result] = await previewTransform({
      rules: { mappings: { reason: 'event.data.reason' } },
      samples: [{ event: points, profile: PROFILE }],
    });
    expect(result?.operations).toEqual([]);
    expect(result?.errors).toHaveLength(1);
    expect(result?.errors[0]).toMatch(/^rules mappings\.reason \(1:\d+\): .*reason/);
  });

  it('refuses rules that cannot be saved, with every problem', async () => {
    await expect(
      previewTransform({
        rules: { conditions: ['profile.loyalty_teir == "Gold"'], mappings: { x: '1 +' } },
        samples: [],
      }),
    ).rejects.toBeInstanceOf(RuleSetError);
  });
});
