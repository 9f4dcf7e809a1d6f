import {
  defineDestination,
  DELIVERY_WINDOW_SETTING,
  WITHOUT_GRANT_SETTING,
  withoutGrantPolicyOf,
  DestinationDefinition,
  DestinationDefinitionError,
  redactSettings,
  secretSettingNames,
  SettingsSchema,
  validateSettings,
} from './destination-definition';

const schema: SettingsSchema = {
  type: 'object',
  properties: {
    baseUrl: { type: 'string', default: 'https://a.klaviyo.com' },
    apiKey: { type: 'string', 'x-secret': true, minLength: 1 },
    revision: { type: 'string', default: '2024-10-15' },
  },
  required: ['apiKey'],
  additionalProperties: false,
};

const valid = (): DestinationDefinition => ({
  type: 'klaviyo',
  name: 'Klaviyo',
  hosts: ['a.klaviyo.com'],
  settingsSchema: schema,
  requestHeaders: (settings) => ({ authorization: `Key ${String(settings['apiKey'])}` }),
  testConnection: async () => undefined,
  operations: {
    upsertProfiles: { batchSize: 100, perform: async (items) => items.map(() => ({ status: 'ok' })) },
  },
});

describe('defineDestination', () => {
  it("returns a valid definition with the kit's delivery window and without-grant settings added", () => {
    const definition = valid();
    expect(defineDestination(definition)).toEqual({
      ...definition,
      settingsSchema: {
        ...schema,
        properties: {
          ...schema.properties,
          windowMs: DELIVERY_WINDOW_SETTING,
          withoutGrant: WITHOUT_GRANT_SETTING,
        },
      },
    });
  });

  it('validates withoutGrant at load (minimal, none or full; absent = minimal)', () => {
    const definition = defineDestination(valid());
    const issues = validateSettings(definition.settingsSchema, { apiKey: 'k', withoutGrant: 'some' });
    expect(issues).toEqual({
      ok: false,
      errors: [{ pointer: '/withoutGrant', message: 'must be equal to one of the allowed values' }],
    });
    for (const policy of ['minimal', 'none', 'full'] as const) {
      expect(validateSettings(definition.settingsSchema, { apiKey: 'k', withoutGrant: policy }).ok).toBe(
        true,
      );
      expect(withoutGrantPolicyOf({ withoutGrant: policy })).toBe(policy);
    }
    expect(withoutGrantPolicyOf({})).toBe('minimal');
  });

  it("refuses a destination's own withoutGrant setting", () => {
    const definition = valid();
    definition.settingsSchema = {
      ...schema,
      properties: { ...schema.properties, withoutGrant: { type: 'string' } },
    };
    expect(() => defineDestination(definition)).toThrow(
      `Destination "klaviyo": settingsSchema.properties.withoutGrant is the kit's own setting (members without a grant)`,
    );
  });

  const failure = (definition: unknown): string => {
    try {
      defineDestination(definition as DestinationDefinition);
    } catch (error) {
      expect(error).toBeInstanceOf(DestinationDefinitionError);
      return (error as Error).message;
    }
    throw new Error('expected defineDestination to throw');
  };

  it('requires the ESP hosts, as host name patterns with their last two labels spelled out', () => {
    const definition = valid();
    definition.hosts = [];
    expect(failure(definition)).toBe(
      `Destination "klaviyo": hosts must list the ESP's hosts (e.g. ['a.klaviyo.com'])`,
    );
    const problems: [string, string][] = [
      ['127.0.0.1', 'must be a host name, not an IP address (got "127.0.0.1")'],
      ['*.com', 'must spell out its last two labels: * may stand for a sub-domain only (got "*.com")'],
      ['api.*', 'must spell out its last two labels: * may stand for a sub-domain only (got "api.*")'],
      [
        'https://a.klaviyo.com',
        'must be a lower-case host name such as a.klaviyo.com or *.api.mailchimp.com (got "https://a.klaviyo.com")',
      ],
      [
        'A.Klaviyo.com',
        'must be a lower-case host name such as a.klaviyo.com or *.api.mailchimp.com (got "A.Klaviyo.com")',
      ],
      [
        'localhost',
        'must be a lower-case host name such as a.klaviyo.com or *.api.mailchimp.com (got "localhost")',
      ],
      [
        'rest*.braze.com',
        'must be a lower-case host name such as a.klaviyo.com or *.api.mailchimp.com (got "rest*.braze.com")',
      ],
    ];
    for (const [pattern, problem] of problems) {
      definition.hosts = ['a.klaviyo.com', pattern];
      expect(failure(definition)).toBe(`Destination "klaviyo": hosts[1] ${problem}`);
    }
    definition.hosts = ['rest.*.braze.eu', '*.api.mailchimp.com'];
    expect(defineDestination(definition).hosts).toEqual(['rest.*.braze.eu', '*.api.mailchimp.com']);
  });

  it('names the destination and the field of a bad batch size', () => {
    const definition = valid();
    definition.operations = { addToSegment: { batchSize: 0, perform: async () => [] } };
    expect(failure(definition)).toBe(
      'Destination "klaviyo": operations.addToSegment.batchSize must be a positive integer (got 0)',
    );
    definition.operations = { addToSegment: { batchSize: 1.5, perform: async () => [] } };
    expect(failure(definition)).toBe(
      'Destination "klaviyo": operations.addToSegment.batchSize must be a positive integer (got 1.5)',
    );
  });

  it('requires perform and a known operation name, and refuses the old per-operation limits', () => {
    expect(failure({ ...valid(), operations: { suppress: { batchSize: 10 } } })).toBe(
      'Destination "klaviyo": operations.suppress.perform must be a function',
    );
    expect(failure({ ...valid(), operations: { merge: { batchSize: 10, perform: async () => [] } } })).toBe(
      'Destination "klaviyo": operations.merge is not a known operation',
    );
    const rateLimits = [{ requests: 10, perMs: 1000 }];
    expect(
      failure({
        ...valid(),
        operations: { suppress: { batchSize: 10, rateLimits, perform: async () => [] } },
      }),
    ).toBe(
      'Destination "klaviyo": operations.suppress.rateLimits is no longer read: declare the limits in rateBudgets',
    );
    expect(failure({ ...valid(), requestHeaders: undefined })).toBe(
      'Destination "klaviyo": requestHeaders must be a function',
    );
  });

  it('checks rate budgets: windows, patterns and names, each named by its field', () => {
    const budget = {
      windows: [{ requests: 10, perMs: 1000 }],
      requests: ['POST /api/lists/*/relationships/**'],
    };
    const withBudgets = (rateBudgets: unknown): unknown => ({ ...valid(), rateBudgets });
    // A pattern no operation sends to is fine: the budget then never counts anything.
    expect(() =>
      defineDestination(
        withBudgets({ lists: budget, unused: { ...budget, requests: ['* /never/**'] } }) as never,
      ),
    ).not.toThrow();
    expect(failure(withBudgets({ lists: { ...budget, windows: [] } }))).toBe(
      'Destination "klaviyo": rateBudgets.lists.windows must list at least one window',
    );
    expect(failure(withBudgets({ lists: { ...budget, windows: [{ requests: 10, perMs: 0.5 }] } }))).toBe(
      'Destination "klaviyo": rateBudgets.lists.windows[0].perMs must be a positive integer (got 0.5)',
    );
    expect(failure(withBudgets({ lists: { ...budget, windows: [{ perMs: 1000 }] } }))).toBe(
      'Destination "klaviyo": rateBudgets.lists.windows[0].requests must be a positive integer (got undefined)',
    );
    expect(failure(withBudgets({ lists: { ...budget, requests: [] } }))).toBe(
      'Destination "klaviyo": rateBudgets.lists.requests must list at least one \'METHOD /path\' pattern',
    );
    expect(failure(withBudgets({ lists: { ...budget, requests: ['/api/lists'] } }))).toBe(
      'Destination "klaviyo": rateBudgets.lists.requests[0] must look like \'METHOD /path\' (got "/api/lists")',
    );
    expect(failure(withBudgets({ lists: { ...budget, requests: ['post /api/lists'] } }))).toBe(
      'Destination "klaviyo": rateBudgets.lists.requests[0] has method "post"; use an upper-case HTTP method or * (in "post /api/lists")',
    );
    expect(failure(withBudgets({ lists: { ...budget, requests: ['GET /api/**/members'] } }))).toBe(
      'Destination "klaviyo": rateBudgets.lists.requests[0] may use /** only at its end (in "GET /api/**/members")',
    );
    expect(failure(withBudgets({ lists: { ...budget, requests: ['GET /api/list-*'] } }))).toBe(
      'Destination "klaviyo": rateBudgets.lists.requests[0] may use * only as a whole path segment (in "GET /api/list-*")',
    );
    expect(failure(withBudgets({ lists: { ...budget, requests: ['GET /a', 'GET /b', 'GET /a'] } }))).toBe(
      'Destination "klaviyo": rateBudgets.lists.requests[2] repeats "GET /a"',
    );
    expect(failure(withBudgets({ 'list budget': budget }))).toBe(
      "Destination \"klaviyo\": rateBudgets.list budget has a name with other characters than letters, digits, '-', '_', '.'",
    );
    expect(failure(withBudgets([budget]))).toBe(
      'Destination "klaviyo": rateBudgets must be an object of budgets by name',
    );
    expect(failure({ ...valid(), accountKey: 'apiKey' })).toBe(
      'Destination "klaviyo": accountKey must be a function',
    );
  });

  it('requires a baseUrl with a default in the settings schema', () => {
    const noDefault = { ...schema, properties: { ...schema.properties, baseUrl: { type: 'string' } } };
    expect(failure({ ...valid(), settingsSchema: noDefault })).toBe(
      'Destination "klaviyo": settingsSchema.properties.baseUrl.default must be a string',
    );
    const noBaseUrl = { type: 'object', properties: { apiKey: { type: 'string' } } };
    expect(failure({ ...valid(), settingsSchema: noBaseUrl })).toBe(
      'Destination "klaviyo": settingsSchema.properties.baseUrl must be a string property',
    );
  });

  it('names an unnamed destination and requires operations', () => {
    expect(failure({ ...valid(), type: '' })).toBe(
      'Destination "<unnamed>": type must be a non-empty string',
    );
    expect(failure({ ...valid(), operations: {} })).toBe(
      'Destination "klaviyo": operations must declare at least one operation',
    );
  });
});

