import { celEnvironment } from './cel-environment';
import {
  EvaluationGuard,
  hasNestedQuantifier,
  installGuards,
  measureTree,
  type InspectedNode,
} from './cel-ast-inspector';

// These tests pin the library internals the inspector relies on (@marcbachmann/cel-js 8).
function checkedRoot(expression: string): { root: InspectedNode; run: (context: object) => unknown } {
  const parsed = celEnvironment().parse(expression);
  expect(parsed.check().valid).toBe(true);
  return { root: parsed.ast as unknown as InspectedNode, run: (context) => parsed(context) };
}

describe('cel-ast-inspector', () => {
  it('measures the tree as written', () => {
    const { root } = checkedRoot('[1, 2].map(x, x + 1).size() > 1');
    expect(measureTree(root, 32)).toEqual({ nodes: 11, depth: 5 });
    expect(measureTree(root, 3).tooDeep?.op).toBe('list');
  });

  it('guards the comprehensions of macro expansions and every +', () => {
    const guard = new EvaluationGuard(6, 3, 5);
    const { root, run } = checkedRoot(
      '[1, 2].map(x, [1, 2].map(y, x + y)).size() == 2 && "ab" + "c" == "abc"',
    );
    expect(installGuards(root, guard)).toBe(4);
    guard.reset();
    expect(run({})).toBe(true);
    const loops = checkedRoot('[1, 2, 3].map(x, [1, 2].map(y, y)).size()');
    installGuards(loops.root, guard);
    guard.reset();
    expect(() => loops.run({})).toThrow('exceeded 6 comprehension iterations');
    expect(guard.exceeded).toBe('exceeded 6 comprehension iterations');
  });

  it('flags regular expressions with nested quantifiers', () => {
    expect(['(a+)+', '(a|aa)*', '(\\d*x){2,}', '^(.*a){3,}$'].map(hasNestedQuantifier)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['^[a-z]+$', '(ab)+', 'a{2,3}', '\\(a+\\)+'].map(hasNestedQuantifier)).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });
});
