import type { MemberIdentifiers } from '@tessera/events';
export type IdentifierType =
  'customer_id' | 'member' | 'loyalty_card' | 'email' | 'phone' | 'device_id' | 'anonymous_id';

/** Every identifier type in default priority order, strongest first. */
export const IDENTIFIER_TYPES: readonly IdentifierType[] = Object.freeze([
  'customer_id',
  'member',
  'loyalty_card',
  'email',
  'phone',
  'device_id',
  'anonymous_id',
] as const);

export interface IdentifierTypeConfig {
  type: IdentifierType;
  /** An anchor names exactly one customer: two anchors of the same type never share a profile. */
  anchor: boolean;
  /** Stored encrypted with a blind index. */
  pii: boolean;
  /** Smaller is stronger. */
  priority: number;
  /** How many values of this type one profile may hold. */
  maxPerProfile: number;
  /** When set, only values first seen within this many days count against `maxPerProfile`. */
  maxPerProfileWindowDays?: number;
  /** How many distinct anchored profiles one value may connect before it is quarantined. */
  maxProfilesPerValue: number;
  /** Extra exact values refused for this type, compared case-insensitively after normalization. */
  blocklist: string[];
}

export interface IdentityGraphConfig {
  types: Record<IdentifierType, IdentifierTypeConfig>;
  /** Identifiers per profile (connected component). */
  maxComponentSize: number;
}

const anchorType = (type: IdentifierType, priority: number, maxPerProfile: number): IdentifierTypeConfig => ({
  type,
  anchor: true,
  pii: false,
  priority,
  maxPerProfile,
  // An anchor value belongs to one profile by definition; the limit is kept for a uniform shape.
  maxProfilesPerValue: 1,
  blocklist: [],
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Frozen so no caller can change the defaults for everyone else; `identityConfig()` returns a copy. */
export const DEFAULT_IDENTITY_CONFIG: IdentityGraphConfig = deepFreeze({
  types: {
    customer_id: anchorType('customer_id', 10, 1),
    // One member id per brand scope: the limit is counted per scope.
    member: anchorType('member', 20, 1),
    loyalty_card: anchorType('loyalty_card', 30, 3),
    email: {
      type: 'email',
      anchor: false,
      pii: true,
      priority: 40,
      maxPerProfile: 5,
      maxProfilesPerValue: 3,
      blocklist: [],
    },
    phone: {
      type: 'phone',
      anchor: false,
      pii: true,
      priority: 50,
      maxPerProfile: 5,
      maxProfilesPerValue: 3,
      blocklist: [],
    },
    // Devices and browsers churn, so only recent ones count against the limit.
    device_id: {
      type: 'device_id',
      anchor: false,
      pii: false,
      priority: 60,
      maxPerProfile: 20,
      maxPerProfileWindowDays: 90,
      maxProfilesPerValue: 5,
      blocklist: [],
    },
    anonymous_id: {
      type: 'anonymous_id',
      anchor: false,
      pii: false,
      priority: 70,
      maxPerProfile: 50,
      maxPerProfileWindowDays: 30,
      maxProfilesPerValue: 5,
      blocklist: [],
    },
  },
  maxComponentSize: 100,
});

/**
 * What an event's data carries: the catalog's member identifiers (generated from its schema), plus a
 * device id (for sources mapped in by plugins) and source ids per brand (`profile.updated`), each of which
 * becomes a `member` identifier scoped by that brand.
 */
export type RawIdentifiers = MemberIdentifiers & {
  device_id?: string;
  source_ids?: Record<string, string>;
};

export interface NormalizedIdentifier {
  type: IdentifierType;
  /** The brand for `member`, '' for every other type. */
  scope: string;
  value: string;
}

export interface DroppedIdentifier {
  type: IdentifierType;
  /** Where it came from: 'email', 'member_id', 'source_ids.sports-direct', ... */
  field: string;
  /** Human-readable; never echoes a real value, only placeholders. */
  reason: string;
}

export interface NormalizationContext {
  /** ISO 3166-1 alpha-2, the brand's: phones without a country code are read as this country's. */
  defaultCountry: string;
  /** The scope for a `member_id` when the data carries no `brand`. */
  brand?: string;
}

export type Normalized = { ok: true; value: string } | { ok: false; reason: string };

/** 'email', 'member.sports-direct', ... */
export function identifierLabel(id: { type: IdentifierType; scope: string }): string {
  return id.scope === '' ? id.type : `${id.type}.${id.scope}`;
}
