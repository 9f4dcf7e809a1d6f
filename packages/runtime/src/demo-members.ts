import type { CatalogEvent, EventDataMap, EventType, MemberIdentifiers } from '@tessera/events';
import {
  DEMO_GROUP_BRAND,
  DEMO_GROUP_SOURCE_ID,
  DEMO_SPORTS_BRAND,
  DEMO_SPORTS_SOURCE_ID,
} from './demo-workspace';

/*
 * The demo's members and the events that introduce them, generated from a seed so every run of
 * `npm run demo:traffic` sends the very same seed events (same ids: the pipeline's dedupe makes a second
 * send harmless). Pure: no clock, no randomness of its own, no I/O.
 */

/** A small, fast, seeded PRNG (mulberry32): uniform numbers in [0, 1), the same sequence for a seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

export type Random = () => number;

export const pick = <T>(random: Random, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T;

export const between = (random: Random, min: number, max: number): number =>
  min + Math.floor(random() * (max - min + 1));

export const DEMO_TIERS = ['Bronze', 'Silver', 'Gold', 'Platinum'] as const;
export type DemoTier = (typeof DEMO_TIERS)[number];

/** Points a member needs for each tier of the group programme. */
const TIER_THRESHOLDS: ReadonlyArray<[DemoTier, number]> = [
  ['Platinum', 15_000],
  ['Gold', 5_000],
  ['Silver', 1_000],
  ['Bronze', 0],
];

export function tierFor(points: number): DemoTier {
  return (TIER_THRESHOLDS.find(([, threshold]) => points >= threshold) ?? ['Bronze', 0])[0];
}

export type DemoConsent = 'granted' | 'withdrawn' | 'none';

export interface DemoMember {
  /** 1-based, stable for a seed: the seed events' ids are built from it. */
  number: number;
  /** The group programme's customer id; undefined for a Summit Sports member not yet in it. */
  customerId?: string;
  /** Summit Sports' own member id; undefined for a group member who never shopped there. */
  sportsMemberId?: string;
  email: string;
  phone?: string;
  firstName: string;
  lastName: string;
  city: string;
  postcode: string;
  /** The brands this member belongs to; events come from those brands' sources. */
  brands: string[];
  tier: DemoTier;
  points: number;
  /** Email marketing consent per brand: granted, withdrawn, or no record at all. */
  consent: Record<string, DemoConsent>;
  joinedDaysAgo: number;
}

/** A CloudEvent ready to post, and the demo source that posts it. */
export interface DemoEvent {
  sourceId: string;
  event: CatalogEvent;
}

export const DEMO_MEMBER_SEED = 20_260_101;
export const DEMO_MEMBER_COUNT = 300;

/** The CloudEvents `source` attribute each demo source sends (dedupe is per source and id). */
export const DEMO_EVENT_SOURCES: Readonly<Record<string, string>> = {
  [DEMO_GROUP_SOURCE_ID]: 'https://loyalty.northwind.example/demo',
  [DEMO_SPORTS_SOURCE_ID]: 'https://members.summit-sports.example/demo',
};

// Written as one string each so the lists stay compact.
const FIRST_NAMES = (
  'Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Evie Priya Aisha Zara Chloe Ella ' +
  'Noah Oliver George Arthur Leo Harry Oscar Archie Henry Jack Charlie Theo Muhammad Arjun Finn Callum Ewan ' +
  'Rhys Dylan Owen Kai Tom'
).split(' ');
const LAST_NAMES = (
  'Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Robinson Wright Thompson Evans Walker ' +
  'White Roberts Green Hall Thomas Clarke Jackson Wood Harris Edwards Turner Martin Cooper Hill Ward Hughes ' +
  'Khan Ali Murphy Campbell Kelly Scott Reid Morgan Price Bennett'
).split(' ');
/** City and postcode district. */
const CITIES = (
  'London:SE1 Manchester:M1 Birmingham:B1 Leeds:LS1 Glasgow:G1 Liverpool:L1 Bristol:BS1 Sheffield:S1 ' +
  'Edinburgh:EH1 Cardiff:CF10 Newcastle:NE1 Nottingham:NG1 Belfast:BT1 Leicester:LE1 Brighton:BN1'
)
  .split(' ')
  .map((entry) => entry.split(':') as [string, string]);
