import { definePlugin, TransformPlugin, validateOperations, validatePluginConfig } from './plugin-definition';
import { PluginConfigError, PluginDefinitionError, PluginOutputError } from './plugin-errors';

interface TierConfig {
  minPoints: number;
  segment: string;
  tiers?: string[];
}

const valid = (): TransformPlugin<TierConfig> => ({
  name: 'tier-change',
  version: '1.2.3-beta.1+build.5',
  description: 'Moves members between tier segments.',
  configSchema: {
    type: 'object',
    properties: {
      minPoints: { type: 'integer', minimum: 0, default: 100 },
      segment: { type: 'string' },
      tiers: { type: 'array', items: { type: 'string' } },
    },
    required: ['segment'],
    additionalProperties: false,
  },
  transform: () => [],
});

function definitionError(plugin: unknown): PluginDefinitionError {
  try {
    definePlugin(plugin as TransformPlugin);
  } catch (error) {
    expect(error).toBeInstanceOf(PluginDefinitionError);
    return error as PluginDefinitionError;
  }
  throw new Error('definePlugin accepted the plugin');
}

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('did not throw');
}

describe('definePlugin', () => {
  it('returns a valid plugin unchanged', () => {
    const plugin = valid();
    expect(definePlugin(plugin)).toBe(plugin);
  });

  it.each([
    [{ name: '' }, 'Plugin "<unnamed>": name must be a non-empty string'],
    [{ name: undefined }, 'Plugin "<unnamed>": name must be a non-empty string'],
    [{ name: 'TierChange' }, 'Plugin "TierChange": name must be kebab-case (e.g. "tier-change")'],
    [{ name: 'tier_change' }, 'Plugin "tier_change": name must be kebab-case (e.g. "tier-change")'],
    [{ version: '1' }, 'Plugin "tier-change": version must be semver (got "1")'],
    [{ version: '1.0' }, 'Plugin "tier-change": version must be semver (got "1.0")'],
    [{ version: '01.0.0' }, 'Plugin "tier-change": version must be semver (got "01.0.0")'],
    [{ version: 1 }, 'Plugin "tier-change": version must be semver (got 1)'],
    [{ version: undefined }, 'Plugin "tier-change": version must be semver (got undefined)'],
    [{ description: ' ' }, 'Plugin "tier-change": description must be a non-empty string'],
    [
      { configSchema: undefined },
      'Plugin "tier-change": configSchema must be an object schema (type "object")',
    ],
    [
      { configSchema: { type: 'string' } },
      'Plugin "tier-change": configSchema must be an object schema (type "object")',
    ],
    [
      { configSchema: { type: 'object', properties: { a: { type: 'strng' } } } },
      'Plugin "tier-change": configSchema is not a valid JSON Schema: schema is invalid: data/properties/a/type must be equal to one of the allowed values, data/properties/a/type must be array, data/properties/a/type must match a schema in anyOf',
    ],
    [
      { configSchema: { type: 'object', propertees: {} } },
      'Plugin "tier-change": configSchema is not a valid JSON Schema: strict mode: unknown keyword: "propertees"',
    ],
    [{ transform: 'not a function' }, 'Plugin "tier-change": transform must be a function'],
  ])('rejects %j', (override, message) => {
    const error = definitionError({ ...valid(), ...override });
    expect(error.message).toBe(message);
  });
});

