import Ajv, { ValidateFunction } from 'ajv';
import { OPERATION_NAMES } from '@tessera/destination-kit';
import type { CatalogEvent } from '@tessera/events';
import type {
  BrandContext,
  DestinationContext,
  DestinationOperation,
  UnifiedProfile,
} from '../transform-contract';
import { PluginConfigError, PluginDefinitionError, PluginIssue, PluginOutputError } from './plugin-errors';

/** What a plugin's `transform` sees besides the event and the profile. */
export interface PluginContext<Config> {
  /** The destination's config of the plugin, validated against `configSchema`, defaults applied. */
  config: Config;
  brand: BrandContext;
  destination: DestinationContext;
  /** Evaluation time, fixed per batch. */
  now: Date;
}

/**
 * A transformation written in code: turns one event (with the member's unified profile) into the destination
 * operations to run. It runs in a worker thread of the plugin pool, within a time budget per batch.
 */
export interface TransformPlugin<Config = Record<string, unknown>> {
  /** Kebab-case and unique in the build, e.g. `tier-change`: what workspaces reference. */
  name: string;
  /** Semantic version, e.g. `1.2.0`. */
  version: string;
  description: string;
  /** JSON Schema (an object schema) of the plugin's config; defaults are applied. */
  configSchema: object;
  transform(
    event: CatalogEvent,
    profile: UnifiedProfile,
    context: PluginContext<Config>,
  ): DestinationOperation[] | Promise<DestinationOperation[]>;
}

const KEBAB_CASE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
// https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
const compiled = new WeakMap<object, ValidateFunction>();

function validatorFor(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Checks a plugin when its module loads, so that mistakes fail fast and by name. */
export function definePlugin<Config>(plugin: TransformPlugin<Config>): TransformPlugin<Config> {
  const rawName: unknown = plugin?.name;
  const label = typeof rawName === 'string' && rawName !== '' ? rawName : '<unnamed>';
  const fail = (field: string, problem: string): never => {
    throw new PluginDefinitionError(label, field, problem);
  };
  if (label === '<unnamed>') fail('name', 'must be a non-empty string');
  if (!KEBAB_CASE.test(label)) fail('name', 'must be kebab-case (e.g. "tier-change")');
  const version: unknown = plugin.version;
  if (typeof version !== 'string' || !SEMVER.test(version)) {
    fail('version', `must be semver (got ${JSON.stringify(version) ?? 'undefined'})`);
  }
  if (typeof plugin.description !== 'string' || plugin.description.trim() === '') {
    fail('description', 'must be a non-empty string');
  }
  const schema: unknown = plugin.configSchema;
  if (!isPlainObject(schema) || schema['type'] !== 'object') {
    fail('configSchema', 'must be an object schema (type "object")');
  }
  try {
    validatorFor(plugin.configSchema);
  } catch (error) {
    fail('configSchema', `is not a valid JSON Schema: ${(error as Error).message}`);
  }
  if (typeof plugin.transform !== 'function') fail('transform', 'must be a function');
  return plugin;
}

function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Validates a config against the plugin's schema and applies its defaults (on a copy: the input is
 * untouched). An absent config is an empty object. Throws a PluginConfigError listing every problem.
 */
export function validatePluginConfig<Config>(plugin: TransformPlugin<Config>, config: unknown): Config {
  const validate = validatorFor(plugin.configSchema);
  const copy: unknown = structuredClone(config ?? {});
  if (validate(copy)) return copy as Config;
  const issues = (validate.errors ?? []).map((error): PluginIssue => {
    const params = error.params as { missingProperty?: string; additionalProperty?: string };
    const child = params.missingProperty ?? params.additionalProperty;
    const pointer =
      child === undefined ? error.instancePath : `${error.instancePath}/${escapePointer(child)}`;
    return { pointer: pointer === '' ? '/' : pointer, message: error.message ?? 'is invalid' };
  });
  throw PluginConfigError.invalidConfig(plugin.name, issues);
}

