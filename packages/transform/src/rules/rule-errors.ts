/**
 * A problem of one rule found when the rule set is compiled (saved).
 *
 * `message` is the problem alone (e.g. `unknown field 'profile.loyalty_teir'`); `toString()` and
 * `RuleSetError.message` prefix it with the path and the 1-based position: `mappings.tier (1:9): …`.
 * Problems of the rule set's shape (e.g. too many mappings) have no position: `line` and `column` are 0.
 */
export class RuleError extends Error {
  /** Where the rule is in the rule set: `conditions[1]`, `mappings.vip_since`, `segments[0].when`, … */
  readonly path: string;
  readonly expression: string;
  /** 1-based; 0 when the problem has no position in an expression. */
  readonly line: number;
  /** 1-based; 0 when the problem has no position in an expression. */
  readonly column: number;

  constructor(init: { path: string; expression: string; line: number; column: number; message: string }) {
    super(init.message);
    this.name = 'RuleError';
    this.path = init.path;
    this.expression = init.expression;
    this.line = init.line;
    this.column = init.column;
  }

  /** `path (line:column)`, or `path` alone when there is no position. */
  get location(): string {
    return this.line > 0 ? `${this.path} (${this.line}:${this.column})` : this.path;
  }

  override toString(): string {
    return `${this.location}: ${this.message}`;
  }
}

/** Every problem of a rule set, thrown by `compileRules`. */
export class RuleSetError extends Error {
  readonly errors: RuleError[];

  constructor(errors: RuleError[]) {
    const count = errors.length === 1 ? '1 problem' : `${errors.length} problems`;
    super(
      `Invalid transform rules (${count}):\n${errors.map((error) => `  ${error.toString()}`).join('\n')}`,
    );
    this.name = 'RuleSetError';
    this.errors = errors;
  }
}

/** A run-time limit of the rules was reached while evaluating one input (reported with `limit_exceeded`). */
export class RuleLimitError extends RangeError {
  override readonly name = 'RuleLimitError';
}

/**
 * One expression that failed while evaluating one input (e.g. a key missing from `event.data`). Plain data,
 * so that the pipeline can store it with the dead-lettered event.
 */
export interface RuleEvaluationError {
  /**
   * `limit_exceeded`: the expression reached a run-time limit (iterations, sizes, the event's evaluation
   * budget); `evaluation_error`: anything else (a missing key, a type mismatch, an invalid input). Either
   * way the event's evaluation fails for good: evaluating it again gives the same result.
   */
  code: 'evaluation_error' | 'limit_exceeded';
  /** The rule's path, as in `RuleError`; `now` when the input's evaluation time is not a timestamp. */
  path: string;
  expression: string;
  message: string;
  /** 1-based position of the failing part of the expression; 0 when unknown. */
  line: number;
  column: number;
}

/** 1-based line and column of a 0-based offset in `text`. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.max(0, Math.min(offset, text.length));
  for (let index = 0; index < end; index++) {
    if (text.charCodeAt(index) === 10) {
      line++;
      lineStart = index + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}
