import type * as Cel from '@marcbachmann/cel-js' with { 'resolution-mode': 'import' };
import type { RE2JS } from 're2js';
import type { DestinationOperation, TransformInput } from '../transform-contract';
import { isNode, measureTree, writtenNodes, type InspectedNode } from './cel-ast-inspector';
import {
  celEnvironment,
  TIMESTAMP_TYPE,
  toCelVariables,
  withEvaluationTime,
  type CelVariables,
} from './cel-environment';
import { EvaluationGuard, installGuards } from './evaluation-guard';
import { JsonValueConverter } from './json-value-converter';
import { compileRe2Pattern } from './re2-pattern';
import { positionOf, RuleError, RuleLimitError, RuleSetError, type RuleEvaluationError } from './rule-errors';
import { resolveRuleLimits, type RuleLimits } from './rule-limits';

/** The rules of one brand destination, as marketers write them (stored with the brand destination). */
export interface TransformRules {
  /** CEL bools: all must be true for the rule set to produce anything. */
  conditions?: string[];
  /** Target attribute → CEL expression; the results become the attributes of the profile upsert. */
  mappings?: Record<string, string>;
  /** Membership rules: `when` true → `addToSegment`, false → `removeFromSegment`. */
  segments?: { segment: string; when: string }[];
}

/**
 * What one input produced. When `errors` is not empty, `operations` is empty: an input either produces all
 * its operations or none (the pipeline dead-letters it with the errors). A false condition yields neither.
 */
export interface RuleEvaluationResult {
  operations: DestinationOperation[];
  errors: RuleEvaluationError[];
}

export interface CompiledRules {
  /**
   * Never throws: a failing expression becomes an entry of `errors`. Synchronous and bounded: the whole rule
   * set spends at most `maxEvaluationCost` units on one input (then stops, with a `limit_exceeded` error).
   */
  evaluate(input: TransformInput): RuleEvaluationResult;
}

type RuleKind = 'condition' | 'segment' | 'mapping';

interface CompiledExpression {
  path: string;
  expression: string;
  evaluate: Cel.ParseResult;
  /** Nodes one evaluation runs (comprehension loops once): charged to the budget before it runs. */
  nodes: number;
}

interface RuleInput {
  path: string;
  kind: RuleKind;
  expression: unknown;
}

const JSON_RESULT_TYPES = new Set([
  'string',
  'int',
  'uint',
  'double',
  'bool',
  'null_type',
  'dyn',
  'list',
  'map',
]);
const JSON_RESULT_DESCRIPTION = 'a JSON value (string, int, double, bool, null, list, map or timestamp)';

function isJsonResultType(type: string): boolean {
  return (
    JSON_RESULT_TYPES.has(type) ||
    type.startsWith('list<') ||
    type.startsWith('map<') ||
    type === TIMESTAMP_TYPE ||
    type === 'tessera.Address'
  );
}

/**
 * Parses and type-checks every expression of a rule set (when it is saved) and prepares their evaluation.
 * Throws a `RuleSetError` listing every problem found.
 */
