import { celEnvironment } from './cel-environment';
import { evaluatedNodes, measureTree, type InspectedNode } from './cel-ast-inspector';

// These tests pin the library internals the inspector relies on (@marcbachmann/cel-js 8).
function checkedRoot(expression: string): { root: InspectedNode } {
  const parsed = celEnvironment().parse(expression);
  expect(parsed.check().valid).toBe(true);
  return { root: parsed.ast as unknown as InspectedNode };
}

describe('cel-ast-inspector', () => {
  it('measures the tree as written', () => {
    const { root } = checkedRoot('[1, 2].map(x, x + 1).size() > 1');
    expect(measureTree(root, 32)).toEqual({ nodes: 11, depth: 5 });
    expect(measureTree(root, 3).tooDeep?.op).toBe('list');
  });

  it('finds the nodes evaluation runs, macro expansions included', () => {
    const { root } = checkedRoot('[1, 2].exists(x, x > 1)');
    const ops = evaluatedNodes(root).map((node) => node.op);
    expect(ops).toContain('comprehension');
    expect(ops.filter((op) => op === '>')).toHaveLength(1);
  });
});