const OPERATIONS: ReadonlySet<string> = new Set(OPERATION_NAMES);
const SEGMENT_OPERATIONS = new Set(['addToSegment', 'removeFromSegment']);
const PROFILE_OPERATIONS = new Set(['upsertProfiles', 'updateAttributes']);
const SUBSCRIPTION_OPERATIONS = new Set(['subscribe', 'unsubscribe']);

/** The first place in `value` that is not JSON (a function, a Date, NaN, a class instance...), or undefined. */
function nonJsonAt(value: unknown, pointer: string, depth = 0): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : pointer;
  if (depth > 64) return pointer;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = nonJsonAt(value[index], `${pointer}/${index}`, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof value === 'object') {
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) return pointer;
    for (const [key, child] of Object.entries(value)) {
      const found = nonJsonAt(child, `${pointer}/${escapePointer(key)}`, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return pointer;
}

function checkItem(
  operation: string,
  item: Record<string, unknown>,
  at: string,
  issues: PluginIssue[],
): void {
  const problem = (field: string, message: string): void => {
    issues.push({ pointer: `${at}/${field}`, message });
  };
  const optionalString = (field: string): void => {
    if (item[field] !== undefined && typeof item[field] !== 'string') problem(field, 'must be a string');
  };
  optionalString('email');
  if (PROFILE_OPERATIONS.has(operation)) {
    optionalString('phone');
    if (typeof item['version'] !== 'number' || !Number.isFinite(item['version'])) {
      problem('version', 'must be a finite number');
    }
    if (!isPlainObject(item['attributes'])) problem('attributes', 'must be an object');
    else {
      const found = nonJsonAt(item['attributes'], `${at}/attributes`);
      if (found !== undefined) issues.push({ pointer: found, message: 'must be a JSON value' });
    }
  } else if (SEGMENT_OPERATIONS.has(operation)) {
    if (typeof item['segment'] !== 'string' || item['segment'] === '') {
      problem('segment', 'must be a non-empty string');
    }
  } else if (SUBSCRIPTION_OPERATIONS.has(operation)) {
    optionalString('phone');
    optionalString('changedAt');
    if (item['channel'] !== 'email' && item['channel'] !== 'sms')
      problem('channel', 'must be "email" or "sms"');
  } else {
    optionalString('phone');
  }
}

/**
 * Checks what a plugin returned: an array of `{ operation, item }` with a known destination-kit operation and
 * an item of that operation's shape. Throws a PluginOutputError naming the plugin and every JSON Pointer.
 */
export function validateOperations(plugin: string, output: unknown): DestinationOperation[] {
  if (!Array.isArray(output)) {
    throw new PluginOutputError(plugin, [{ pointer: '/', message: 'must be an array of operations' }]);
  }
  const issues: PluginIssue[] = [];
  output.forEach((entry: unknown, index) => {
    const at = `/${index}`;
    if (!isPlainObject(entry)) {
      issues.push({ pointer: at, message: 'must be an object { operation, item }' });
      return;
    }
    const operation = entry['operation'];
    if (typeof operation !== 'string' || !OPERATIONS.has(operation)) {
      issues.push({
        pointer: `${at}/operation`,
        message: `must be one of ${OPERATION_NAMES.join(', ')} (got ${JSON.stringify(operation) ?? 'undefined'})`,
      });
    }
    const item = entry['item'];
    if (!isPlainObject(item)) {
      issues.push({ pointer: `${at}/item`, message: 'must be an object' });
      return;
    }
    if (typeof item['customerId'] !== 'string' || item['customerId'] === '') {
      issues.push({ pointer: `${at}/item/customerId`, message: 'must be a non-empty string' });
    }
    if (typeof operation === 'string' && OPERATIONS.has(operation))
      checkItem(operation, item, `${at}/item`, issues);
  });
  if (issues.length > 0) throw new PluginOutputError(plugin, issues);
  return output as DestinationOperation[];
}
