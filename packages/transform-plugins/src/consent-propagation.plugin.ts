import type { ConsentChangedData } from '@tessera/events';
import { definePlugin } from '@tessera/transform';

export interface ConsentPropagationConfig {
  channels: ('email' | 'sms')[];
  purpose: string;
}

/**
 * Mirrors the consent ledger in the ESP: a grant for the brand's channel subscribes the contact point, a
 * withdrawal unsubscribes it. Other brands' consent and other purposes are not this destination's business.
 */
export const consentPropagationPlugin = definePlugin<ConsentPropagationConfig>({
  name: 'consent-propagation',
  version: '1.0.0',
  description:
    "On consent.changed for this destination's brand, subscribes or unsubscribes the member's contact point.",
  configSchema: {
    type: 'object',
    properties: {
      channels: {
        type: 'array',
        items: { enum: ['email', 'sms'] },
        uniqueItems: true,
        minItems: 1,
        default: ['email', 'sms'],
      },
      purpose: { type: 'string', minLength: 1, default: 'marketing' },
    },
    additionalProperties: false,
  },
  transform(event, profile, { config, brand }) {
    if (event.type !== 'consent.changed') return [];
    const data = event.data as ConsentChangedData;
    if (data.brand !== brand.id || (data.purpose ?? 'marketing') !== config.purpose) return [];
    if (data.channel === 'mobile_push' || !config.channels.includes(data.channel)) return [];
    const contact =
      data.channel === 'email'
        ? { email: profile.email ?? data.email }
        : { phone: profile.phone ?? data.phone };
    const item = {
      customerId: profile.customer_id,
      channel: data.channel,
      changedAt: data.captured_at,
      ...Object.fromEntries(Object.entries(contact).filter(([, value]) => value !== undefined)),
    };
    return [{ operation: data.status === 'granted' ? 'subscribe' : 'unsubscribe', item }];
  },
});
