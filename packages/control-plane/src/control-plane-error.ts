/** One problem with what a client sent, at a JSON Pointer into it. */
export interface InputIssue {
  path: string;
  message: string;
  /** The expression a rule problem is about. */
  expression?: string;
}

/**
 * What the control plane refuses, by kind: the kind alone decides the HTTP status (`not_found` 404,
 * `conflict` 409, `invalid` 400, `invalid_rules` 422). Nothing was written when one is thrown.
 */
export class ControlPlaneError extends Error {
  constructor(
    readonly kind: 'not_found' | 'conflict' | 'invalid' | 'invalid_rules',
    message: string,
    readonly issues: readonly InputIssue[] = [],
  ) {
    super(message);
    this.name = 'ControlPlaneError';
  }
}

export const notFound = (what: string, id: string) =>
  new ControlPlaneError('not_found', `unknown ${what} "${id}"`);
