import type { CatalogEvent, EventDataMap, EventType } from '@tessera/events';
import {
  type DestinationOperation,
  type TransformPlugin,
  type UnifiedProfile,
  validatePluginConfig,
} from '@tessera/transform';
import {
  consentPropagationPlugin,
  mergeCleanupPlugin,
  pointsWinbackPlugin,
  profileSyncPlugin,
  tierChangePlugin,
} from './index';

const NOW = new Date('2026-11-23T12:00:00Z');
const brand = { id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' };
const destination = { id: 'sd-klaviyo', type: 'klaviyo' };

const profile = (overrides: Partial<UnifiedProfile> = {}): UnifiedProfile => ({
  customer_id: 'C123456',
  version: 7,
  email: 'ada@example.com',
  phone: '+447700900123',
  first_name: 'Ada',
  loyalty_tier: 'Silver',
  points_balance: 1840,
  points_updated_at: '2026-11-20T10:00:00Z',
  ...overrides,
});

function event<T extends EventType>(type: T, data: EventDataMap[T]): CatalogEvent {
  return {
    specversion: '1.0',
    id: `evt-${type}`,
    source: 'https://loyalty.example.com',
    type,
    data,
  } as CatalogEvent;
}

function run<Config>(
  plugin: TransformPlugin<Config>,
  input: CatalogEvent,
  member: UnifiedProfile = profile(),
  config: Record<string, unknown> = {},
): DestinationOperation[] {
  const validated = validatePluginConfig(plugin, config);
  const result = plugin.transform(input, member, { config: validated, brand, destination, now: NOW });
  if (result instanceof Promise) throw new Error('built-in plugins are synchronous');
  return result;
}

describe('profile-sync', () => {
  it('upserts the canonical fields and contact points after a profile-changing event', () => {
    const operations = run(
      profileSyncPlugin,
      event('points.updated', { customer_id: 'C123456', delta: 120, new_balance: 1840 }),
    );
    expect(operations).toEqual([
      {
        operation: 'upsertProfiles',
        item: {
          customerId: 'C123456',
          version: 7,
          email: 'ada@example.com',
          phone: '+447700900123',
          attributes: { first_name: 'Ada', loyalty_tier: 'Silver', points_balance: 1840 },
        },
      },
    ]);
  });

  it('sends only the configured fields, and nothing for events outside its list', () => {
    const operations = run(
      profileSyncPlugin,
      event('tier.changed', { customer_id: 'C123456', tier: 'Gold' }),
      profile(),
      { fields: ['loyalty_tier'] },
    );
    expect(operations[0]?.item).toMatchObject({ attributes: { loyalty_tier: 'Silver' } });
    expect(Object.keys((operations[0]?.item as { attributes: object }).attributes)).toEqual(['loyalty_tier']);
    const viewed = event('showroom.viewed_3d_model', {
      anonymous_id: 'guest-1',
      showroom_id: 's1',
      product_id: 'p1',
    });
    expect(run(profileSyncPlugin, viewed)).toEqual([]);
  });

  it('refuses a field that is not canonical', () => {
    expect(() => validatePluginConfig(profileSyncPlugin, { fields: ['password'] })).toThrow(/profile-sync/);
  });
});

describe('tier-change', () => {
  it('sets the tier and adds a member reaching a VIP tier to the VIP segment', () => {
    const operations = run(
      tierChangePlugin,
      event('tier.changed', { customer_id: 'C123456', tier: 'Gold', previous_tier: 'Silver' }),
    );
    expect(operations).toEqual([
      {
        operation: 'updateAttributes',
        item: {
          customerId: 'C123456',
          version: 7,
          email: 'ada@example.com',
          attributes: { loyalty_tier: 'Gold', previous_tier: 'Silver' },
        },
      },
      {
        operation: 'addToSegment',
        item: { customerId: 'C123456', segment: 'vip', email: 'ada@example.com' },
      },
    ]);
  });

  it('removes a member leaving the VIP tiers, with the configured segment and tiers', () => {
    const operations = run(
      tierChangePlugin,
      event('tier.changed', { customer_id: 'C123456', tier: 'Silver', previous_tier: 'Platinum' }),
      profile(),
      { vipTiers: ['Platinum'], vipSegment: 'platinum-club' },
    );
    expect(operations[1]).toEqual({
      operation: 'removeFromSegment',
      item: { customerId: 'C123456', segment: 'platinum-club', email: 'ada@example.com' },
    });
  });
});

describe('points-winback', () => {
  const viewed = event('profile.updated', { customer_id: 'C123456', first_name: 'Ada' });

  it('enrols a member whose points have not moved for 90 days', () => {
    const stagnant = profile({ points_updated_at: '2026-08-01T00:00:00Z' });
    expect(run(pointsWinbackPlugin, viewed, stagnant)).toEqual([
      {
        operation: 'addToSegment',
        item: { customerId: 'C123456', segment: 'win-back', email: 'ada@example.com' },
      },
    ]);
  });

  it('leaves recent earners and empty balances alone, and takes a member out when they earn again', () => {
    expect(run(pointsWinbackPlugin, viewed, profile())).toEqual([]);
    expect(
      run(
        pointsWinbackPlugin,
        viewed,
        profile({ points_updated_at: '2026-01-01T00:00:00Z', points_balance: 0 }),
      ),
    ).toEqual([]);
    const earned = event('points.updated', { customer_id: 'C123456', delta: 50, new_balance: 1890 });
    expect(run(pointsWinbackPlugin, earned)).toEqual([
      {
        operation: 'removeFromSegment',
        item: { customerId: 'C123456', segment: 'win-back', email: 'ada@example.com' },
      },
    ]);
    const spent = event('points.updated', { customer_id: 'C123456', delta: -50, new_balance: 1790 });
    expect(run(pointsWinbackPlugin, spent)).toEqual([]);
  });

  it('honours a shorter stagnation window', () => {
    const quiet = profile({ points_updated_at: '2026-11-01T00:00:00Z' });
    expect(run(pointsWinbackPlugin, viewed, quiet, { stagnantDays: 14 })).toHaveLength(1);
    expect(run(pointsWinbackPlugin, viewed, quiet, { stagnantDays: 30 })).toHaveLength(0);
  });
});

describe('merge-cleanup', () => {
  it("suppresses the duplicate's own address and refreshes the survivor", () => {
    const merged = event('membership.merged', {
      from_customer_id: 'C999',
      to_customer_id: 'C123456',
      email: 'ada.old@example.com',
    } as unknown as EventDataMap['membership.merged']);
    expect(run(mergeCleanupPlugin, merged)).toEqual([
      { operation: 'suppress', item: { customerId: 'C999', email: 'ada.old@example.com' } },
      {
        operation: 'upsertProfiles',
        item: {
          customerId: 'C123456',
          version: 7,
          email: 'ada@example.com',
          phone: '+447700900123',
          attributes: { merged_customer_ids: ['C999'] },
        },
      },
    ]);
  });

  it("never suppresses the survivor's own address, and deletes when configured", () => {
    const sameEmail = event('membership.merged', {
      from_customer_id: 'C999',
      to_customer_id: 'C123456',
      email: 'ADA@example.com',
    } as unknown as EventDataMap['membership.merged']);
    expect(run(mergeCleanupPlugin, sameEmail).map((operation) => operation.operation)).toEqual([
      'upsertProfiles',
    ]);
    const otherPhone = event('membership.merged', {
      from_customer_id: 'C999',
      to_customer_id: 'C123456',
      phone: '+447700900999',
    } as unknown as EventDataMap['membership.merged']);
    expect(run(mergeCleanupPlugin, otherPhone, profile(), { action: 'delete' })[0]).toEqual({
      operation: 'deleteProfiles',
      item: { customerId: 'C999', phone: '+447700900999' },
    });
  });
});

describe('consent-propagation', () => {
  const consent = (overrides: Partial<EventDataMap['consent.changed']>) =>
    event('consent.changed', {
      customer_id: 'C123456',
      brand: 'sd',
      channel: 'email',
      status: 'granted',
      legal_basis: 'consent',
      captured_at: '2026-11-23T09:00:00Z',
      notice_version: 'v3',
      ...overrides,
    });

  it('subscribes on a grant and unsubscribes on a withdrawal, per channel', () => {
    expect(run(consentPropagationPlugin, consent({}))).toEqual([
      {
        operation: 'subscribe',
        item: {
          customerId: 'C123456',
          channel: 'email',
          changedAt: '2026-11-23T09:00:00Z',
          email: 'ada@example.com',
        },
      },
    ]);
    expect(run(consentPropagationPlugin, consent({ channel: 'sms', status: 'withdrawn' }))).toEqual([
      {
        operation: 'unsubscribe',
        item: {
          customerId: 'C123456',
          channel: 'sms',
          changedAt: '2026-11-23T09:00:00Z',
          phone: '+447700900123',
        },
      },
    ]);
  });

  it('ignores other brands, other purposes, push and channels it was not configured for', () => {
    expect(run(consentPropagationPlugin, consent({ brand: 'evans' }))).toEqual([]);
    expect(run(consentPropagationPlugin, consent({ purpose: 'profiling' }))).toEqual([]);
    expect(run(consentPropagationPlugin, consent({ channel: 'mobile_push' }))).toEqual([]);
    expect(
      run(consentPropagationPlugin, consent({ channel: 'sms' }), profile(), { channels: ['email'] }),
    ).toEqual([]);
  });
});
