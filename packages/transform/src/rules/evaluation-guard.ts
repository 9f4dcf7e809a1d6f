import type { RE2JS } from 're2js';
import { evaluatedNodes, type InspectedNode } from './cel-ast-inspector';
import { RuleLimitError } from './rule-errors';
import type { RuleLimits } from './rule-limits';

/*
 * Rules run synchronously on the thread that routes events, so what one event may cost is bounded before
 * the work is done, never measured after it: a deterministic budget (the same event and rules always cost
 * the same, in the preview as in the route stage) rather than a clock.
 *
 * Cost units: one per node evaluated (the whole expression once, a comprehension's loop once per item),
 * plus, for operators and functions, one per character, element or entry of what they read, and for
 * `matches()` the text's length times the size of the compiled pattern (RE2's worst case). A unit is about
 * a nanosecond of work; the default budget of 10 million is about 10 ms (measured: 10 to 20 ms for loops,
 * less for regular expressions, whose lazy DFA may take tens of milliseconds once, the first time a large
 * pattern meets a long text).
 */

/** duration() parses with a backtracking regular expression (cubic in its input): real durations are short. */
const MAX_DURATION_TEXT = 64;

/** A node evaluation costs this many units: measured (warm, Node 20), about 30 ns, a unit being about 1 ns. */
const NODE_COST = 32;

/** Operators whose work grows with their operands (string comparison and concatenation, `in`, list `+`). */
const SIZED_OPERATORS = new Set(['==', '!=', '<', '<=', '>', '>=', '+', 'in']);
/** Functions that build a string or a list from parts: their results are bounded like `+`'s. */
const BUILDERS = new Set(['split', 'join']);

/** Run-time accounting of the rules for one input (`startInput`) and one expression (`startExpression`). */
export class EvaluationGuard {
  private iterations = 0;
  private spent = 0;
  /** The first limit exceeded by the current expression (sticky: `exists`/`all` may swallow the thrown error). */
  exceeded: string | undefined;
  /** Set once the input's budget is spent: nothing more is evaluated for that input. */
  overBudget = false;

  constructor(
    private readonly limits: Pick<
      RuleLimits,
      'maxIterations' | 'maxListItems' | 'maxStringLength' | 'maxEvaluationCost'
    >,
  ) {}

  startInput(): void {
    this.spent = 0;
    this.overBudget = false;
  }

  startExpression(): void {
    this.iterations = 0;
    this.exceeded = undefined;
  }

  private fail(problem: string): never {
    this.exceeded ??= problem;
    throw new RuleLimitError(problem);
  }

  /** Charges `units` before the work they stand for runs. */
  charge(units: number): void {
    this.spent += units;
    if (this.spent > this.limits.maxEvaluationCost) {
      this.overBudget = true;
      this.fail(
        `exceeded the evaluation budget of ${this.limits.maxEvaluationCost} cost units for one event`,
      );
    }
  }

  /** Charges a pass over `nodes` nodes. */
  chargeNodes(nodes: number): void {
    this.charge(nodes * NODE_COST);
  }

  chargeIterations(collection: unknown, nodesPerIteration: number): void {
    const items = sizeOf(collection);
    this.iterations += items;
    if (this.iterations > this.limits.maxIterations) {
      this.fail(`exceeded ${this.limits.maxIterations} comprehension iterations`);
    }
    this.chargeNodes(items * nodesPerIteration);
  }

  checkSize(value: unknown): void {
    if (typeof value === 'string') this.checkStringLength(value.length, 'built');
    else if (Array.isArray(value) && value.length > this.limits.maxListItems) {
      this.fail(`built a list of more than ${this.limits.maxListItems} items`);
    }
  }

  checkStringLength(length: number, verb: 'built' | 'would build'): void {
    if (length > this.limits.maxStringLength) {
      this.fail(`${verb} a string longer than ${this.limits.maxStringLength} characters`);
    }
  }

  checkDurationText(text: unknown): void {
    if (typeof text === 'string' && text.length > MAX_DURATION_TEXT) {
      this.fail(`duration() takes a text of at most ${MAX_DURATION_TEXT} characters`);
    }
  }
}

