// Generated from packages/events/schemas by scripts/generate-types.ts. Do not edit: run `npx nx run events:generate`.

/**
 * Two identities were proven to be the same member (e.g. a brand membership linked to the group account).
 */
export type AccountLinkedData = MemberIdentifiers & {
  /**
   * The identifiers being linked to this member.
   */
  link: MemberIdentifiers;
  method?: 'login' | 'verified_email' | 'verified_phone' | 'card_scan' | 'staff';
};
/**
 * A member granted or withdrew consent for one brand, channel and purpose.
 */
export type ConsentChangedData = MemberIdentifiers & {
  /**
   * A brand id (lowercase slug).
   */
  brand: string;
  channel: 'email' | 'sms' | 'mobile_push';
  purpose?: string;
  status: 'granted' | 'withdrawn';
  legal_basis: 'consent' | 'soft_opt_in' | 'legitimate_interest';
  captured_at: string;
  notice_version: string;
  proof?: ConsentProof;
};
/**
 * A coupon was issued to a member.
 */
export type CouponIssuedData = MemberIdentifiers & {
  coupon_code: string;
  offer_id?: string;
  value?: number;
  /**
   * ISO 4217 currency code.
   */
  currency?: string;
  expires_at?: string;
};
/**
 * A reservation was captured: the points are spent.
 */
export type PointsCapturedData = MemberIdentifiers & {
  reservation_id: string;
  points: number;
  order_id?: string;
};
/**
 * A reservation was released: the points are available again.
 */
export type PointsReleasedData = MemberIdentifiers & {
  reservation_id: string;
  points: number;
  reason?: string;
};
/**
 * Points were put on hold for a pending redemption.
 */
export type PointsReservedData = MemberIdentifiers & {
  reservation_id: string;
  points: number;
  order_id?: string;
  expires_at?: string;
};
/**
 * A member's points balance changed; delta may be negative.
 */
export type PointsUpdatedData = MemberIdentifiers & {
  delta: number;
  new_balance: number;
  reason?: string;
};
/**
 * A member's profile attributes changed.
 */
export type ProfileUpdatedData = MemberIdentifiers & {
  first_name?: string;
  last_name?: string;
  address?: PostalAddress;
  preferred_channel?: 'email' | 'sms' | 'mobile_push';
  locale?: string;
  /**
   * The member's id in each brand's own system, keyed by brand.
   */
  source_ids?: {
    [k: string]: string | undefined;
  };
};
/**
 * A member redeemed a points offer inside a virtual showroom.
 */
export type ShowroomRedeemedPointOfferData = MemberIdentifiers & {
  showroom_id: string;
  session_id?: string;
  offer_id: string;
  points: number;
  order_id?: string;
  reservation_id?: string;
};
/**
 * A visitor started checkout from a virtual showroom.
 */
export type ShowroomStartedCheckoutData = MemberIdentifiers & {
  showroom_id: string;
  session_id?: string;
  cart_id: string;
  value?: number;
  /**
   * ISO 4217 currency code.
   */
  currency?: string;
  /**
   * @maxItems 500
   */
  items?: LineItem[];
};
/**
 * A visitor tried a product variant (colour, size, material) in a virtual showroom.
 */
export type ShowroomTriedVariantData = MemberIdentifiers & {
  showroom_id: string;
  session_id?: string;
  product_id: string;
  variant_id: string;
};
/**
 * A visitor viewed a product's 3D model in a virtual showroom.
 */
export type ShowroomViewed3DModelData = MemberIdentifiers & {
  showroom_id: string;
  session_id?: string;
  product_id: string;
  variant_id?: string;
  duration_ms?: number;
};
/**
 * A member moved to another loyalty tier.
 */
export type TierChangedData = MemberIdentifiers & {
  tier: string;
  previous_tier?: string;
  reason?: string;
  effective_at?: string;
};
/**
 * A purchase (or return, with a negative amount) was recorded.
 */
