import { RE2JS, RE2JSSyntaxException } from 're2js';

/*
 * CEL specifies RE2 syntax for `matches()`. RE2 (here its pure-JS port) runs in time linear in the text
 * and the pattern, whatever the pattern: no input can make a rule's regular expression backtrack.
 * The price is that constructs which need backtracking (backreferences, lookaround) do not exist; a rule
 * using one is refused when it is saved, with the construct named.
 */

/** A pattern RE2 compiled, or why it refused it (a sentence for the marketer). */
export type Re2PatternResult = { ok: true; regex: RE2JS } | { ok: false; problem: string };

const UNSUPPORTED_SUFFIX =
  'matches() uses RE2 syntax, which has no backtracking so that it runs in linear time';

/** The construct RE2 refused, named the way regex references name it. */
function unsupportedConstruct(description: string, fragment: string): string | undefined {
  if (description === 'invalid escape sequence' && /^\\(?:[1-9]|[kg])/.test(fragment)) {
    const shown = /^\\[kg]$/.test(fragment) ? `${fragment}<…>` : fragment;
    return `backreferences (${shown}) are not supported`;
  }
  if (description === 'invalid or unsupported Perl syntax') {
    if (fragment === '(?=' || fragment === '(?!') return `lookahead (${fragment}…) is not supported`;
    if (fragment === '(?P') return 'named backreferences ((?P=name)) are not supported';
    if (fragment === '(?>') return 'atomic groups ((?>…)) are not supported';
  }
  if (description === 'invalid named capture' && /^\(\?<[=!]/.test(fragment)) {
    return `lookbehind (${fragment.slice(0, 4)}…) is not supported`;
  }
  if (description === 'invalid nested repetition operator' && /^[*+?}][+]$/.test(fragment)) {
    return `possessive quantifiers (${fragment}) are not supported`;
  }
  return undefined;
}

export function compileRe2Pattern(pattern: string): Re2PatternResult {
  try {
    return { ok: true, regex: RE2JS.compile(pattern) };
  } catch (error) {
    if (!(error instanceof RE2JSSyntaxException)) throw error;
    const fragment = error.input ?? '';
    const construct = unsupportedConstruct(error.error, fragment);
    if (construct !== undefined) return { ok: false, problem: `${construct}: ${UNSUPPORTED_SUFFIX}` };
    const at = fragment === '' ? '' : `: \`${fragment}\``;
    return { ok: false, problem: `invalid RE2 regular expression: ${error.error}${at}` };
  }
}