export function compileRules(rules: TransformRules, limits?: Partial<RuleLimits>): CompiledRules {
  const resolved = resolveRuleLimits(limits);
  const guard = new EvaluationGuard(resolved);
  const errors: RuleError[] = [];
  const shapeError = (path: string, message: string): void => {
    errors.push(new RuleError({ path, expression: '', line: 0, column: 0, message }));
  };

  if (rules === null || typeof rules !== 'object') {
    throw new RuleSetError([
      new RuleError({ path: '', expression: '', line: 0, column: 0, message: 'must be an object' }),
    ]);
  }
  const inputs: RuleInput[] = [];
  const conditions = rules.conditions ?? [];
  if (!Array.isArray(conditions)) shapeError('conditions', 'must be a list of expressions');
  else {
    if (conditions.length > resolved.maxConditions) {
      shapeError(
        'conditions',
        `${conditions.length} conditions, more than the limit of ${resolved.maxConditions}`,
      );
    }
    conditions.forEach((expression, index) => {
      inputs.push({ path: `conditions[${index}]`, kind: 'condition', expression });
    });
  }

  const mappings = rules.mappings ?? {};
  const targets: string[] = [];
  if (mappings === null || typeof mappings !== 'object' || Array.isArray(mappings)) {
    shapeError('mappings', 'must be an object of target field → expression');
  } else {
    const entries = Object.entries(mappings);
    if (entries.length > resolved.maxMappings) {
      shapeError('mappings', `${entries.length} mappings, more than the limit of ${resolved.maxMappings}`);
    }
    for (const [target, expression] of entries) {
      if (target.trim() === '' || target.length > 128) {
        shapeError(`mappings.${target}`, 'target field names must have 1 to 128 characters');
      }
      targets.push(target);
      inputs.push({ path: `mappings.${target}`, kind: 'mapping', expression });
    }
  }

  const segments = rules.segments ?? [];
  const segmentNames: string[] = [];
  if (!Array.isArray(segments)) shapeError('segments', 'must be a list of segment rules');
  else {
    if (segments.length > resolved.maxSegmentRules) {
      shapeError(
        'segments',
        `${segments.length} segment rules, more than the limit of ${resolved.maxSegmentRules}`,
      );
    }
    segments.forEach((rule, index) => {
      const segment: unknown = rule?.segment;
      if (typeof segment !== 'string' || segment.trim() === '' || segment.length > 256) {
        shapeError(`segments[${index}].segment`, 'must be a segment name of 1 to 256 characters');
      }
      segmentNames.push(typeof segment === 'string' ? segment : '');
      inputs.push({ path: `segments[${index}].when`, kind: 'segment', expression: rule?.when });
    });
  }

  const compiled = new Map<string, CompiledExpression>();
  for (const input of inputs) {
    const result = compileExpression(input, resolved, guard);
    if (result instanceof RuleError) errors.push(result);
    else compiled.set(input.path, result);
  }
  if (errors.length > 0) throw new RuleSetError(errors);

  const pick = (path: string): CompiledExpression => compiled.get(path) as CompiledExpression;
  return new RuleSetEvaluator(
    conditions.map((_, index) => pick(`conditions[${index}]`)),
    targets.map((target) => ({ target, expression: pick(`mappings.${target}`) })),
    segmentNames.map((segment, index) => ({ segment, expression: pick(`segments[${index}].when`) })),
    guard,
    new JsonValueConverter(resolved.maxListItems, resolved.maxStringLength),
  );
}

function compileExpression(
  input: RuleInput,
  limits: RuleLimits,
  guard: EvaluationGuard,
): CompiledExpression | RuleError {
  const { path, kind } = input;
  const fail = (expression: string, offset: number, message: string): RuleError => {
    const { line, column } = positionOf(expression, offset);
    return new RuleError({ path, expression, line, column, message });
  };
  if (typeof input.expression !== 'string') {
    return new RuleError({
      path,
      expression: '',
      line: 0,
      column: 0,
      message: 'must be a CEL expression (a string)',
    });
  }
  const expression = input.expression;
  const start = Math.max(0, expression.search(/\S/));
  if (expression.trim() === '') return fail(expression, 0, 'is empty');
  if (expression.length > limits.maxExpressionLength) {
    return fail(
      expression,
      limits.maxExpressionLength,
      `expression has ${expression.length} characters, more than the limit of ${limits.maxExpressionLength}`,
    );
  }

  let parsed: Cel.ParseResult;
  try {
    parsed = celEnvironment().parse(expression);
  } catch (error) {
    return fromCelError(error, expression, fail);
  }
  const root = parsed.ast as unknown as InspectedNode;
  const measure = measureTree(root, limits.maxAstDepth);
  if (measure.nodes > limits.maxAstNodes) {
    return fail(
      expression,
      start,
      `expression has ${measure.nodes} nodes, more than the limit of ${limits.maxAstNodes}`,
    );
  }
  if (measure.tooDeep !== undefined) {
    return fail(
      expression,
      measure.tooDeep.start,
      `expression nests ${measure.depth} levels deep, more than the limit of ${limits.maxAstDepth}`,
    );
  }
  const patterns = compileRegularExpressions(root, limits.maxPatternSize);
  if (!(patterns instanceof Map)) return fail(expression, patterns.node.start, patterns.message);

  const checked = parsed.check();
  if (!checked.valid) return fromCelError(checked.error, expression, fail);
  const type = checked.type ?? 'dyn';
  if (kind !== 'mapping' && type !== 'bool' && type !== 'dyn') {
    return fail(expression, start, `expected bool, got ${type}`);
  }
  if (kind === 'mapping' && !isJsonResultType(type)) {
    return fail(expression, start, `expected ${JSON_RESULT_DESCRIPTION}, got ${type}`);
  }
  const nodes = installGuards(root, guard, patterns);
  return { path, expression, evaluate: parsed, nodes };
}

