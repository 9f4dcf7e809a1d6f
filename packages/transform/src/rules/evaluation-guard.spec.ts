import type { RE2JS } from 're2js';
import type { InspectedNode } from './cel-ast-inspector';
import { cel } from './cel-environment';
import { EvaluationGuard, installGuards } from './evaluation-guard';
import { compileRe2Pattern } from './re2-pattern';
import { DEFAULT_RULE_LIMITS, type RuleLimits } from './rule-limits';

// These tests pin the library internals the guard hooks (@marcbachmann/cel-js 8): the handles of calls,
// operators and comprehensions, and the arguments they receive.
const environment = new cel.Environment({ unlistedVariablesAreDyn: true });

function guarded(
  expression: string,
  limits: Partial<RuleLimits> = {},
): { guard: EvaluationGuard; nodes: number; run: (context?: object) => unknown } {
  const parsed = environment.parse(expression);
  expect(parsed.check().valid).toBe(true);
  const guard = new EvaluationGuard({ ...DEFAULT_RULE_LIMITS, ...limits });
  const patterns = new Map<string, RE2JS>();
  for (const pattern of expression.matchAll(/matches\("((?:[^"\\]|\\.)*)"\)/g)) {
    const source = JSON.parse(`"${pattern[1]}"`) as string;
    const compiled = compileRe2Pattern(source);
    if (compiled.ok) patterns.set(source, compiled.regex);
  }
  const nodes = installGuards(parsed.ast as unknown as InspectedNode, guard, patterns);
  return {
    guard,
    nodes,
    run: (context = {}) => {
      guard.startInput();
      guard.startExpression();
      guard.chargeNodes(nodes);
      return parsed(context);
    },
  };
}

describe('EvaluationGuard and installGuards', () => {
  it('runs matches() on RE2, for a string and a dyn receiver (RE2 syntax: \\z, inline flags)', () => {
    // JavaScript's RegExp reads `\z` as `z` and refuses `(?i)`: these results come from RE2.
    expect(guarded('"abc".matches("c\\\\z")').run()).toBe(true);
    expect(guarded('s.matches("(?i)^ABC$")').run({ s: 'abc' })).toBe(true);
    expect(guarded('s.matches("(?i)^ABC$")').run({ s: 'abd' })).toBe(false);
    expect(() => guarded('s.matches("a")').run({ s: 1n })).toThrow(
      "found no matching overload for 'int.matches(string)'",
    );
  });

  it('refuses to install a matches() whose pattern was not compiled', () => {
    const parsed = environment.parse('"a".matches("a")');
    parsed.check();
    const guard = new EvaluationGuard(DEFAULT_RULE_LIMITS);
    expect(() => installGuards(parsed.ast as unknown as InspectedNode, guard, new Map())).toThrow(
      'matches() pattern was not compiled with RE2',
    );
  });

  it('counts the nodes of one evaluation and bounds comprehension iterations', () => {
    expect(guarded('[1, 2].map(x, x + 1).size() > 1').nodes).toBe(14);
    const loops = guarded('[1, 2, 3].map(x, [1, 2].map(y, y)).size()', { maxIterations: 6 });
    expect(() => loops.run()).toThrow('exceeded 6 comprehension iterations');
    expect(loops.guard.exceeded).toBe('exceeded 6 comprehension iterations');
    expect(loops.guard.overBudget).toBe(false);
  });

  it('charges what operators and functions read, and stops at the budget', () => {
    const text = 'x'.repeat(10_000);
    const limits = { maxEvaluationCost: 50_000, maxStringLength: 100_000 };
    expect(guarded('s.contains("y") || s.size() == 0', limits).run({ s: text })).toBe(false);
    const twice = guarded('s.contains("y") || s.endsWith("y") || s + s == s', limits);
    expect(() => twice.run({ s: text })).toThrow(
      'exceeded the evaluation budget of 50000 cost units for one event',
    );
    expect(twice.guard.overBudget).toBe(true);
    // matches() costs the text's length times the pattern's program size, charged before it runs.
    const regex = guarded('s.matches("[a-z]{100}y")', limits);
    expect(() => regex.run({ s: text })).toThrow('exceeded the evaluation budget');
    expect(guarded('s.matches("y")', limits).run({ s: text })).toBe(false);
  });

  it('bounds what split and join build, and refuses long duration() texts before parsing them', () => {
    const limits = { maxListItems: 100, maxStringLength: 1_000 };
    expect(() => guarded('s.split("").size()', limits).run({ s: 'a'.repeat(101) })).toThrow(
      'built a list of more than 100 items',
    );
    expect(() => guarded('l.join("-")', limits).run({ l: Array(100).fill('a'.repeat(10)) })).toThrow(
      'would build a string longer than 1000 characters',
    );
    expect(guarded('l.join("-").size()', limits).run({ l: Array(10).fill('ab') })).toBe(29n);
    // The library's duration() parser backtracks cubically: 2,000 digits took seconds.
    expect(() => guarded('duration(s)').run({ s: '1'.repeat(2_000) })).toThrow(
      'duration() takes a text of at most 64 characters',
    );
    expect(guarded('duration(s) > duration("1m")').run({ s: '2h45m' })).toBe(true);
  });
});
