import { createHash } from 'node:crypto';
import type { DestinationDefinition, RateBudget, RateWindow, SettingsSchema } from './destination-definition';
import type { RateClaim, RateGate } from './rate-gate';

const HTTP_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
/** Budget names become part of a Redis key: keep them to plain characters. */
const BUDGET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** One `'METHOD /path'` pattern of a budget, parsed. */
interface RequestPattern {
  /** Upper case, or `*` for any. */
  method: string;
  /** Literal segments, `*` standing for any one segment. */
  segments: string[];
  /** True when the pattern ends in `/**`, which matches every further segment (or none). */
  anyRest: boolean;
}

/**
 * Parses a budget's request pattern, or throws an Error saying what is wrong with it. `*` stands for one whole
 * path segment; `/**` may only end the pattern.
 */
export function parseRequestPattern(pattern: string): RequestPattern {
  const match = typeof pattern === 'string' ? /^(\S+) (\/\S*)$/.exec(pattern) : null;
  if (match === null) {
    throw new Error(`must look like 'METHOD /path' (got ${JSON.stringify(pattern)})`);
  }
  const [, method = '', path = ''] = match;
  if (method !== '*' && !HTTP_METHODS.has(method)) {
    throw new Error(
      `has method "${method}"; use an upper-case HTTP method or * (in ${JSON.stringify(pattern)})`,
    );
  }
  const segments = splitPath(path);
  const anyRest = segments[segments.length - 1] === '**';
  if (anyRest) segments.pop();
  for (const segment of segments) {
    if (segment === '**') throw new Error(`may use /** only at its end (in ${JSON.stringify(pattern)})`);
    if (segment !== '*' && segment.includes('*')) {
      throw new Error(`may use * only as a whole path segment (in ${JSON.stringify(pattern)})`);
    }
  }
  return { method, segments, anyRest };
}

function splitPath(path: string): string[] {
  // A trailing slash names the same resource: `/lists/` matches like `/lists`.
  return path
    .split('/')
    .filter((segment, index, all) => index > 0 && (segment !== '' || index < all.length - 1));
}

function patternMatches(pattern: RequestPattern, method: string, segments: readonly string[]): boolean {
  if (pattern.method !== '*' && pattern.method !== method) return false;
  if (
    pattern.anyRest ? segments.length < pattern.segments.length : segments.length !== pattern.segments.length
  ) {
    return false;
  }
  return pattern.segments.every((expected, index) => expected === '*' || expected === segments[index]);
}