/**
 * `matches()` runs on RE2 (linear time, see re2-pattern.ts). Its pattern must be a string literal, so that
 * it is compiled, and refused, when the rule is saved.
 */
function compileRegularExpressions(
  root: InspectedNode,
  maxPatternSize: number,
): Map<string, RE2JS> | { node: InspectedNode; message: string } {
  const patterns = new Map<string, RE2JS>();
  for (const node of writtenNodes(root)) {
    if (node.op !== 'rcall' || (node.args as unknown[])[0] !== 'matches') continue;
    const [pattern] = (node.args as unknown[])[2] as unknown[];
    if (!isNode(pattern) || pattern.op !== 'value' || typeof pattern.args !== 'string') {
      return { node, message: 'matches() takes a string literal as its pattern' };
    }
    const compiled = compileRe2Pattern(pattern.args);
    if (!compiled.ok) return { node: pattern, message: compiled.problem };
    const size = compiled.regex.programSize();
    if (size > maxPatternSize) {
      return {
        node: pattern,
        message: `the pattern compiles to ${size} RE2 instructions, more than the limit of ${maxPatternSize}`,
      };
    }
    patterns.set(pattern.args, compiled.regex);
  }
  return patterns;
}

interface CelErrorLike {
  name?: string;
  code?: string;
  summary?: string;
  message?: string;
  range?: { start: number; end: number };
  node?: unknown;
}

/** The library's message without its source excerpt, with a clearer wording for a few common problems. */
function describeCelError(error: unknown): { message: string; offset: number | undefined } {
  if (!(error instanceof Error)) return { message: String(error), offset: undefined };
  const celError = error as CelErrorLike;
  const summary = celError.summary ?? error.message.split('\n')[0] ?? error.message;
  const offset = celError.range?.start;
  const node = celError.node;
  if (celError.code === 'no_such_key' && isNode(node) && (node.op === '.' || node.op === '.?')) {
    const [receiver, field] = node.args as [unknown, string];
    const base = isNode(receiver) ? node.input.slice(receiver.start, receiver.end) : '';
    const fieldPath = base === '' ? field : `${base}.${field}`;
    return {
      message: error.name === 'TypeError' ? `unknown field '${fieldPath}'` : `no such key '${fieldPath}'`,
      offset,
    };
  }
  if (celError.code === 'no_such_key' && isNode(node) && node.op === '[]') {
    const [receiver, index] = node.args as [unknown, unknown];
    if (isNode(receiver) && isNode(index)) {
      const source = `${node.input.slice(receiver.start, receiver.end)}[${node.input.slice(index.start, index.end)}]`;
      return { message: `no such key '${source}'`, offset };
    }
  }
  return { message: summary, offset };
}

function fromCelError(
  error: unknown,
  expression: string,
  fail: (expression: string, offset: number, message: string) => RuleError,
): RuleError {
  const { message, offset } = describeCelError(error);
  return fail(expression, offset ?? 0, message);
}

function evaluationError(
  compiled: CompiledExpression,
  message: string,
  offset: number | undefined,
  code: RuleEvaluationError['code'] = 'evaluation_error',
): RuleEvaluationError {
  const { line, column } =
    offset === undefined ? { line: 0, column: 0 } : positionOf(compiled.expression, offset);
  return { code, path: compiled.path, expression: compiled.expression, message, line, column };
}

function describeValueType(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'number') return 'double';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return value instanceof Date ? 'timestamp' : 'map';
  return typeof value;
}

class RuleSetEvaluator implements CompiledRules {
  /** The outcome of the last `run`: set instead of returned, to spare an allocation per expression. */
  private failure: RuleEvaluationError | undefined;

