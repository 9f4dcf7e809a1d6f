import type { TierChangedData } from '@tessera/events';
import { definePlugin, type DestinationOperation } from '@tessera/transform';

export interface TierChangeConfig {
  vipTiers: string[];
  vipSegment: string;
}

/** A tier change: the tier attribute, and VIP segment membership added or removed. */
export const tierChangePlugin = definePlugin<TierChangeConfig>({
  name: 'tier-change',
  version: '1.0.0',
  description:
    'On tier.changed, updates the loyalty_tier attribute and adds or removes the member from the VIP segment.',
  configSchema: {
    type: 'object',
    properties: {
      vipTiers: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        minItems: 1,
        default: ['Gold', 'Platinum'],
      },
      vipSegment: { type: 'string', minLength: 1, default: 'vip' },
    },
    additionalProperties: false,
  },
  transform(event, profile, { config }) {
    if (event.type !== 'tier.changed') return [];
    const data = event.data as TierChangedData;
    const vip = config.vipTiers.some((tier) => tier.toLowerCase() === data.tier.toLowerCase());
    const email = profile.email === undefined ? {} : { email: profile.email };
    const operations: DestinationOperation[] = [
      {
        operation: 'updateAttributes',
        item: {
          customerId: profile.customer_id,
          version: profile.version,
          ...email,
          attributes: {
            loyalty_tier: data.tier,
            ...(data.previous_tier === undefined ? {} : { previous_tier: data.previous_tier }),
          },
        },
      },
      {
        operation: vip ? 'addToSegment' : 'removeFromSegment',
        item: { customerId: profile.customer_id, segment: config.vipSegment, ...email },
      },
    ];
    return operations;
  },
});
