/**
 * Bounds of a rule set. Compile-time limits reject expressions when a marketer saves them; run-time limits
 * cap what one expression may produce or iterate while evaluating one event.
 */
export interface RuleLimits {
  /** Characters in one expression. */
  maxExpressionLength: number;
  /** Nodes of one expression's syntax tree (as written: literals, identifiers, operators, calls, selections). */
  maxAstNodes: number;
  /** Nesting depth of one expression's syntax tree (the root is depth 1). */
  maxAstDepth: number;
  maxMappings: number;
  maxConditions: number;
  maxSegmentRules: number;
  /**
   * RE2 instructions a `matches()` pattern may compile to (`[a-z]{100}` is about 100): the time RE2 takes per
   * character of text grows with it.
   */
  maxPatternSize: number;
  /**
   * Run time: most elements a list or map may have when an expression builds it (`+`, `map`, `filter`) and
   * most elements (all levels together) in one mapping result.
   */
  maxListItems: number;
  /** Run time: most characters of a string an expression builds with `+` or returns from a mapping. */
  maxStringLength: number;
  /** Run time: most comprehension iterations (`map`, `filter`, `all`, `exists`, `exists_one`) per expression. */
  maxIterations: number;
  /**
   * Run time: most cost units the whole rule set may spend on one event (evaluation-guard.ts says what costs
   * what; a unit is about a nanosecond of work). The default is about 10 ms: rules run on the thread that
   * routes events and answers health checks.
   */
  maxEvaluationCost: number;
}

export const DEFAULT_RULE_LIMITS: Readonly<RuleLimits> = Object.freeze({
  maxExpressionLength: 2_000,
  maxAstNodes: 200,
  maxAstDepth: 32,
  maxMappings: 50,
  maxConditions: 20,
  maxSegmentRules: 20,
  maxPatternSize: 200,
  maxListItems: 1_000,
  maxStringLength: 10_240,
  maxIterations: 10_000,
  maxEvaluationCost: 10_000_000,
});

/** The defaults with `overrides` applied; every limit must be a positive integer. */
export function resolveRuleLimits(overrides?: Partial<RuleLimits>): RuleLimits {
  const limits: RuleLimits = { ...DEFAULT_RULE_LIMITS };
  for (const [key, value] of Object.entries(overrides ?? {}) as [keyof RuleLimits, unknown][]) {
    if (!(key in DEFAULT_RULE_LIMITS)) throw new RangeError(`unknown rule limit '${key}'`);
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new RangeError(`rule limit '${key}' must be a positive integer (got ${String(value)})`);
    }
    limits[key] = value;
  }
  return limits;
}
