import type * as Cel from '@marcbachmann/cel-js' with { 'resolution-mode': 'import' };
import type { PostalAddress } from '@tessera/events';
import type { TransformInput, UnifiedProfile } from '../transform-contract';

// The library is ESM-only: Node 20 `require`s it natively and jest transpiles it (see jest.preset.js).
const cel = require('@marcbachmann/cel-js') as typeof Cel;
export { cel };

/*
 * The variables rules see. Numbers follow CEL: `int` values are BigInt, `double` values are JS numbers.
 *
 * - profile: a typed object, so that a misspelt field is an error when the rules are saved. `version` and
 *   `points_balance` are `int` (points are whole numbers: `profile.points_balance + 100`);
 *   `total_lifetime_value` is `double` (money: `profile.total_lifetime_value > 500.0`; comparisons may mix
 *   int and double, arithmetic may not). Absent fields are absent: test them with `has(profile.x)` or read
 *   them with `profile.?x.orValue(default)`.
 * - event: the CloudEvents attributes, typed, and `data` as a `map<string, dyn>` whose fields depend on
 *   `event.type` (see packages/events/schemas). Numbers of `data` the catalog declares as integers (points,
 *   deltas, balances, quantities, durations: `EVENT_DATA_INTEGER_FIELDS`) are `int`, every other number is
 *   `double`, so `event.data.delta + 1` and `event.data.amount * 1.1` both work.
 * - brand (`id`, `name`, `defaultCountry`), destination (`id`, `type`), now (a timestamp).
 */

export const PROFILE_TYPE = 'tessera.Profile';
export const ADDRESS_TYPE = 'tessera.Address';
export const EVENT_TYPE = 'tessera.Event';
export const BRAND_TYPE = 'tessera.Brand';
export const DESTINATION_TYPE = 'tessera.Destination';
export const TIMESTAMP_TYPE = 'google.protobuf.Timestamp';

/** Top-level `event.data` fields the catalog declares as integers (every event type names them alike). */
export const EVENT_DATA_INTEGER_FIELDS: readonly string[] = [
  'delta',
  'duration_ms',
  'new_balance',
  'points',
  'points_earned',
];
/** Integer fields of the line items in `event.data.items`. */
export const LINE_ITEM_INTEGER_FIELDS: readonly string[] = ['quantity'];

const ADDRESS_FIELDS = ['line1', 'line2', 'city', 'region', 'postcode', 'country'] as const;

class CelAddress {
  constructor(address: PostalAddress) {
    for (const field of ADDRESS_FIELDS) {
      const value = address[field];
      if (value !== undefined) (this as Record<string, unknown>)[field] = value;
    }
  }
}

const PROFILE_STRING_FIELDS = [
  'customer_id',
  'email',
  'phone',
  'first_name',
  'last_name',
  'date_of_birth',
  'loyalty_tier',
  'points_updated_at',
  'last_purchase_date',
  'preferred_channel',
  'locale',
] as const;

class CelProfile {
  constructor(profile: UnifiedProfile) {
    const self = this as Record<string, unknown>;
    for (const field of PROFILE_STRING_FIELDS) {
      const value = profile[field];
      if (value !== undefined) self[field] = value;
    }
    self['version'] = toCelInt(profile.version);
    if (profile.points_balance !== undefined) self['points_balance'] = toCelInt(profile.points_balance);
    if (profile.total_lifetime_value !== undefined)
      self['total_lifetime_value'] = profile.total_lifetime_value;
    if (profile.address !== undefined) self['address'] = new CelAddress(profile.address);
    if (profile.source_ids !== undefined) self['source_ids'] = profile.source_ids;
    if (profile.marketing_consent !== undefined) self['marketing_consent'] = profile.marketing_consent;
  }
}

class CelEvent {
  constructor(event: TransformInput['event']) {
    const self = this as Record<string, unknown>;
    self['id'] = event.id;
    self['type'] = event.type;
    self['source'] = event.source;
    if (event.time !== undefined) self['time'] = event.time;
    if (event.subject !== undefined) self['subject'] = event.subject;
    self['data'] = convertEventData(event.data as unknown as Record<string, unknown>);
  }
}

class CelBrand {
  constructor(brand: TransformInput['brand']) {
    Object.assign(this, { id: brand.id, name: brand.name, defaultCountry: brand.defaultCountry });
  }
}

class CelDestination {
  constructor(destination: TransformInput['destination']) {
    Object.assign(this, { id: destination.id, type: destination.type });
  }
}

/** A whole JS number as a CEL int; a fractional one (not expected for these fields) stays a double. */
function toCelInt(value: number): bigint | number {
  return Number.isSafeInteger(value) ? BigInt(value) : value;
}