describe('settings', () => {
  it('lists and redacts secrets', () => {
    expect(secretSettingNames(schema)).toEqual(['apiKey']);
    const settings = { baseUrl: 'https://a.klaviyo.com', apiKey: 'pk_live_123' };
    expect(redactSettings(schema, settings)).toEqual({ baseUrl: 'https://a.klaviyo.com', apiKey: '***' });
    expect(settings.apiKey).toBe('pk_live_123');
    expect(redactSettings(schema, { baseUrl: 'x' })).toEqual({ baseUrl: 'x' });
  });

  it('applies defaults on a copy', () => {
    const input = { apiKey: 'pk' };
    expect(validateSettings(schema, input)).toEqual({
      ok: true,
      settings: { apiKey: 'pk', baseUrl: 'https://a.klaviyo.com', revision: '2024-10-15' },
    });
    expect(input).toEqual({ apiKey: 'pk' });
  });

  it('reports errors with JSON Pointers', () => {
    expect(validateSettings(schema, { revision: 7, extra: true })).toEqual({
      ok: false,
      errors: [
        { pointer: '/apiKey', message: "must have required property 'apiKey'" },
        { pointer: '/extra', message: 'must NOT have additional properties' },
        { pointer: '/revision', message: 'must be string' },
      ],
    });
  });
});
