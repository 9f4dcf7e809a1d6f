import type { LineItem } from '@tessera/events';
import {
  between,
  type DemoConsent,
  demoEvent,
  type DemoEvent,
  type DemoMember,
  type DemoTier,
  homeBrand,
  identifiersFor,
  pick,
  type Random,
  seededRandom,
  sourceOfBrand,
  tierFor,
} from './demo-members';
import { DEMO_SPORTS_BRAND, DEMO_SPORTS_SOURCE_ID } from './demo-workspace';

/*
 * The live part of the demo traffic: what a group's loyalty platform and a sports brand's tills and showroom
 * send in an ordinary hour, drawn from a seeded PRNG over the demo members. It keeps each member's balance,
 * tier and consent as it goes, so balances never go negative and a tier changes when a balance crosses a
 * threshold.
 */

/** How often each kind of activity happens, relative to the others. */
const ACTIVITY_WEIGHTS = {
  purchase: 30,
  pointsEarned: 25,
  pointsSpent: 10,
  showroom: 20,
  profileChange: 8,
  consentChange: 4,
  guestShowroom: 3,
} as const;
type Activity = keyof typeof ACTIVITY_WEIGHTS;

const PRODUCTS: ReadonlyArray<{ sku: string; name: string; category: string; price: number }> = [
  { sku: 'RUN-TRAIL-01', name: 'Trail running shoes', category: 'footwear', price: 89.99 },
  { sku: 'RUN-ROAD-02', name: 'Road running shoes', category: 'footwear', price: 119.0 },
  { sku: 'TOP-TECH-11', name: 'Technical running top', category: 'apparel', price: 29.99 },
  { sku: 'JKT-SHELL-21', name: 'Waterproof shell jacket', category: 'apparel', price: 149.0 },
  { sku: 'BAG-DAY-31', name: '20 l day pack', category: 'accessories', price: 54.5 },
  { sku: 'BTL-STEEL-41', name: 'Insulated bottle', category: 'accessories', price: 18.0 },
  { sku: 'BIKE-HLM-51', name: 'Cycling helmet', category: 'cycling', price: 69.99 },
  { sku: 'YOGA-MAT-61', name: 'Yoga mat', category: 'fitness', price: 24.99 },
];
const VARIANTS = ['black-42', 'blue-40', 'red-44', 'grey-m', 'green-l', 'white-s'];
const STORES = ['nw-london-01', 'nw-leeds-02', 'ss-manchester-01', 'ss-glasgow-02', 'web'];
const CHANNELS = ['store', 'online', 'app'] as const;
const EARN_REASONS = ['review', 'birthday_bonus', 'referral', 'app_check_in', 'partner_offer'];
const SHOWROOM_ID = 'summit-manchester-3d';

export interface DemoEventStreamOptions {
  /** Seeds the PRNG: the same seed over the same members gives the same stream. */
  seed: number;
  /** Prefixes every event id, so separate runs never share an id (and are never taken for duplicates). */
  runId: string;
}

interface MemberState {
  member: DemoMember;
  points: number;
  tier: DemoTier;
  consent: Record<string, DemoConsent>;
}

export class DemoEventStream {
  private readonly random: Random;
  private readonly states: MemberState[];
  private readonly totalWeight = Object.values(ACTIVITY_WEIGHTS).reduce((sum, weight) => sum + weight, 0);
  private sequence = 0;

  constructor(
    members: readonly DemoMember[],
    private readonly options: DemoEventStreamOptions,
  ) {
    if (members.length === 0) throw new Error('the demo event stream needs at least one member');
    this.random = seededRandom(options.seed);
    this.states = members.map((member) => ({
      member,
      points: member.points,
      tier: member.tier,
      consent: { ...member.consent },
    }));
  }

  /** The next activity's events (one to three: a purchase brings its points, a points change its tier). */
  next(now: Date): DemoEvent[] {
    const activity = this.activity();
    if (activity === 'guestShowroom') return [this.guestShowroom(now)];
    const state = pick(this.random, this.states);
    switch (activity) {
      case 'purchase':
        return this.purchase(state, now);
      case 'pointsEarned':
        return this.pointsChange(state, now, between(this.random, 10, 400), pick(this.random, EARN_REASONS));
      case 'pointsSpent':
        return state.points < 100
          ? this.pointsChange(state, now, between(this.random, 20, 200), 'welcome_back_bonus')
          : this.pointsChange(
              state,
              now,
              -between(this.random, 100, Math.min(state.points, 2_500)),
              'redemption',
            );
      case 'showroom':
        return [this.showroom(state, now)];
      case 'profileChange':
        return [this.profileChange(state, now)];
      case 'consentChange':
        return [this.consentChange(state, now)];
    }
  }

  private activity(): Activity {
    let draw = this.random() * this.totalWeight;
    for (const [activity, weight] of Object.entries(ACTIVITY_WEIGHTS) as Array<[Activity, number]>) {
      draw -= weight;
      if (draw < 0) return activity;
    }
    return 'purchase';
  }

  private nextId(kind: string): string {
    return `${this.options.runId}-${++this.sequence}-${kind}`;
  }

  /** The brand an activity happens at: one of the member's brands. */
  private brandOf(state: MemberState): string {
    return pick(this.random, state.member.brands);
  }

