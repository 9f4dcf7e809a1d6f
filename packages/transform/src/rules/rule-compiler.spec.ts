import { compileRules, type TransformRules } from './rule-compiler';
import { RuleSetError } from './rule-errors';
import { BRAND_RULES, event, inputFor, PROFILE } from './rule-fixtures';

function compileErrors(rules: TransformRules, limits?: Parameters<typeof compileRules>[1]): string[] {
  try {
    compileRules(rules, limits);
  } catch (error) {
    if (error instanceof RuleSetError) return error.errors.map((ruleError) => ruleError.toString());
    throw error;
  }
  throw new Error('expected a RuleSetError');
}

describe('compileRules: a brand rule set', () => {
  const rules = compileRules(BRAND_RULES);
  const expectedAttributes = {
    first_name: 'Ana',
    last_name: 'Lopez',
    loyalty_tier: 'Gold',
    points_balance: 3200,
    points_to_next_tier: 1800,
    lifetime_value: 1280.5,
    city: 'Lyon',
    brand_name: 'Maison',
    last_event: 'points.updated',
    synced_at: '2024-06-01T00:00:00.000Z',
  };

  it('maps a points.updated event to an upsert and segment memberships', () => {
    const result = rules.evaluate(
      inputFor(event('points.updated', { customer_id: 'cus_123', delta: 200, new_balance: 3200 })),
    );
    expect(result).toEqual({
      errors: [],
      operations: [
        {
          operation: 'upsertProfiles',
          item: {
            customerId: 'cus_123',
            version: 42,
            email: 'ana@example.com',
            phone: '+33612345678',
            attributes: expectedAttributes,
          },
        },
        {
          operation: 'addToSegment',
          item: { customerId: 'cus_123', segment: 'VIP', email: 'ana@example.com' },
        },
        {
          operation: 'removeFromSegment',
          item: { customerId: 'cus_123', segment: 'Win-back', email: 'ana@example.com' },
        },
      ],
    });
  });

  it('maps a tier.changed event of a member whose points stagnate: leaves VIP, joins win-back', () => {
    const profile = {
      ...PROFILE,
      loyalty_tier: 'Bronze',
      points_balance: 6000,
      points_updated_at: '2024-02-01T00:00:00Z',
    };
    const result = rules.evaluate(
      inputFor(
        event('tier.changed', { customer_id: 'cus_123', tier: 'Bronze', previous_tier: 'Silver' }),
        profile,
      ),
    );
    expect(result.errors).toEqual([]);
    expect(
      result.operations.map(({ operation, item }) => [operation, 'segment' in item ? item.segment : '']),
    ).toEqual([
      ['upsertProfiles', ''],
      ['removeFromSegment', 'VIP'],
      ['addToSegment', 'Win-back'],
    ]);
    const upsert = result.operations[0].item as { attributes: Record<string, unknown> };
    expect(upsert.attributes).toMatchObject({
      loyalty_tier: 'Bronze',
      points_to_next_tier: 0,
      last_event: 'tier.changed',
    });
  });

  it('maps a profile.updated event of a sparse profile with the defaults the rules give', () => {
    const profile = {
      customer_id: 'cus_9',
      version: 1,
      email: 'z@example.com',
      marketing_consent: { email: 'granted' as const },
    };
    const result = rules.evaluate(
      inputFor(event('profile.updated', { customer_id: 'cus_9', locale: 'fr-FR' }), profile),
    );
    expect(result.errors).toEqual([]);
    expect(result.operations[0]).toEqual({
      operation: 'upsertProfiles',
      item: {
        customerId: 'cus_9',
        version: 1,
        email: 'z@example.com',
        attributes: {
          ...expectedAttributes,
          first_name: '',
          last_name: '',
          loyalty_tier: 'Member',
          points_balance: 0,
          points_to_next_tier: 5000,
          lifetime_value: 0,
          city: 'FR',
          last_event: 'profile.updated',
        },
      },
    });
    expect(result.operations.slice(1).map((operation) => operation.operation)).toEqual([
      'removeFromSegment',
      'removeFromSegment',
    ]);
  });

  it('produces nothing when a condition is false (no consent, or an event type the rules ignore)', () => {
    const withdrawn = { ...PROFILE, marketing_consent: { email: 'withdrawn' as const } };
    const points = event('points.updated', { customer_id: 'cus_123', delta: 1, new_balance: 3201 });
    expect(rules.evaluate(inputFor(points, withdrawn))).toEqual({ operations: [], errors: [] });
    const coupon = event('coupon.issued', { customer_id: 'cus_123', coupon_code: 'WELCOME' });
    expect(rules.evaluate(inputFor(coupon))).toEqual({ operations: [], errors: [] });
  });

  it('types catalog integers as int and other numbers as double in event.data', () => {
    const compiled = compileRules({
      mappings: {
        next: 'event.data.new_balance + 1',
        doubled: 'event.data.delta * 2',
        ratio: 'double(event.data.delta) / 4.0',
      },
    });
    const result = compiled.evaluate(inputFor(event('points.updated', { delta: 10, new_balance: 3200 })));
    expect(result.errors).toEqual([]);
    expect(result.operations[0].item).toMatchObject({ attributes: { next: 3201, doubled: 20, ratio: 2.5 } });
    const amount = compileRules({ mappings: { with_tax: 'event.data.amount * 1.2' } }).evaluate(
      inputFor(event('transaction.created', { transaction_id: 't', amount: 100, currency: 'EUR' })),
    );
    expect(amount.operations[0].item).toMatchObject({ attributes: { with_tax: 120 } });
  });
});

