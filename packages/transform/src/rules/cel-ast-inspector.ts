/*
 * What the compiler needs from the library's syntax tree beyond its public types: sizes, call sites, and
 * the nodes evaluation runs (evaluation-guard.ts hooks their handles to bound evaluation). The internal
 * parts used (`meta.alternate` holding a macro's expansion, `args` of a comprehension, the `handle` a
 * node's type check installs and its arguments) are those of @marcbachmann/cel-js 8;
 * cel-ast-inspector.spec.ts and evaluation-guard.spec.ts fail if an upgrade changes them.
 */

export type NodeHandle = (this: unknown, ...args: unknown[]) => unknown;

/** The parts of a parsed node this module reads (structural: the library does not export its class). */
export interface InspectedNode {
  op: string;
  args: unknown;
  pos: number;
  start: number;
  end: number;
  input: string;
  handle?: NodeHandle;
  readonly meta?: { alternate?: InspectedNode; macro?: Record<string, unknown> };
}

export function isNode(value: unknown): value is InspectedNode {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { op?: unknown }).op === 'string' &&
    typeof (value as { pos?: unknown }).pos === 'number' &&
    'args' in value
  );
}

/** The nodes an expression is written with (macros unexpanded), in source order. */
function writtenChildren(node: InspectedNode): InspectedNode[] {
  const children: InspectedNode[] = [];
  const collect = (value: unknown): void => {
    if (isNode(value)) children.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
  };
  collect(node.args);
  return children;
}

export interface TreeMeasure {
  nodes: number;
  depth: number;
  /** The first node that is deeper than the limit given to `measureTree`, if any. */
  tooDeep?: InspectedNode;
}

export function measureTree(root: InspectedNode, maxDepth: number): TreeMeasure {
  const measure: TreeMeasure = { nodes: 0, depth: 0 };
  const visit = (node: InspectedNode, depth: number): void => {
    measure.nodes++;
    if (depth > measure.depth) measure.depth = depth;
    if (depth > maxDepth && measure.tooDeep === undefined) measure.tooDeep = node;
    for (const child of writtenChildren(node)) visit(child, depth + 1);
  };
  visit(root, 1);
  return measure;
}

/** Every written node, depth first. */
export function writtenNodes(root: InspectedNode): InspectedNode[] {
  const nodes: InspectedNode[] = [];
  const visit = (node: InspectedNode): void => {
    nodes.push(node);
    writtenChildren(node).forEach(visit);
  };
  visit(root);
  return nodes;
}

/** Every node evaluation can run: written nodes and the macros' expansions (comprehensions). */
export function evaluatedNodes(root: InspectedNode): InspectedNode[] {
  const seen = new Set<InspectedNode>();
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (Array.isArray(value)) {
      pending.push(...(value as unknown[]));
      continue;
    }
    if (!isNode(value) || seen.has(value)) continue;
    seen.add(value);
    pending.push(value.args, value.meta?.alternate);
    const args = value.args as Record<string, unknown> | null;
    if (value.op === 'comprehension' && args !== null && typeof args === 'object') {
      pending.push(args['iterable'], args['init'], args['step']);
    }
    const macro = value.meta?.macro;
    if (macro !== undefined) pending.push(macro['args'], macro['val'], macro['exp']);
  }
  return [...seen];
}