/** Characters of a string, items of a list, entries of a map: what reading the value costs. */
function sizeOf(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (Array.isArray(value) || value instanceof Uint8Array) return value.length;
  if (value instanceof Map || value instanceof Set) return value.size;
  if (value !== null && typeof value === 'object') return Object.keys(value).length;
  return 0;
}

/** What `list.join(separator)` would build, counted before building it. */
function joinedLength(list: unknown, separator: unknown): number {
  if (!Array.isArray(list)) return 0;
  let length = typeof separator === 'string' ? separator.length * Math.max(0, list.length - 1) : 0;
  for (const item of list) length += typeof item === 'string' ? item.length : 0;
  return length;
}

/** The handle of a call evaluates its arguments first and receives them as an array: `[receiver, ...args]`. */
function guardCall(
  node: InspectedNode,
  handle: NonNullable<InspectedNode['handle']>,
  guard: EvaluationGuard,
  patterns: ReadonlyMap<string, RE2JS>,
): NonNullable<InspectedNode['handle']> {
  const [name] = node.args as [string];
  if (name === 'matches' && node.op === 'rcall') {
    const pattern = ((node.args as unknown[])[2] as InspectedNode[])[0]?.args;
    const regex = typeof pattern === 'string' ? patterns.get(pattern) : undefined;
    // The compiler validated every pattern it saw: one missing here means the tree is not the one checked.
    if (regex === undefined) throw new Error('matches() pattern was not compiled with RE2');
    const programSize = regex.programSize();
    return function re2Matches(this: unknown, ...args: unknown[]): unknown {
      const [text] = args[0] as [unknown];
      // Not a string (a dyn receiver): the library reports the missing overload.
      if (typeof text !== 'string') return handle.apply(this, args);
      guard.charge(text.length * programSize);
      return regex.test(text);
    };
  }
  return function guardedCall(this: unknown, ...args: unknown[]): unknown {
    const operands = args[0] as unknown[];
    let units = 0;
    for (const operand of operands) units += sizeOf(operand);
    if (name === 'join') {
      const joined = joinedLength(operands[0], operands[1]);
      guard.charge(units + joined);
      guard.checkStringLength(joined, 'would build');
    } else {
      guard.charge(units);
      if (name === 'duration') guard.checkDurationText(operands[0]);
    }
    const result = handle.apply(this, args);
    if (BUILDERS.has(name)) guard.checkSize(result);
    return result;
  };
}

/**
 * Bounds a type-checked expression: runs `matches()` on RE2 (`patterns`: every pattern the expression
 * uses, compiled), charges every comprehension its items before it loops and every operator and function
 * what it reads before it runs, and checks the size of what `+`, `split` and `join` build. Returns the
 * nodes one evaluation of the expression runs (a comprehension's loop counted once), to charge per run.
 */
export function installGuards(
  root: InspectedNode,
  guard: EvaluationGuard,
  patterns: ReadonlyMap<string, RE2JS>,
): number {
  const nodes = evaluatedNodes(root);
  for (const node of nodes) {
    const handle = node.handle;
    if (typeof handle !== 'function') continue;
    if (node.op === 'comprehension') {
      const step = (node.args as { step: InspectedNode }).step;
      const perIteration = evaluatedNodes(step).length;
      node.handle = function guardedComprehension(this: unknown, ...args: unknown[]): unknown {
        guard.chargeIterations(args[0], perIteration);
        const result = handle.apply(this, args);
        guard.checkSize(result);
        return result;
      };
    } else if (node.op === 'call' || node.op === 'rcall') {
      node.handle = guardCall(node, handle, guard, patterns);
    } else if (SIZED_OPERATORS.has(node.op)) {
      const builds = node.op === '+';
      node.handle = function guardedOperator(this: unknown, ...args: unknown[]): unknown {
        guard.charge(sizeOf(args[0]) + sizeOf(args[1]));
        const result = handle.apply(this, args);
        if (builds) guard.checkSize(result);
        return result;
      };
    }
  }
  return nodes.length;
}