const STREETS = ['High Street', 'Station Road', 'Church Lane', 'Victoria Road', 'Park Avenue', 'Mill Lane'];
const EMAIL_DOMAINS = ['example.com', 'example.org', 'example.net'];

// Weights of the demo's mix: which brands a member belongs to, their email consent, their tier.
const GROUP_ONLY = 0.6;
const BOTH_BRANDS = 0.15; // the rest belong to Summit Sports only
const CONSENT_GRANTED = 0.8;
const CONSENT_WITHDRAWN = 0.12; // the rest have no consent record
const PHONE_SHARE = 0.3;

function demoConsent(random: Random): DemoConsent {
  const draw = random();
  if (draw < CONSENT_GRANTED) return 'granted';
  if (draw < CONSENT_GRANTED + CONSENT_WITHDRAWN) return 'withdrawn';
  return 'none';
}

/** A points balance whose tier follows the programme's usual pyramid (half Bronze, few Platinum). */
function demoPoints(random: Random): number {
  const draw = random();
  if (draw < 0.5) return between(random, 0, 999);
  if (draw < 0.8) return between(random, 1_000, 4_999);
  if (draw < 0.95) return between(random, 5_000, 14_999);
  return between(random, 15_000, 40_000);
}

/** The demo's members, the same list for the same seed and count. */
export function demoMembers(seed = DEMO_MEMBER_SEED, count = DEMO_MEMBER_COUNT): DemoMember[] {
  const random = seededRandom(seed);
  const members: DemoMember[] = [];
  for (let number = 1; number <= count; number++) {
    const firstName = pick(random, FIRST_NAMES);
    const lastName = pick(random, LAST_NAMES);
    const [city, district] = pick(random, CITIES);
    const membership = random();
    const brands =
      membership < GROUP_ONLY
        ? [DEMO_GROUP_BRAND.id]
        : membership < GROUP_ONLY + BOTH_BRANDS
          ? [DEMO_GROUP_BRAND.id, DEMO_SPORTS_BRAND.id]
          : [DEMO_SPORTS_BRAND.id];
    const points = demoPoints(random);
    const phone = random() < PHONE_SHARE;
    const serial = String(number).padStart(6, '0');
    members.push({
      number,
      ...(brands.includes(DEMO_GROUP_BRAND.id) ? { customerId: `NW${serial}` } : {}),
      ...(brands.includes(DEMO_SPORTS_BRAND.id) ? { sportsMemberId: `SS-${serial}` } : {}),
      // The number keeps addresses unique; example.* domains are reserved for examples (RFC 2606).
      email: `${firstName}.${lastName}.${number}@${pick(random, EMAIL_DOMAINS)}`.toLowerCase(),
      // libphonenumber's example UK mobile range: valid for every ESP's checks (Ofcom's drama range, 07700 900…,
      // is not), and the demo only ever sends to the local sandbox.
      ...(phone ? { phone: `+447400123${String(number % 1000).padStart(3, '0')}` } : {}),
      firstName,
      lastName,
      city,
      postcode: `${district} ${between(random, 1, 9)}${pick(random, ['AB', 'DX', 'HN', 'PQ', 'RT', 'WZ'])}`,
      brands,
      tier: tierFor(points),
      points,
      consent: Object.fromEntries(brands.map((brand) => [brand, demoConsent(random)])),
      joinedDaysAgo: between(random, 30, 3 * 365),
    });
  }
  return members;
}

/** The source a member's events come from for a brand. */
export function sourceOfBrand(brand: string): string {
  return brand === DEMO_SPORTS_BRAND.id ? DEMO_SPORTS_SOURCE_ID : DEMO_GROUP_SOURCE_ID;
}

