import type { PointsUpdatedData } from '@tessera/events';
import { definePlugin } from '@tessera/transform';

export interface PointsWinbackConfig {
  stagnantDays: number;
  segment: string;
  minBalance: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Win-back enrolment: a member whose points have not moved for `stagnantDays` (and who still holds at least
 * `minBalance` points worth coming back for) joins the win-back segment; earning points again takes them out.
 */
export const pointsWinbackPlugin = definePlugin<PointsWinbackConfig>({
  name: 'points-winback',
  version: '1.0.0',
  description:
    'Enrols members whose points balance has stagnated into a win-back segment, and removes them when they earn again.',
  configSchema: {
    type: 'object',
    properties: {
      stagnantDays: { type: 'integer', minimum: 1, maximum: 3650, default: 90 },
      segment: { type: 'string', minLength: 1, default: 'win-back' },
      minBalance: { type: 'number', minimum: 0, default: 1 },
    },
    additionalProperties: false,
  },
  transform(event, profile, { config, now }) {
    const member = {
      customerId: profile.customer_id,
      segment: config.segment,
      ...(profile.email === undefined ? {} : { email: profile.email }),
    };
    if (event.type === 'points.updated') {
      const data = event.data as PointsUpdatedData;
      return data.delta > 0 ? [{ operation: 'removeFromSegment', item: member }] : [];
    }
    const since =
      profile.points_updated_at === undefined ? Number.NaN : Date.parse(profile.points_updated_at);
    if (Number.isNaN(since) || (profile.points_balance ?? 0) < config.minBalance) return [];
    const stagnant = now.getTime() - since >= config.stagnantDays * DAY_MS;
    return stagnant ? [{ operation: 'addToSegment', item: member }] : [];
  },
});