describe('compileRules: segment rules', () => {
  const rules = compileRules({
    segments: [
      { segment: 'VIP', when: 'profile.loyalty_tier in ["Silver","Gold","Platinum"]' },
      { segment: 'Win-back', when: 'daysSince(profile.points_updated_at) >= 90' },
    ],
  });
  const segmentsOf = (profile: typeof PROFILE): [string, string][] =>
    rules
      .evaluate(inputFor(event('profile.updated', {}), profile))
      .operations.map(({ operation, item }) => [operation, (item as { segment: string }).segment]);

  it('adds a Gold member with recent points to VIP and removes it from win-back, without an upsert', () => {
    expect(segmentsOf(PROFILE)).toEqual([
      ['addToSegment', 'VIP'],
      ['removeFromSegment', 'Win-back'],
    ]);
  });

  it('puts a Bronze member whose points have not moved for exactly 90 days in win-back only', () => {
    const stagnant = { ...PROFILE, loyalty_tier: 'Bronze', points_updated_at: '2024-03-03T00:00:00Z' };
    expect(segmentsOf(stagnant)).toEqual([
      ['removeFromSegment', 'VIP'],
      ['addToSegment', 'Win-back'],
    ]);
    const eightyNine = { ...stagnant, points_updated_at: '2024-03-03T00:00:01Z' };
    expect(segmentsOf(eightyNine)[1]).toEqual(['removeFromSegment', 'Win-back']);
  });
});

