import { compileRules, type CompiledRules, RuleSetError, type TransformRules } from '@tessera/transform';
import { ControlPlaneError, type InputIssue } from './control-plane-error';

/** `mappings.first_name` → `/mappings/first_name`, `segments[0].when` → `/segments/0/when`. */
export function rulePathToPointer(path: string): string {
  const segments: string[] = [];
  for (const part of path.split('.')) {
    const match = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (match === null) {
      segments.push(part);
      continue;
    }
    if (match[1] !== undefined && match[1] !== '') segments.push(match[1]);
    for (const index of (match[2] ?? '').matchAll(/\[(\d+)\]/g)) segments.push(index[1] ?? '');
  }
  return '/' + segments.map((segment) => segment.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

/** A rule set's problems as input issues: a JSON Pointer into the rules, the expression, the positioned message. */
export function ruleIssues(error: RuleSetError): InputIssue[] {
  return error.errors.map((problem) => ({
    path: rulePathToPointer(problem.path),
    expression: problem.expression,
    message: problem.line > 0 ? `${problem.line}:${problem.column}: ${problem.message}` : problem.message,
  }));
}

/** Compiles a rule set, or throws the control plane's `invalid_rules` with every problem. */
export function compileOrRefuse(rules: unknown): CompiledRules {
  if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) {
    throw new ControlPlaneError(
      'invalid',
      'rules must be an object {"conditions": […], "mappings": {…}, "segments": […]}',
      [{ path: '/rules', message: 'must be an object' }],
    );
  }
  try {
    return compileRules(rules as TransformRules);
  } catch (error) {
    if (error instanceof RuleSetError) {
      const issues = ruleIssues(error);
      throw new ControlPlaneError(
        'invalid_rules',
        `the rules do not compile: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`,
        issues,
      );
    }
    throw error;
  }
}
