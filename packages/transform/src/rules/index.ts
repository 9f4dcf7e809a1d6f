export {
  compileRules,
  type CompiledRules,
  type RuleEvaluationResult,
  type TransformRules,
} from './rule-compiler';
export { RuleError, RuleSetError, type RuleEvaluationError } from './rule-errors';
export { DEFAULT_RULE_LIMITS, resolveRuleLimits, type RuleLimits } from './rule-limits';
export { EVENT_DATA_INTEGER_FIELDS, LINE_ITEM_INTEGER_FIELDS } from './cel-environment';
export { EXAMPLE_BRAND_RULES } from './example-rules';
