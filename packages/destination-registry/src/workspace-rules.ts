import { ConfigurationError } from '@tessera/runtime';
import { compileRules, type CompiledRules, RuleSetError, type TransformRules } from '@tessera/transform';

/**
 * Compiles every workspace destination's `mappings` (its rule set: conditions, mappings, segment rules), by
 * destination id. A rule that does not compile stops start-up naming the workspace file, the destination,
 * and each expression with its position.
 */
export function compileWorkspaceRules(
  destinations: readonly Record<string, unknown>[],
): Map<string, CompiledRules> {
  const compiled = new Map<string, CompiledRules>();
  destinations.forEach((destination, index) => {
    const id = typeof destination['id'] === 'string' ? destination['id'] : `destinations[${index}]`;
    const rules = destination['mappings'];
    if (rules === undefined) return;
    if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) {
      throw new ConfigurationError(
        'TESSERA_WORKSPACE_FILE',
        `Destination "${id}": mappings must be an object {"conditions": […], "mappings": {…}, "segments": […]}`,
      );
    }
    try {
      compiled.set(id, compileRules(rules as TransformRules));
    } catch (error) {
      if (error instanceof RuleSetError) {
        const problems = error.errors.map((problem) => problem.toString()).join('; ');
        throw new ConfigurationError(
          'TESSERA_WORKSPACE_FILE',
          `Destination "${id}": invalid mappings: ${problems}`,
        );
      }
      throw error;
    }
  });
  return compiled;
}