describe('validatePluginConfig', () => {
  const plugin = definePlugin(valid());

  it('applies defaults on a copy and leaves the input untouched', () => {
    const input = { segment: 'gold' };
    expect(validatePluginConfig(plugin, input)).toEqual({ segment: 'gold', minPoints: 100 });
    expect(input).toEqual({ segment: 'gold' });
  });

  it('treats an absent config as an empty object', () => {
    const echo = definePlugin({
      ...valid(),
      configSchema: { type: 'object', properties: { a: { type: 'string', default: 'x' } } },
    });
    expect(validatePluginConfig(echo, undefined)).toEqual({ a: 'x' });
  });

  it('names the plugin and every JSON Pointer', () => {
    const error = thrown(() =>
      validatePluginConfig(plugin, { minPoints: -1, tiers: ['gold', 3], colour: 'red' }),
    ) as PluginConfigError;
    expect(error).toBeInstanceOf(PluginConfigError);
    expect(error.message).toBe(
      'Plugin "tier-change": invalid config: /segment must have required property \'segment\'; ' +
        '/colour must NOT have additional properties; /minPoints must be >= 0; /tiers/1 must be string',
    );
    expect(error.plugin).toBe('tier-change');
    expect(error.issues.map((issue) => issue.pointer)).toEqual([
      '/segment',
      '/colour',
      '/minPoints',
      '/tiers/1',
    ]);
  });

  it('points at the root when the config is not an object', () => {
    expect(thrown(() => validatePluginConfig(plugin, ['x'])).message).toBe(
      'Plugin "tier-change": invalid config: / must be object',
    );
  });
});

describe('validateOperations', () => {
  it('accepts every operation shape', () => {
    const output = [
      {
        operation: 'upsertProfiles',
        item: {
          customerId: 'c1',
          version: 3,
          email: 'a@b.c',
          attributes: { tier: 'gold', tags: [1, null, { x: true }] },
        },
      },
      { operation: 'addToSegment', item: { customerId: 'c1', segment: 'vip' } },
      { operation: 'subscribe', item: { customerId: 'c1', channel: 'sms', phone: '+33600000000' } },
      { operation: 'suppress', item: { customerId: 'c1', email: 'a@b.c' } },
    ];
    expect(validateOperations('p', output)).toBe(output);
    expect(validateOperations('p', [])).toEqual([]);
  });

  it('rejects a non-array with the plugin name', () => {
    const error = thrown(() =>
      validateOperations('tier-change', { operation: 'suppress' }),
    ) as PluginOutputError;
    expect(error).toBeInstanceOf(PluginOutputError);
    expect(error.message).toBe('Plugin "tier-change": invalid output: / must be an array of operations');
  });

  it('lists every problem by JSON Pointer', () => {
    const error = thrown(() =>
      validateOperations('tier-change', [
        null,
        { operation: 'explode', item: { customerId: 'c' } },
        {
          operation: 'updateAttributes',
          item: { customerId: '', version: '3', attributes: { at: new Date(0) } },
        },
        { operation: 'addToSegment', item: { customerId: 'c' } },
        { operation: 'unsubscribe', item: { customerId: 'c', channel: 'push' } },
        { operation: 'deleteProfiles' },
        { operation: 'upsertProfiles', item: { customerId: 'c', version: 1, attributes: [] } },
        { operation: 'upsertProfiles', item: { customerId: 'c', version: 1, attributes: { n: NaN } } },
      ]),
    ) as PluginOutputError;
    expect(error.issues).toEqual([
      { pointer: '/0', message: 'must be an object { operation, item }' },
      {
        pointer: '/1/operation',
        message:
          'must be one of upsertProfiles, updateAttributes, addToSegment, removeFromSegment, subscribe, unsubscribe, suppress, unsuppress, deleteProfiles, fetchProfiles, mergeProfiles (got "explode")',
      },
      { pointer: '/2/item/customerId', message: 'must be a non-empty string' },
      { pointer: '/2/item/version', message: 'must be a finite number' },
      { pointer: '/2/item/attributes/at', message: 'must be a JSON value' },
      { pointer: '/3/item/segment', message: 'must be a non-empty string' },
      { pointer: '/4/item/channel', message: 'must be "email" or "sms"' },
      { pointer: '/5/item', message: 'must be an object' },
      { pointer: '/6/item/attributes', message: 'must be an object' },
      { pointer: '/7/item/attributes/n', message: 'must be a JSON value' },
    ]);
    expect(error.message.startsWith('Plugin "tier-change": invalid output: /0 must be an object')).toBe(true);
  });
});