/** A malformed rate budget: `field` is its path in the definition, `problem` what is wrong with it. */
export class RateBudgetError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field} ${problem}`);
    this.name = 'RateBudgetError';
  }
}

/**
 * A destination's rate budgets, checked and ready to match requests. Build it once per definition (the
 * constructor throws a RateBudgetError naming the field at fault).
 */
export class RateBudgets {
  private readonly budgets: { name: string; windows: RateWindow[]; patterns: RequestPattern[] }[];

  constructor(budgets: Record<string, RateBudget> | undefined) {
    if (
      budgets !== undefined &&
      (typeof budgets !== 'object' || budgets === null || Array.isArray(budgets))
    ) {
      throw new RateBudgetError('rateBudgets', 'must be an object of budgets by name');
    }
    this.budgets = Object.entries(budgets ?? {}).map(([name, budget]) => {
      const field = `rateBudgets.${name}`;
      if (!BUDGET_NAME.test(name)) {
        throw new RateBudgetError(
          field,
          "has a name with other characters than letters, digits, '-', '_', '.'",
        );
      }
      if (!Array.isArray(budget?.windows) || budget.windows.length === 0) {
        throw new RateBudgetError(`${field}.windows`, 'must list at least one window');
      }
      budget.windows.forEach((window, index) => {
        for (const key of ['requests', 'perMs'] as const) {
          const value = window?.[key];
          if (!Number.isInteger(value) || (value as number) < 1) {
            throw new RateBudgetError(
              `${field}.windows[${index}].${key}`,
              `must be a positive integer (got ${String(value)})`,
            );
          }
        }
      });
      if (!Array.isArray(budget.requests) || budget.requests.length === 0) {
        throw new RateBudgetError(`${field}.requests`, "must list at least one 'METHOD /path' pattern");
      }
      const seen = new Set<string>();
      const patterns = budget.requests.map((pattern, index) => {
        const at = `${field}.requests[${index}]`;
        if (seen.has(pattern)) throw new RateBudgetError(at, `repeats ${JSON.stringify(pattern)}`);
        seen.add(pattern);
        try {
          return parseRequestPattern(pattern);
        } catch (error) {
          throw new RateBudgetError(at, (error as Error).message);
        }
      });
      return { name, windows: budget.windows.map((window) => ({ ...window })), patterns };
    });
  }

  get size(): number {
    return this.budgets.length;
  }

  /** The budgets a request counts against, by name: `path` is the URL path below the destination's host. */
  matching(method: string, path: string): { name: string; windows: readonly RateWindow[] }[] {
    const upper = method.toUpperCase();
    const segments = splitPath(path.startsWith('/') ? path : `/${path}`);
    return this.budgets
      .filter((budget) => budget.patterns.some((pattern) => patternMatches(pattern, upper, segments)))
      .map(({ name, windows }) => ({ name, windows }));
  }
}

const compiled = new WeakMap<object, RateBudgets>();

/** The definition's budgets, parsed once per budgets object. */
export function rateBudgetsOf(definition: { rateBudgets?: Record<string, RateBudget> }): RateBudgets {
  const budgets = definition.rateBudgets;
  if (budgets === undefined || budgets === null || typeof budgets !== 'object')
    return new RateBudgets(budgets);
  let parsed = compiled.get(budgets);
  if (parsed === undefined) {
    parsed = new RateBudgets(budgets);
    compiled.set(budgets, parsed);
  }
  return parsed;
}

function shortHash(material: string): string {
  return createHash('sha256').update(material).digest('hex').slice(0, 16);
}

/**
 * The key under which the ESP counts this destination instance's requests together: `{type}:{16 hex}`, a hash
 * of the definition's `accountKey(settings)` or, by default, of the type, `baseUrl` and every `x-secret` setting.
 * Always hashed, so credentials never appear in Redis keys; two instances on one account get the same key.
 */
export function destinationAccountKey<Settings extends Record<string, unknown>>(
  definition: Pick<DestinationDefinition<Settings>, 'type' | 'settingsSchema' | 'accountKey'>,
  settings: Settings,
): string {
  let material: string;
  if (definition.accountKey !== undefined) {
    material = `account:${definition.accountKey(settings)}`;
  } else {
    const secrets = Object.entries(definition.settingsSchema.properties)
      .filter(([, property]) => property['x-secret'] === true)
      .map(([name]) => [name, settings[name] ?? null])
      .sort(([a], [b]) => String(a).localeCompare(String(b)));
    material = JSON.stringify([definition.type, settings['baseUrl'] ?? null, secrets]);
  }
  return `${definition.type}:${shortHash(material)}`;
}

/** The URLs of every host the destination sends to: `baseUrl` and each `x-endpoint` setting that is set. */
export function destinationHostUrls(schema: SettingsSchema, settings: Record<string, unknown>): string[] {
  return Object.entries(schema.properties)
    .filter(([name, property]) => name === 'baseUrl' || property['x-endpoint'] === true)
    .map(([name]) => settings[name])
    .filter((value): value is string => typeof value === 'string' && value !== '');
}

/**
 * The path of `url` below the destination host it goes to (the sandbox serves every host under a path prefix,
 * `/sandbox/sfmc`, that the ESP's own hosts lack): the longest matching host prefix is removed.
 */
export function pathBelowHost(url: URL, hosts: readonly URL[]): string {
  let best = '';
  for (const host of hosts) {
    if (host.origin !== url.origin) continue;
    const prefix = host.pathname.replace(/\/+$/, '');
    if (prefix.length > best.length && (url.pathname === prefix || url.pathname.startsWith(`${prefix}/`))) {
      best = prefix;
    }
  }
  const rest = url.pathname.slice(best.length);
  return rest === '' ? '/' : rest;
}

/** How a DestinationHttpClient paces its requests by the destination's rate budgets. */
export interface RateBudgetPacing {
  gate: RateGate;
  /** The ESP account (see destinationAccountKey): budgets are counted under `${accountKey}:${budget}`. */
  accountKey: string;
  budgets: RateBudgets;
  /** Every host of the destination (see destinationHostUrls): patterns match the path below the host. */
  hosts: readonly string[];
}

const parsedHosts = new WeakMap<RateBudgetPacing, URL[]>();

/** The gate claims for one request: one per matching budget (none when no budget matches). */
export function rateClaimsFor(pacing: RateBudgetPacing, method: string, url: URL): RateClaim[] {
  if (pacing.budgets.size === 0) return [];
  let hosts = parsedHosts.get(pacing);
  if (hosts === undefined) {
    hosts = pacing.hosts.map((host) => new URL(host));
    parsedHosts.set(pacing, hosts);
  }
  return pacing.budgets.matching(method, pathBelowHost(url, hosts)).map((budget) => ({
    key: `${pacing.accountKey}:${budget.name}`,
    windows: budget.windows,
  }));
}