  constructor(
    private readonly conditions: CompiledExpression[],
    private readonly mappings: { target: string; expression: CompiledExpression }[],
    private readonly segments: { segment: string; expression: CompiledExpression }[],
    private readonly guard: EvaluationGuard,
    private readonly converter: JsonValueConverter,
  ) {}

  evaluate(input: TransformInput): RuleEvaluationResult {
    let variables: CelVariables;
    try {
      variables = toCelVariables(input);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return {
        operations: [],
        errors: [{ code: 'evaluation_error', path: 'now', expression: '', message, line: 0, column: 0 }],
      };
    }
    this.guard.startInput();
    return withEvaluationTime(variables.now.getTime(), () => this.evaluateWith(variables, input));
  }

  private run(compiled: CompiledExpression, variables: CelVariables): unknown {
    this.failure = undefined;
    this.guard.startExpression();
    let value: unknown;
    try {
      this.guard.chargeNodes(compiled.nodes);
      value = compiled.evaluate(variables);
    } catch (error) {
      if (this.guard.exceeded === undefined) {
        const { message, offset } = describeCelError(error);
        this.failure = evaluationError(compiled, message, offset);
        return undefined;
      }
    }
    if (this.guard.exceeded !== undefined) {
      this.failure = evaluationError(compiled, this.guard.exceeded, undefined, 'limit_exceeded');
      return undefined;
    }
    return value;
  }

  /** Runs a condition or segment rule: true, false, or undefined with `failure` set. */
  private runBool(compiled: CompiledExpression, variables: CelVariables): boolean | undefined {
    const value = this.run(compiled, variables);
    if (this.failure !== undefined || typeof value === 'boolean') return value as boolean | undefined;
    this.failure = evaluationError(compiled, `expected bool, got ${describeValueType(value)}`, undefined);
    return undefined;
  }

  private evaluateWith(variables: CelVariables, input: TransformInput): RuleEvaluationResult {
    const errors: RuleEvaluationError[] = [];
    // Once the budget is spent nothing more runs: the input's evaluation has failed.
    const overBudget = (): RuleEvaluationResult => ({
      operations: [],
      errors: [...errors, this.failure as RuleEvaluationError],
    });
    // Like CEL's `&&`: a false condition decides even when another one failed.
    for (const condition of this.conditions) {
      const holds = this.runBool(condition, variables);
      if (holds === false) return { operations: [], errors: [] };
      if (this.guard.overBudget) return overBudget();
      if (this.failure !== undefined) errors.push(this.failure);
    }
    if (errors.length > 0) return { operations: [], errors };

    const { profile } = input;
    const operations: DestinationOperation[] = [];
    if (this.mappings.length > 0) {
      const attributes: Record<string, unknown> = {};
      for (const { target, expression } of this.mappings) {
        const value = this.run(expression, variables);
        if (this.guard.overBudget) return overBudget();
        if (this.failure !== undefined) {
          errors.push(this.failure);
          continue;
        }
        try {
          attributes[target] = this.converter.convert(value);
        } catch (error) {
          const code = error instanceof RuleLimitError ? 'limit_exceeded' : 'evaluation_error';
          errors.push(evaluationError(expression, (error as Error).message, undefined, code));
        }
      }
      const item: {
        customerId: string;
        version: number;
        email?: string;
        phone?: string;
        attributes: Record<string, unknown>;
      } = {
        customerId: profile.customer_id,
        version: profile.version,
        attributes,
      };
      if (profile.email !== undefined) item.email = profile.email;
      if (profile.phone !== undefined) item.phone = profile.phone;
      operations.push({ operation: 'upsertProfiles', item });
    }
    for (const { segment, expression } of this.segments) {
      const member = this.runBool(expression, variables);
      if (this.guard.overBudget) return overBudget();
      if (member === undefined) {
        errors.push(this.failure as RuleEvaluationError);
        continue;
      }
      const item: { customerId: string; segment: string; email?: string } = {
        customerId: profile.customer_id,
        segment,
      };
      if (profile.email !== undefined) item.email = profile.email;
      operations.push({ operation: member ? 'addToSegment' : 'removeFromSegment', item });
    }
    return errors.length > 0 ? { operations: [], errors } : { operations, errors };
  }
}
