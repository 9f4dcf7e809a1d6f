import type { EventType } from '@tessera/events';
import { definePlugin, type UnifiedProfile } from '@tessera/transform';
import { profileUpsert } from './profile-items';

/** The canonical profile fields a destination may receive (contact points travel beside them). */
export const SYNCABLE_FIELDS = [
  'first_name',
  'last_name',
  'address',
  'date_of_birth',
  'loyalty_tier',
  'points_balance',
  'last_purchase_date',
  'total_lifetime_value',
  'preferred_channel',
  'locale',
] as const satisfies readonly (keyof UnifiedProfile)[];

/** Events that change what a destination holds about a member. */
const PROFILE_CHANGING: EventType[] = [
  'profile.updated',
  'points.updated',
  'tier.changed',
  'transaction.created',
  'points.captured',
  'account.linked',
];

export interface ProfileSyncConfig {
  fields: string[];
  events: string[];
}

/** Canonical profile → destination attributes: one upsert with the configured fields after a profile change. */
export const profileSyncPlugin = definePlugin<ProfileSyncConfig>({
  name: 'profile-sync',
  version: '1.0.0',
  description: 'Upserts the unified profile (the configured canonical fields) whenever an event changes it.',
  configSchema: {
    type: 'object',
    properties: {
      fields: {
        type: 'array',
        items: { enum: [...SYNCABLE_FIELDS] },
        uniqueItems: true,
        default: [...SYNCABLE_FIELDS],
      },
      events: { type: 'array', items: { type: 'string' }, uniqueItems: true, default: PROFILE_CHANGING },
    },
    additionalProperties: false,
  },
  transform(event, profile, { config }) {
    if (!config.events.includes(event.type)) return [];
    const attributes: Record<string, unknown> = {};
    for (const field of config.fields) {
      const value = profile[field as keyof UnifiedProfile];
      if (value !== undefined) attributes[field] = value;
    }
    return [{ operation: 'upsertProfiles', item: profileUpsert(profile, attributes) }];
  },
});