describe('compileRules: rule errors', () => {
  it('reports a syntax error with its position', () => {
    expect(compileErrors({ conditions: ['profile.points_balance > '] })).toEqual([
      'conditions[0] (1:26): Unexpected token: EOF',
    ]);
    expect(compileErrors({ mappings: { tier: 'profile.loyalty_tier +\n  )' } })).toEqual([
      'mappings.tier (2:3): Unexpected token: RPAREN',
    ]);
  });

  it('reports an unknown profile field with its position', () => {
    expect(compileErrors({ mappings: { tier: 'profile.loyalty_teir' } })).toEqual([
      "mappings.tier (1:9): unknown field 'profile.loyalty_teir'",
    ]);
    expect(compileErrors({ mappings: { city: 'profile.address.town' } })).toEqual([
      "mappings.city (1:17): unknown field 'profile.address.town'",
    ]);
  });

  it('reports a condition or segment rule that is not a bool, naming expected and actual types', () => {
    expect(
      compileErrors({ conditions: ['profile.loyalty_tier'], segments: [{ segment: 'S', when: '1 + 2' }] }),
    ).toEqual([
      'conditions[0] (1:1): expected bool, got string',
      'segments[0].when (1:1): expected bool, got int',
    ]);
  });

  it('reports a mapping that does not produce JSON', () => {
    expect(compileErrors({ mappings: { raw: 'bytes("x")', wait: 'duration("1h")' } })).toEqual([
      'mappings.raw (1:1): expected a JSON value (string, int, double, bool, null, list, map or timestamp), got bytes',
      'mappings.wait (1:1): expected a JSON value (string, int, double, bool, null, list, map or timestamp), got google.protobuf.Duration',
    ]);
  });

  it('reports expressions that are too long, too large or too deep', () => {
    const long = `profile.email == "${'x'.repeat(2_000)}"`;
    const large = Array.from({ length: 60 }, (_, index) => `profile.points_balance > ${index}`).join(' && ');
    const deep = `${'('.repeat(20)}[${'['.repeat(33)}1${']'.repeat(33)}]${')'.repeat(20)}.size() > 0`;
    expect(compileErrors({ conditions: [long, large, deep] })).toEqual([
      'conditions[0] (1:2001): expression has 2019 characters, more than the limit of 2000',
      'conditions[1] (1:1): expression has 299 nodes, more than the limit of 200',
      'conditions[2] (1:51): expression nests 37 levels deep, more than the limit of 32',
    ]);
  });

  it('reports too many mappings, conditions and segment rules', () => {
    const mappings = Object.fromEntries(Array.from({ length: 51 }, (_, index) => [`a${index}`, 'true']));
    const conditions = Array.from({ length: 21 }, () => 'true');
    const segments = Array.from({ length: 21 }, (_, index) => ({ segment: `s${index}`, when: 'true' }));
    expect(compileErrors({ mappings, conditions, segments })).toEqual([
      'conditions: 21 conditions, more than the limit of 20',
      'mappings: 51 mappings, more than the limit of 50',
      'segments: 21 segment rules, more than the limit of 20',
    ]);
    expect(compileErrors({ conditions: ['true', 'true'] }, { maxConditions: 1 })).toEqual([
      'conditions: 2 conditions, more than the limit of 1',
    ]);
  });

  it('reports every problem of a rule set at once, in a message listing them', () => {
    let thrown: unknown;
    try {
      compileRules({
        conditions: ['has(profile.email)', '"yes"'],
        mappings: { tier: 'profile.loyalty_teir', ok: 'profile.customer_id', broken: 'event.data.(' },
        segments: [{ segment: '', when: 'profile.points_balance > "10"' }],
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RuleSetError);
    const error = thrown as RuleSetError;
    expect(error.errors.map((ruleError) => [ruleError.path, ruleError.line, ruleError.column])).toEqual([
      ['segments[0].segment', 0, 0],
      ['conditions[1]', 1, 1],
      ['mappings.tier', 1, 9],
      ['mappings.broken', 1, 12],
      ['segments[0].when', 1, 1],
    ]);
    expect(error.message).toBe(
      [
        'Invalid transform rules (5 problems):',
        '  segments[0].segment: must be a segment name of 1 to 256 characters',
        '  conditions[1] (1:1): expected bool, got string',
        "  mappings.tier (1:9): unknown field 'profile.loyalty_teir'",
        '  mappings.broken (1:12): Expected IDENTIFIER, got LPAREN',
        '  segments[0].when (1:1): no such overload: int > string',
      ].join('\n'),
    );
    expect(error.errors[2]).toMatchObject({
      expression: 'profile.loyalty_teir',
      message: "unknown field 'profile.loyalty_teir'",
    });
    expect(error.message).not.toMatch(/\n\s+at /);
  });

  it('accepts only literal RE2 patterns, naming the construct RE2 does not have', () => {
    expect(
      compileErrors({
        conditions: [
          'profile.email.matches(profile.locale)',
          'profile.email.matches("(a)\\\\1")',
          'profile.email.matches("^(?=.*@)")',
          'profile.email.matches("(?<!x)@")',
          'profile.email.matches("[z-a]")',
          'profile.email.matches("^[a-z]{300}$")',
        ],
      }),
    ).toEqual([
      'conditions[0] (1:1): matches() takes a string literal as its pattern',
      'conditions[1] (1:23): backreferences (\\1) are not supported: matches() uses RE2 syntax, which has no backtracking so that it runs in linear time',
      'conditions[2] (1:23): lookahead ((?=…) is not supported: matches() uses RE2 syntax, which has no backtracking so that it runs in linear time',
      'conditions[3] (1:23): lookbehind ((?<!…) is not supported: matches() uses RE2 syntax, which has no backtracking so that it runs in linear time',
      'conditions[4] (1:23): invalid RE2 regular expression: invalid character class range: `z-a`',
      'conditions[5] (1:23): the pattern compiles to 304 RE2 instructions, more than the limit of 200',
    ]);
    expect(() =>
      compileRules({ conditions: ['profile.email.matches("^[a-z.]+@example\\\\.com$")'] }),
    ).not.toThrow();
  });
});

describe('compileRules: matches() runs in linear time (RE2)', () => {
  const text = 'a'.repeat(50_000);
  const reasonMatches = (pattern: string) =>
    compileRules({
      conditions: [`event.data.reason.matches(${JSON.stringify(pattern)})`],
      mappings: { matched: 'true' },
    });
  const withReason = (reason: string) =>
    inputFor(event('points.updated', { delta: 1, new_balance: 1, reason }));

  // Each of these backtracks exponentially in a backtracking engine: `(a+)+` on 30 characters took minutes.
  it.each(['^(a+)+$', '^((a+))+$', '^((\\w+\\s?))*$', '^(a+){25}$'])(
    'evaluates %s on 50,000 characters at once, and matches when it should',
    (pattern) => {
      const rules = reasonMatches(pattern);
      const started = Date.now();
      expect(rules.evaluate(withReason(`${text}!`))).toEqual({ operations: [], errors: [] });
      expect(rules.evaluate(withReason(text)).operations.map((operation) => operation.operation)).toEqual([
        'upsertProfiles',
      ]);
      expect(Date.now() - started).toBeLessThan(5_000);
    },
  );

  it('evaluates the pattern of the report on a literal text (the preview that held /healthz for 45 s)', () => {
    const rules = compileRules({ mappings: { matched: `"${'a'.repeat(1_900)}!".matches("^((a+))+$")` } });
    const result = rules.evaluate(withReason('x'));
    expect(result.errors).toEqual([]);
    expect(result.operations[0]?.item).toMatchObject({ attributes: { matched: false } });
  });
});

describe('compileRules: run time', () => {
  it('reports a missing event.data key for that expression only; other inputs evaluate fine', () => {
    const rules = compileRules({
      mappings: {
        points: 'event.data.new_balance',
        reason: 'event.data.reason',
        tier: 'profile.loyalty_tier',
      },
    });
    const withoutReason = rules.evaluate(inputFor(event('points.updated', { delta: 5, new_balance: 10 })));
    expect(withoutReason).toEqual({
      operations: [],
      errors: [
        {
          code: 'evaluation_error',
          path: 'mappings.reason',
          expression: 'event.data.reason',
          message: "no such key 'event.data.reason'",
          line: 1,
          column: 12,
        },
      ],
    });
    const withReason = rules.evaluate(
      inputFor(event('points.updated', { delta: 5, new_balance: 10, reason: 'purchase' })),
    );
    expect(withReason.errors).toEqual([]);
    expect(withReason.operations[0].item).toMatchObject({
      attributes: { points: 10, reason: 'purchase', tier: 'Gold' },
    });
  });

  it('reports a failing condition unless another condition is false', () => {
    const rules = compileRules({
      conditions: ['event.data.tier == "Gold"', 'profile.loyalty_tier == "Gold"'],
      mappings: { a: '1' },
    });
    const points = inputFor(event('points.updated', { delta: 5, new_balance: 10 }));
    expect(rules.evaluate(points).errors.map((error) => error.message)).toEqual([
      "no such key 'event.data.tier'",
    ]);
    expect(rules.evaluate({ ...points, profile: { ...PROFILE, loyalty_tier: 'Bronze' } })).toEqual({
      operations: [],
      errors: [],
    });
  });

  it('reports a dyn condition that is not a bool, and an invalid evaluation time, without throwing', () => {
    const rules = compileRules({ conditions: ['event.data.delta'] });
    const input = inputFor(event('points.updated', { delta: 5, new_balance: 10 }));
    expect(rules.evaluate(input).errors.map((error) => error.message)).toEqual(['expected bool, got int']);
    expect(rules.evaluate({ ...input, now: 'yesterday' }).errors).toEqual([
      {
        code: 'evaluation_error',
        path: 'now',
        expression: '',
        message: "'yesterday' is not an ISO 8601 timestamp",
        line: 0,
        column: 0,
      },
    ]);
  });

  it('bounds comprehension work, built strings and lists, and mapping results', () => {
    const items = Array.from({ length: 200 }, (_, index) => ({ sku: `sku-${index}`, quantity: 1 }));
    const rules = compileRules(
      {
        mappings: {
          fine: 'event.data.items.map(i, i.quantity).size()',
          quadratic: 'event.data.items.map(a, event.data.items.map(b, a.quantity + b.quantity)).size()',
          swallowed: 'event.data.items.exists(a, event.data.items.exists(b, b.sku == "none"))',
          doubling:
            'cel.bind(a, event.data.items.map(i, i.sku), cel.bind(b, a + a, cel.bind(c, b + b, cel.bind(d, c + c, size(d + d)))))',
          long_string:
            'cel.bind(s, event.data.items.map(i, i.sku).join(","), cel.bind(t, s + s, cel.bind(u, t + t, size(u + u))))',
          many_items: 'event.data.items.map(i, i.sku)',
        },
      },
      { maxIterations: 5_000, maxListItems: 1_000, maxStringLength: 10_000 },
    );
    const result = rules.evaluate(
      inputFor(event('transaction.created', { transaction_id: 't', amount: 1, currency: 'EUR', items })),
    );
    expect(result.operations).toEqual([]);
    expect(result.errors.map((error) => [error.code, error.path, error.message])).toEqual([
      ['limit_exceeded', 'mappings.quadratic', 'exceeded 5000 comprehension iterations'],
      ['limit_exceeded', 'mappings.swallowed', 'exceeded 5000 comprehension iterations'],
      ['limit_exceeded', 'mappings.doubling', 'built a list of more than 1000 items'],
      ['limit_exceeded', 'mappings.long_string', 'built a string longer than 10000 characters'],
    ]);
    const small = compileRules(
      { mappings: { many_items: 'event.data.items.map(i, [i.sku])' } },
      { maxListItems: 250 },
    );
    const smallResult = small.evaluate(
      inputFor(event('transaction.created', { transaction_id: 't', amount: 1, currency: 'EUR', items })),
    );
    expect(smallResult.errors.map((error) => [error.code, error.message])).toEqual([
      ['limit_exceeded', 'result has more than 250 items'],
    ]);
  });

  it('stops a rule set that spends its budget on one event, names the rule, and evaluates the next event', () => {
    // Every rule is within its own limits; together they cost more than one event may.
    // 50,000 characters × a pattern of 103 RE2 instructions: about half the budget each.
    const costly = 'event.data.reason.matches("[a-z]{100}$")';
    const rules = compileRules({
      conditions: ['has(event.data.reason)'],
      mappings: Object.fromEntries(Array.from({ length: 10 }, (_, index) => [`m${index}`, costly])),
      segments: [{ segment: 'Never reached', when: 'true' }],
    });
    const started = Date.now();
    const result = rules.evaluate(
      inputFor(event('points.updated', { delta: 1, new_balance: 1, reason: 'a'.repeat(50_000) })),
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result).toEqual({
      operations: [],
      errors: [
        {
          code: 'limit_exceeded',
          path: 'mappings.m1',
          expression: costly,
          message: 'exceeded the evaluation budget of 10000000 cost units for one event',
          line: 0,
          column: 0,
        },
      ],
    });
    const small = rules.evaluate(
      inputFor(event('points.updated', { delta: 1, new_balance: 1, reason: 'a'.repeat(600) })),
    );
    expect(small.errors).toEqual([]);
    expect(small.operations.map((operation) => operation.operation)).toEqual([
      'upsertProfiles',
      'addToSegment',
    ]);
  });

  it('bounds comprehension work over the whole rule set, not only per rule', () => {
    // 90 × 90 pairs: under the 10,000 iterations one rule may run.
    const items = Array.from({ length: 90 }, (_, index) => ({ sku: `sku-${index}`, quantity: 1 }));
    const pairs =
      'event.data.items.map(a, event.data.items.filter(b, b.quantity == a.quantity).size()).size()';
    const rules = compileRules({
      mappings: Object.fromEntries(Array.from({ length: 50 }, (_, index) => [`m${index}`, pairs])),
    });
    const result = rules.evaluate(
      inputFor(event('transaction.created', { transaction_id: 't', amount: 1, currency: 'EUR', items })),
    );
    expect(result.operations).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({
      code: 'limit_exceeded',
      message: 'exceeded the evaluation budget of 10000000 cost units for one event',
    });
    expect(result.errors[0]?.path).not.toBe('mappings.m0');
  });
});
