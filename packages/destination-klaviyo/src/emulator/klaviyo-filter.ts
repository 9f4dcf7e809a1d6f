/*
 * The subset of Klaviyo's `filter` query language that GET /api/profiles supports for identity look-ups:
 *   equals(field,'v')   any(field,['a','b'])   greater-than(created|updated, 2026-01-01T00:00:00Z)   less-than(…)
 * combined with and(…, …) or with top-level commas. Anything else is a malformed filter (400, parameter `filter`).
 */

export type ProfileCondition =
  | { op: 'equals'; field: IdentityField; value: string }
  | { op: 'any'; field: IdentityField; values: string[] }
  | { op: 'greater-than' | 'less-than'; field: 'created' | 'updated'; at: number };

export type IdentityField = 'id' | 'email' | 'phone_number' | 'external_id';

const IDENTITY_FIELDS: readonly string[] = ['id', 'email', 'phone_number', 'external_id'];
const TIME_FIELDS: readonly string[] = ['created', 'updated'];

export class FilterError extends Error {}

type Token =
  | { kind: 'punct'; value: '(' | ')' | ',' | '[' | ']' }
  | { kind: 'string'; value: string }
  | { kind: 'bare'; value: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text.charAt(i);
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '(' || ch === ')' || ch === ',' || ch === '[' || ch === ']') {
      tokens.push({ kind: 'punct', value: ch });
      i++;
    } else if (ch === "'" || ch === '"') {
      let value = '';
      i++;
      while (i < text.length && text.charAt(i) !== ch) {
        // A backslash escapes the next character (a quote inside the value).
        if (text.charAt(i) === '\\' && i + 1 < text.length) i++;
        value += text.charAt(i);
        i++;
      }
      if (i >= text.length) throw new FilterError('unterminated string');
      tokens.push({ kind: 'string', value });
      i++;
    } else {
      let value = '';
      while (i < text.length && !/[\s(),[\]'"]/.test(text.charAt(i))) value += text.charAt(i++);
      tokens.push({ kind: 'bare', value });
    }
  }
  return tokens;
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  parseAll(): ProfileCondition[] {
    const conditions = this.parseList();
    if (this.pos !== this.tokens.length) throw new FilterError('unexpected text after the filter');
    return conditions;
  }

  private parseList(): ProfileCondition[] {
    const conditions = this.parseCall();
    while (this.peekPunct(',')) {
      this.pos++;
      conditions.push(...this.parseCall());
    }
    return conditions;
  }

  private parseCall(): ProfileCondition[] {
    const name = this.next();
    if (name?.kind !== 'bare') throw new FilterError('expected an operator');
    this.expect('(');
    if (name.value === 'and') {
      const inner = this.parseList();
      this.expect(')');
      return inner;
    }
    const field = this.next();
    if (field?.kind !== 'bare') throw new FilterError(`expected a field name in ${name.value}()`);
    this.expect(',');
    const condition = this.condition(name.value, field.value);
    this.expect(')');
    return [condition];
  }

  private condition(op: string, field: string): ProfileCondition {
    if (op === 'equals' || op === 'any') {
      if (!IDENTITY_FIELDS.includes(field)) throw new FilterError(`'${op}' is not allowed on '${field}'`);
      const identity = field as IdentityField;
      if (op === 'equals') return { op, field: identity, value: this.stringValue() };
      this.expect('[');
      const values = [this.stringValue()];
      while (this.peekPunct(',')) {
        this.pos++;
        values.push(this.stringValue());
      }
      this.expect(']');
      return { op, field: identity, values };
    }
    if (op === 'greater-than' || op === 'less-than') {
      if (!TIME_FIELDS.includes(field)) throw new FilterError(`'${op}' is not allowed on '${field}'`);
      const token = this.next();
      if (token?.kind !== 'bare' && token?.kind !== 'string') throw new FilterError('expected a datetime');
      const at = Date.parse(token.value);
      if (!/^\d{4}-\d{2}-\d{2}/.test(token.value) || Number.isNaN(at)) {
        throw new FilterError(`'${token.value}' is not a valid datetime`);
      }
      return { op, field: field as 'created' | 'updated', at };
    }
    throw new FilterError(`unknown operator '${op}'`);
  }

  private stringValue(): string {
    const token = this.next();
    if (token?.kind !== 'string') throw new FilterError('expected a quoted string');
    return token.value;
  }

  private next(): Token | undefined {
    return this.tokens[this.pos++];
  }

  private peekPunct(value: string): boolean {
    const token = this.tokens[this.pos];
    return token?.kind === 'punct' && token.value === value;
  }

  private expect(value: string): void {
    if (!this.peekPunct(value)) throw new FilterError(`expected '${value}'`);
    this.pos++;
  }
}

/** Parses a profiles filter into a conjunction of conditions; throws FilterError when malformed. */
export function parseProfileFilter(text: string): ProfileCondition[] {
  if (text.trim() === '') throw new FilterError('the filter is empty');
  return new Parser(tokenize(text)).parseAll();
}

/** What a condition needs from a profile. */
export interface FilterableProfile {
  id: string;
  email: string | null;
  phone_number: string | null;
  external_id: string | null;
  created: string;
  updated: string;
}

function fieldValue(profile: FilterableProfile, field: IdentityField): string | null {
  return profile[field];
}

function same(field: IdentityField, stored: string | null, wanted: string): boolean {
  if (stored === null) return false;
  // Klaviyo keeps emails lower-cased, so an email look-up is case-insensitive.
  return field === 'email' ? stored === wanted.toLowerCase() : stored === wanted;
}

export function matchesAll(profile: FilterableProfile, conditions: readonly ProfileCondition[]): boolean {
  return conditions.every((condition) => {
    switch (condition.op) {
      case 'equals':
        return same(condition.field, fieldValue(profile, condition.field), condition.value);
      case 'any':
        return condition.values.some((value) =>
          same(condition.field, fieldValue(profile, condition.field), value),
        );
      case 'greater-than':
        return Date.parse(profile[condition.field]) > condition.at;
      case 'less-than':
        return Date.parse(profile[condition.field]) < condition.at;
    }
  });
}