  private purchase(state: MemberState, now: Date): DemoEvent[] {
    const brand = this.brandOf(state);
    const items: LineItem[] = Array.from({ length: between(this.random, 1, 3) }, () => {
      const product = pick(this.random, PRODUCTS);
      return {
        sku: product.sku,
        name: product.name,
        quantity: between(this.random, 1, 2),
        unit_price: product.price,
        category: product.category,
      };
    });
    const amount =
      Math.round(items.reduce((sum, item) => sum + item.quantity * (item.unit_price ?? 0), 0) * 100) / 100;
    const pointsEarned = Math.floor(amount);
    const transactionId = this.nextId('tx');
    const purchase = demoEvent(sourceOfBrand(brand), transactionId, 'transaction.created', now, {
      ...identifiersFor(state.member, brand),
      transaction_id: transactionId,
      amount,
      currency: 'GBP',
      occurred_at: now.toISOString(),
      channel: pick(this.random, CHANNELS),
      store_id: pick(this.random, STORES),
      points_earned: pointsEarned,
      items,
    });
    return [purchase, ...this.pointsChange(state, now, pointsEarned, 'purchase')];
  }

  /** A balance change at the member's programme, and the tier change it causes, if any. */
  private pointsChange(state: MemberState, now: Date, delta: number, reason: string): DemoEvent[] {
    const brand = homeBrand(state.member);
    const sourceId = sourceOfBrand(brand);
    state.points = Math.max(0, state.points + delta);
    const events = [
      demoEvent(sourceId, this.nextId('points'), 'points.updated', now, {
        ...identifiersFor(state.member, brand),
        delta,
        new_balance: state.points,
        reason,
      }),
    ];
    const tier = tierFor(state.points);
    if (tier !== state.tier) {
      events.push(
        demoEvent(sourceId, this.nextId('tier'), 'tier.changed', now, {
          ...identifiersFor(state.member, brand),
          tier,
          previous_tier: state.tier,
          reason: delta > 0 ? 'points_threshold_reached' : 'points_redeemed',
          effective_at: now.toISOString(),
        }),
      );
      state.tier = tier;
    }
    return events;
  }

  /** A member in Summit Sports' 3D showroom: looks at a model, sometimes tries a variant on. */
  private showroom(state: MemberState, now: Date): DemoEvent {
    const product = pick(this.random, PRODUCTS);
    const brand = state.member.brands.includes(DEMO_SPORTS_BRAND.id)
      ? DEMO_SPORTS_BRAND.id
      : this.brandOf(state);
    const identifiers = identifiersFor(state.member, brand);
    const session = `session-${this.options.runId}-${state.member.number}`;
    if (this.random() < 0.4) {
      return demoEvent(sourceOfBrand(brand), this.nextId('try'), 'showroom.tried_variant', now, {
        ...identifiers,
        showroom_id: SHOWROOM_ID,
        session_id: session,
        product_id: product.sku,
        variant_id: pick(this.random, VARIANTS),
      });
    }
    return demoEvent(sourceOfBrand(brand), this.nextId('view'), 'showroom.viewed_3d_model', now, {
      ...identifiers,
      showroom_id: SHOWROOM_ID,
      session_id: session,
      product_id: product.sku,
      duration_ms: between(this.random, 2_000, 180_000),
    });
  }

  /** A visitor who has not signed in: known only by the showroom's anonymous id (a guest profile). */
  private guestShowroom(now: Date): DemoEvent {
    const visitor = between(this.random, 1, 500);
    return demoEvent(DEMO_SPORTS_SOURCE_ID, this.nextId('guest'), 'showroom.viewed_3d_model', now, {
      anonymous_id: `anon-${this.options.runId}-${visitor}`,
      showroom_id: SHOWROOM_ID,
      session_id: `session-${this.options.runId}-anon-${visitor}`,
      product_id: pick(this.random, PRODUCTS).sku,
      duration_ms: between(this.random, 2_000, 120_000),
    });
  }

  private profileChange(state: MemberState, now: Date): DemoEvent {
    const brand = this.brandOf(state);
    return demoEvent(sourceOfBrand(brand), this.nextId('profile'), 'profile.updated', now, {
      ...identifiersFor(state.member, brand),
      first_name: state.member.firstName,
      last_name: state.member.lastName,
      preferred_channel: this.random() < 0.85 ? 'email' : 'sms',
      locale: 'en-GB',
    });
  }

  /** Mostly opt-ins (a member without a record, or changing their mind back), sometimes an opt-out. */
  private consentChange(drawn: MemberState, now: Date): DemoEvent {
    let state = drawn;
    let brand = this.brandOf(state);
    // Most members have granted: look a little for one who has not, so opt-ins outnumber opt-outs.
    if (this.random() < 0.7) {
      for (let attempt = 0; attempt < 20 && state.consent[brand] === 'granted'; attempt++) {
        state = pick(this.random, this.states);
        brand = this.brandOf(state);
      }
    }
    const current = state.consent[brand] ?? 'none';
    const status = current === 'granted' ? 'withdrawn' : 'granted';
    state.consent[brand] = status;
    return demoEvent(sourceOfBrand(brand), this.nextId('consent'), 'consent.changed', now, {
      ...identifiersFor(state.member, brand),
      email: state.member.email,
      brand,
      channel: 'email',
      purpose: 'marketing',
      status,
      legal_basis: 'consent',
      captured_at: now.toISOString(),
      notice_version: '2026-01',
      proof: { method: status === 'granted' ? 'double_opt_in' : 'checkbox' },
    });
  }
}
