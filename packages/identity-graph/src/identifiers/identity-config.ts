import { normalizeIdentifierValue } from './identifier-normalization';
import {
  DEFAULT_IDENTITY_CONFIG,
  IDENTIFIER_TYPES,
  type IdentifierType,
  type IdentifierTypeConfig,
  type IdentityGraphConfig,
} from './identifier-types';

/** A setting that cannot be used; `path` names it, e.g. `identity.types.email.maxPerProfile`. */
export class IdentityConfigError extends Error {
  constructor(
    public readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'IdentityConfigError';
  }
}

export type IdentityConfigOverrides = {
  types?: { [K in IdentifierType]?: Partial<Omit<IdentifierTypeConfig, 'type' | 'anchor' | 'pii'>> };
  maxComponentSize?: number;
};

type TypeSetting = keyof Omit<IdentifierTypeConfig, 'type' | 'anchor' | 'pii'>;
type CountSetting = Exclude<TypeSetting, 'blocklist'>;

const TYPE_SETTINGS: readonly TypeSetting[] = [
  'priority',
  'maxPerProfile',
  'maxPerProfileWindowDays',
  'maxProfilesPerValue',
  'blocklist',
];
// What an identifier type is, rather than how it is tuned: the graph's rules depend on them.
const FIXED_SETTINGS = ['type', 'anchor', 'pii'];

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isIdentifierType = (name: string): name is IdentifierType =>
  (IDENTIFIER_TYPES as readonly string[]).includes(name);

function requireCount(path: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new IdentityConfigError(path, 'must be an integer ≥ 1');
  }
  return value;
}

/**
 * Blocklist entries are stored normalized, as incoming values are compared after normalization. A phone
 * entry must carry its country code: no brand's default country applies to the configuration.
 */
function normalizeBlocklist(type: IdentifierType, path: string, value: unknown): string[] {
  if (!Array.isArray(value)) throw new IdentityConfigError(path, 'must be a list of strings');
  return value.map((entry: unknown, index) => {
    const entryPath = `${path}[${index}]`;
    if (typeof entry !== 'string') throw new IdentityConfigError(entryPath, 'must be a string');
    if (type === 'phone' && !/^\s*(\+|00)/.test(entry)) {
      throw new IdentityConfigError(entryPath, 'must be an international number starting with +');
    }
    const normalized = normalizeIdentifierValue(type, entry, '');
    if (!normalized.ok) throw new IdentityConfigError(entryPath, normalized.reason);
    return normalized.value;
  });
}

function applyTypeOverrides(
  base: IdentifierTypeConfig,
  path: string,
  overrides: unknown,
): IdentifierTypeConfig {
  if (!isRecord(overrides)) throw new IdentityConfigError(path, 'must be an object');
  const merged: IdentifierTypeConfig = { ...base, blocklist: [...base.blocklist] };
  for (const [key, value] of Object.entries(overrides)) {
    const settingPath = `${path}.${key}`;
    if (FIXED_SETTINGS.includes(key)) {
      throw new IdentityConfigError(settingPath, 'is fixed by the identifier type and cannot be overridden');
    }
    if (!(TYPE_SETTINGS as readonly string[]).includes(key)) {
      throw new IdentityConfigError(
        settingPath,
        `unknown setting (expected one of ${TYPE_SETTINGS.join(', ')})`,
      );
    }
    // An undefined value is a setting left out, as in a spread object; it does not unset the default.
    if (value === undefined) continue;
    if (key === 'blocklist') merged.blocklist = normalizeBlocklist(base.type, settingPath, value);
    else merged[key as CountSetting] = requireCount(settingPath, value);
  }
  if (base.anchor && merged.maxProfilesPerValue !== 1) {
    throw new IdentityConfigError(
      `${path}.maxProfilesPerValue`,
      'must be 1: an anchor value belongs to exactly one profile',
    );
  }
  return merged;
}

function requireUniquePriorities(config: IdentityGraphConfig, overridden: ReadonlySet<IdentifierType>): void {
  const byPriority = new Map<number, IdentifierType>();
  for (const type of IDENTIFIER_TYPES) {
    const { priority } = config.types[type];
    const other = byPriority.get(priority);
    if (other === undefined) {
      byPriority.set(priority, type);
      continue;
    }
    // Blame the type whose priority was changed, so the path points at the line to fix.
    const [blamed, kept] = overridden.has(type) || !overridden.has(other) ? [type, other] : [other, type];
    throw new IdentityConfigError(
      `identity.types.${blamed}.priority`,
      `must be unique, ${kept} already has priority ${priority}`,
    );
  }
}

/**
 * The identity graph's configuration: the defaults with `overrides` merged in. Throws an
 * `IdentityConfigError` naming the setting when an override is unknown or out of range.
 */
export function identityConfig(overrides: IdentityConfigOverrides = {}): IdentityGraphConfig {
  const given: unknown = overrides;
  if (!isRecord(given)) throw new IdentityConfigError('identity', 'must be an object');

  const types = {} as Record<IdentifierType, IdentifierTypeConfig>;
  for (const type of IDENTIFIER_TYPES) {
    const base = DEFAULT_IDENTITY_CONFIG.types[type];
    types[type] = { ...base, blocklist: [...base.blocklist] };
  }
  const config: IdentityGraphConfig = { types, maxComponentSize: DEFAULT_IDENTITY_CONFIG.maxComponentSize };
  const priorityOverridden = new Set<IdentifierType>();

  for (const [key, value] of Object.entries(given)) {
    const known = key === 'maxComponentSize' || key === 'types';
    if (known && value === undefined) continue;
    if (key === 'maxComponentSize') {
      config.maxComponentSize = requireCount('identity.maxComponentSize', value);
    } else if (key === 'types') {
      if (!isRecord(value))
        throw new IdentityConfigError('identity.types', 'must be an object keyed by identifier type');
      for (const [name, typeOverrides] of Object.entries(value)) {
        const path = `identity.types.${name}`;
        if (!isIdentifierType(name)) {
          throw new IdentityConfigError(
            path,
            `unknown identifier type (expected one of ${IDENTIFIER_TYPES.join(', ')})`,
          );
        }
        if (typeOverrides === undefined) continue;
        types[name] = applyTypeOverrides(types[name], path, typeOverrides);
        if (isRecord(typeOverrides) && typeOverrides['priority'] !== undefined) priorityOverridden.add(name);
      }
    } else {
      throw new IdentityConfigError(
        `identity.${key}`,
        'unknown setting (expected types or maxComponentSize)',
      );
    }
  }
  requireUniquePriorities(config, priorityOverridden);
  return config;
}