function convertEventData(data: Record<string, unknown>): Record<string, unknown> {
  const converted: Record<string, unknown> = { ...data };
  for (const field of EVENT_DATA_INTEGER_FIELDS) {
    const value = converted[field];
    if (typeof value === 'number') converted[field] = toCelInt(value);
  }
  const items = converted['items'];
  if (Array.isArray(items)) {
    converted['items'] = items.map((item: unknown) => {
      if (item === null || typeof item !== 'object') return item;
      const line: Record<string, unknown> = { ...(item as Record<string, unknown>) };
      for (const field of LINE_ITEM_INTEGER_FIELDS) {
        const value = line[field];
        if (typeof value === 'number') line[field] = toCelInt(value);
      }
      return line;
    });
  }
  return converted;
}

/** The variables of one evaluation, built once per input and shared by every expression. */
export interface CelVariables {
  event: CelEvent;
  profile: CelProfile;
  brand: CelBrand;
  destination: CelDestination;
  now: Date;
}

/** Throws a `RangeError` when `input.now` is not a timestamp. */
export function toCelVariables(input: TransformInput): CelVariables {
  const now = new Date(input.now);
  if (Number.isNaN(now.getTime())) throw new RangeError(`'${input.now}' is not an ISO 8601 timestamp`);
  return {
    event: new CelEvent(input.event),
    profile: new CelProfile(input.profile),
    brand: new CelBrand(input.brand),
    destination: new CelDestination(input.destination),
    now,
  };
}

/*
 * The evaluation time of the input being evaluated, for `daysSince`. Evaluation is synchronous (no async
 * function is registered), so one slot per process is enough: `withEvaluationTime` sets it around one input.
 */
let evaluationTimeMs: number | undefined;

export function withEvaluationTime<T>(nowMs: number, run: () => T): T {
  const previous = evaluationTimeMs;
  evaluationTimeMs = nowMs;
  try {
    return run();
  } finally {
    evaluationTimeMs = previous;
  }
}

const MS_PER_DAY = 86_400_000;

function daysBetween(thenMs: number): bigint {
  if (evaluationTimeMs === undefined) throw new cel.EvaluationError('daysSince() needs an evaluation time');
  return BigInt(Math.floor((evaluationTimeMs - thenMs) / MS_PER_DAY));
}

function daysSinceString(value: string): bigint {
  const thenMs = Date.parse(value);
  if (Number.isNaN(thenMs)) {
    throw new cel.EvaluationError(`daysSince(): '${value.slice(0, 64)}' is not an ISO 8601 timestamp`);
  }
  return daysBetween(thenMs);
}

function buildEnvironment(): Cel.Environment {
  const env = new cel.Environment({
    enableOptionalTypes: true,
    // Mapping results are JSON: `{"tier": profile.loyalty_tier, "points": profile.points_balance}` is fine.
    homogeneousAggregateLiterals: false,
    // Guards against pathological input only: the configurable limits are enforced by rule-compiler.
    limits: { maxAstNodes: 20_000, maxDepth: 250, maxListElements: 1_000, maxMapEntries: 1_000 },
  });
  env.registerType(ADDRESS_TYPE, {
    ctor: CelAddress,
    fields: Object.fromEntries(ADDRESS_FIELDS.map((field) => [field, 'string'])),
  });
  env.registerType(PROFILE_TYPE, {
    ctor: CelProfile,
    fields: {
      ...Object.fromEntries(PROFILE_STRING_FIELDS.map((field) => [field, 'string'])),
      version: 'int',
      points_balance: 'int',
      total_lifetime_value: 'double',
      address: ADDRESS_TYPE,
      source_ids: 'map<string, string>',
      marketing_consent: 'map<string, string>',
    },
  });
  env.registerType(EVENT_TYPE, {
    ctor: CelEvent,
    fields: {
      id: 'string',
      type: 'string',
      source: 'string',
      time: 'string',
      subject: 'string',
      data: 'map<string, dyn>',
    },
  });
  env.registerType(BRAND_TYPE, {
    ctor: CelBrand,
    fields: { id: 'string', name: 'string', defaultCountry: 'string' },
  });
  env.registerType(DESTINATION_TYPE, { ctor: CelDestination, fields: { id: 'string', type: 'string' } });
  env.registerVariable('profile', PROFILE_TYPE, { description: 'The unified profile of the event’s member' });
  env.registerVariable('event', EVENT_TYPE, { description: 'The catalog event being transformed' });
  env.registerVariable('brand', BRAND_TYPE, { description: 'The brand being synced' });
  env.registerVariable('destination', DESTINATION_TYPE, { description: 'The brand destination' });
  env.registerVariable('now', TIMESTAMP_TYPE, { description: 'Evaluation time, fixed per batch' });
  env.registerFunction('daysSince(string): int', daysSinceString, {
    description: 'Whole days from an ISO 8601 timestamp to now (negative when it is in the future)',
  });
  env.registerFunction(`daysSince(${TIMESTAMP_TYPE}): int`, (then: Date) => daysBetween(then.getTime()), {
    description: 'Whole days from a timestamp to now (negative when it is in the future)',
  });
  return env;
}

let environment: Cel.Environment | undefined;

/** The rules' CEL environment, built once per process (building one is expensive). */
export function celEnvironment(): Cel.Environment {
  environment ??= buildEnvironment();
  return environment;
}