/** How a brand's source names the member: the group by customer id, Summit Sports by its member id. */
export function identifiersFor(member: DemoMember, brand: string): MemberIdentifiers {
  const contact = { email: member.email, ...(member.phone === undefined ? {} : { phone: member.phone }) };
  if (brand === DEMO_SPORTS_BRAND.id && member.sportsMemberId !== undefined) {
    return { member_id: member.sportsMemberId, brand, ...contact };
  }
  return { ...(member.customerId === undefined ? {} : { customer_id: member.customerId }), ...contact };
}

/** The brand whose programme holds the member's points and tier: the group's, once a member is in it. */
export function homeBrand(member: DemoMember): string {
  return member.brands.includes(DEMO_GROUP_BRAND.id) ? DEMO_GROUP_BRAND.id : DEMO_SPORTS_BRAND.id;
}

export function demoEvent<T extends EventType>(
  sourceId: string,
  id: string,
  type: T,
  time: Date,
  data: EventDataMap[T],
): DemoEvent {
  return {
    sourceId,
    event: {
      specversion: '1.0',
      id,
      source: DEMO_EVENT_SOURCES[sourceId] ?? 'https://demo.example',
      type,
      time: time.toISOString(),
      data,
    },
  };
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * The events that bring the members in: per member, a profile, consent per brand (none for a member without
 * a record), the opening points balance and tier. Ids are `seed-<member>-<what>`, so a resend is a duplicate.
 * Times lie before `now` (joining, then consent, then the balance as of the last days).
 */
export function demoSeedEvents(members: readonly DemoMember[], now: Date): DemoEvent[] {
  const events: DemoEvent[] = [];
  for (const member of members) {
    const joined = new Date(now.getTime() - member.joinedDaysAgo * DAY_MS);
    const home = homeBrand(member);
    const sourceIds = Object.fromEntries(
      [
        [DEMO_GROUP_BRAND.id, member.customerId],
        [DEMO_SPORTS_BRAND.id, member.sportsMemberId],
      ].filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    for (const brand of member.brands) {
      const sourceId = sourceOfBrand(brand);
      events.push(
        demoEvent(sourceId, `seed-${member.number}-profile-${brand}`, 'profile.updated', joined, {
          ...identifiersFor(member, brand),
          first_name: member.firstName,
          last_name: member.lastName,
          address: {
            line1: `${(member.number % 180) + 1} ${STREETS[member.number % STREETS.length]}`,
            city: member.city,
            postcode: member.postcode,
            country: 'GB',
          },
          locale: 'en-GB',
          preferred_channel: 'email',
          source_ids: sourceIds,
        }),
      );
      const consent = member.consent[brand] ?? 'none';
      if (consent !== 'none') {
        const capturedAt = new Date(joined.getTime() + 60_000);
        events.push(
          demoEvent(sourceId, `seed-${member.number}-consent-${brand}`, 'consent.changed', capturedAt, {
            ...identifiersFor(member, brand),
            email: member.email,
            brand,
            channel: 'email',
            purpose: 'marketing',
            status: consent,
            legal_basis: 'consent',
            captured_at: capturedAt.toISOString(),
            notice_version: '2026-01',
            proof: { method: consent === 'granted' ? 'checkbox' : 'import' },
          }),
        );
      }
    }
    const sourceId = sourceOfBrand(home);
    const balanceAt = new Date(now.getTime() - ((member.number % 14) + 1) * DAY_MS);
    events.push(
      demoEvent(sourceId, `seed-${member.number}-points`, 'points.updated', balanceAt, {
        ...identifiersFor(member, home),
        delta: member.points,
        new_balance: member.points,
        reason: 'opening_balance',
      }),
      demoEvent(sourceId, `seed-${member.number}-tier`, 'tier.changed', balanceAt, {
        ...identifiersFor(member, home),
        tier: member.tier,
        reason: 'opening_tier',
        effective_at: balanceAt.toISOString(),
      }),
    );
  }
  return events;
}