export type TransactionCreatedData = MemberIdentifiers & {
  transaction_id: string;
  amount: number;
  /**
   * ISO 4217 currency code.
   */
  currency: string;
  occurred_at?: string;
  channel?: 'store' | 'online' | 'showroom' | 'app';
  store_id?: string;
  points_earned?: number;
  /**
   * @maxItems 500
   */
  items?: LineItem[];
};

/**
 * The `data` of every catalog event type, keyed by its CloudEvents `type`.
 */
export interface EventDataMap {
  'account.linked': AccountLinkedData;
  'consent.changed': ConsentChangedData;
  'coupon.issued': CouponIssuedData;
  'membership.merged': MembershipMergedData;
  'membership.split': MembershipSplitData;
  'points.captured': PointsCapturedData;
  'points.released': PointsReleasedData;
  'points.reserved': PointsReservedData;
  'points.updated': PointsUpdatedData;
  'profile.updated': ProfileUpdatedData;
  'showroom.redeemed_point_offer': ShowroomRedeemedPointOfferData;
  'showroom.started_checkout': ShowroomStartedCheckoutData;
  'showroom.tried_variant': ShowroomTriedVariantData;
  'showroom.viewed_3d_model': ShowroomViewed3DModelData;
  'tier.changed': TierChangedData;
  'transaction.created': TransactionCreatedData;
}
export interface MemberIdentifiers {
  /**
   * The loyalty platform's canonical customer id.
   */
  customer_id?: string;
  /**
   * An email address as given; the identity graph normalizes it.
   */
  email?: string;
  /**
   * A phone number as given; the identity graph normalizes it to E.164 with the brand's default country and drops an unparseable one with a reason.
   */
  phone?: string;
  /**
   * A brand's own member id; requires `brand`.
   */
  member_id?: string;
  /**
   * A brand id (lowercase slug).
   */
  brand?: string;
  /**
   * A loyalty card number.
   */
  loyalty_card?: string;
  /**
   * A guest's device or session id (e.g. in a showroom).
   */
  anonymous_id?: string;
}
export interface ConsentProof {
  method: 'double_opt_in' | 'checkbox' | 'verbal' | 'paper' | 'import';
  reference?: string;
  ip?: string;
  user_agent?: string;
}
/**
 * The loyalty platform merged one customer record into another.
 */
export interface MembershipMergedData {
  /**
   * The loyalty platform's canonical customer id.
   */
  from_customer_id: string;
  /**
   * The loyalty platform's canonical customer id.
   */
  to_customer_id: string;
  reason?: string;
  /**
   * An email address as given; the identity graph normalizes it.
   */
  email?: string;
  /**
   * A phone number as given; the identity graph normalizes it to E.164 with the brand's default country and drops an unparseable one with a reason.
   */
  phone?: string;
  /**
   * A brand's own member id; requires `brand`.
   */
  member_id?: string;
  /**
   * A brand id (lowercase slug).
   */
  brand?: string;
  /**
   * A loyalty card number.
   */
  loyalty_card?: string;
}
/**
 * Emitted by Tessera's identity graph when it reverses a merge; sources cannot send it.
 */
export interface MembershipSplitData {
  /**
   * The loyalty platform's canonical customer id.
   */
  from_customer_id: string;
  /**
   * The loyalty platform's canonical customer id.
   */
  to_customer_id: string;
  reason?: string;
  merge_id?: string;
}
export interface PostalAddress {
  line1?: string;
  line2?: string;
  city?: string;
  region?: string;
  postcode?: string;
  /**
   * ISO 3166-1 alpha-2.
   */
  country?: string;
}
export interface LineItem {
  sku: string;
  name?: string;
  quantity: number;
  unit_price?: number;
  category?: string;
}

/** Every CloudEvents `type` in the catalog. */
export const EVENT_TYPES = [
  'account.linked',
  'consent.changed',
  'coupon.issued',
  'membership.merged',
  'membership.split',
  'points.captured',
  'points.released',
  'points.reserved',
  'points.updated',
  'profile.updated',
  'showroom.redeemed_point_offer',
  'showroom.started_checkout',
  'showroom.tried_variant',
  'showroom.viewed_3d_model',
  'tier.changed',
  'transaction.created'
] as const;

export type EventType = (typeof EVENT_TYPES)[number];
