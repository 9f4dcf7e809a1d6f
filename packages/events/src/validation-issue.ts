import type { ErrorObject } from 'ajv';

/** One reason an event was rejected: a JSON Pointer into the event and a sentence for a person. */
export interface ValidationIssue {
  path: string;
  message: string;
}

const IDENTIFIERS = 'customer_id, email, phone, member_id (with brand), loyalty_card or anonymous_id';

const IDENTIFIER_FIELDS = new Set([
  'customer_id',
  'email',
  'phone',
  'member_id',
  'loyalty_card',
  'anonymous_id',
]);

/** The catalog's "at least one identifier" rule: an anyOf whose branches each require one identifier. */
function isIdentifierRequirement(schema: unknown): boolean {
  return (
    Array.isArray(schema) &&
    schema.every(
      (branch: { required?: string[] }) =>
        branch.required?.length === 1 && IDENTIFIER_FIELDS.has(branch.required[0]),
    )
  );
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function describe(error: ErrorObject, prefix: string): ValidationIssue {
  const path = prefix + error.instancePath;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path: `${path}/${escapePointer(String(params.missingProperty))}`, message: 'is required' };
    case 'dependentRequired':
      return {
        path: `${path}/${escapePointer(String(params.missingProperty))}`,
        message: `is required with ${String(params.property)}`,
      };
    case 'unevaluatedProperties':
    case 'additionalProperties': {
      const name = String(params.unevaluatedProperty ?? params.additionalProperty);
      return { path: `${path}/${escapePointer(name)}`, message: 'is not a known field' };
    }
    case 'propertyNames':
      return {
        path: `${path}/${escapePointer(String(params.propertyName))}`,
        message: 'is not an allowed name here',
      };
    case 'anyOf':
      if (isIdentifierRequirement(error.schema)) {
        return { path, message: `must carry at least one identifier: ${IDENTIFIERS}` };
      }
      return { path, message: 'does not match any allowed shape' };
    case 'enum':
      return { path, message: `must be one of: ${(params.allowedValues as unknown[]).join(', ')}` };
    case 'const':
      return { path, message: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'format':
      return { path, message: `must be a valid ${String(params.format)}` };
    default:
      return { path, message: error.message ?? 'is invalid' };
  }
}

/**
 * Turns ajv's errors into issues a user can act on: an `anyOf` reports once (not once per branch),
 * and `if/then` reports only what `then` required.
 */
export function toValidationIssues(errors: ErrorObject[], prefix: string): ValidationIssue[] {
  const anyOfPaths = errors
    .filter((error) => error.keyword === 'anyOf')
    .map((error) => `${error.schemaPath}/`);
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    // `if` only says "then failed"; a propertyNames failure is reported once, by the propertyNames error.
    if (error.keyword === 'if' || error.propertyName !== undefined) continue;
    if (anyOfPaths.some((anyOfPath) => error.schemaPath.startsWith(anyOfPath))) continue;
    const issue = describe(error, prefix);
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return issues;
}
