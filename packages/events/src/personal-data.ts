/**
 * Personal data in the catalog: schemas mark the fields that hold it with `x-pii: <kind>`, and whoever must
 * not see it (a console role without `pii.read`) gets every marked value replaced by a placeholder of the
 * same shape, so that rules still evaluate and ESP requests still validate while no piece of the real value
 * remains.
 */
export const PERSONAL_DATA_KINDS = ['email', 'phone', 'name', 'address', 'date', 'ip', 'text'] as const;
export type PersonalDataKind = (typeof PERSONAL_DATA_KINDS)[number];

/** A field that holds personal data: a JSON Pointer into the CatalogEvent, `*` standing for any key or index. */
export interface PersonalDataField {
  pointer: string;
  kind: PersonalDataKind;
}

/** The placeholder for one string of personal data. */
export type PersonalDataMask = (kind: PersonalDataKind, value: string) => string;

/**
 * The placeholders, one shape per kind: an email stays a deliverable-looking address (RFC 2606's example.net:
 * strict ESPs refuse `.invalid`), a phone an E.164 number libphonenumber accepts (NANP 555-01XX is set aside
 * for fiction), a date a date.
 */
export const PERSONAL_DATA_PLACEHOLDERS = {
  emailDomain: 'example.net',
  phone: '+12025550100',
  date: '1900-01-01',
  // RFC 5737 TEST-NET-1.
  ip: '192.0.2.1',
  text: '•••',
} as const;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The email and phone placeholders, as they appear inside a longer text. */
const PLACEHOLDER_SOURCE =
  `masked-[0-9a-f]{8}@${escapeRegExp(PERSONAL_DATA_PLACEHOLDERS.emailDomain)}(?![\\w.-])` +
  `|${escapeRegExp(PERSONAL_DATA_PLACEHOLDERS.phone)}(?!\\d)`;

/**
 * The standard placeholders. `digest` must be keyed (a blind index): an email's placeholder is
 * `masked-<8 hex of digest>@example.net`, the same for the same address, so that a preview still shows two
 * events naming one person, yet nobody without the key can test a guess against it.
 */
export function placeholderMask(digest: (kind: PersonalDataKind, value: string) => string): PersonalDataMask {
  return (kind, value) => {
    switch (kind) {
      case 'email':
        return `masked-${digest(kind, value).slice(0, 8)}@${PERSONAL_DATA_PLACEHOLDERS.emailDomain}`;
      case 'phone':
        return PERSONAL_DATA_PLACEHOLDERS.phone;
      case 'date':
        return PERSONAL_DATA_PLACEHOLDERS.date;
      case 'ip':
        return PERSONAL_DATA_PLACEHOLDERS.ip;
      default:
        return PERSONAL_DATA_PLACEHOLDERS.text;
    }
  };
}

/** Whether a string is one of the standard email or phone placeholders. */
export function isPersonalDataPlaceholder(value: string): boolean {
  return new RegExp(`^(?:${PLACEHOLDER_SOURCE})$`).test(value);
}

/**
 * A text cut around the email and phone placeholders in it, so that a filter for contact points can pass over
 * them: `{ placeholder: true }` pieces are placeholders, the others the text between.
 */
export function splitAroundPlaceholders(text: string): { text: string; placeholder: boolean }[] {
  const pieces: { text: string; placeholder: boolean }[] = [];
  let at = 0;
  for (const match of text.matchAll(new RegExp(PLACEHOLDER_SOURCE, 'g'))) {
    if (match.index > at) pieces.push({ text: text.slice(at, match.index), placeholder: false });
    pieces.push({ text: match[0], placeholder: true });
    at = match.index + match[0].length;
  }
  if (at < text.length || pieces.length === 0) pieces.push({ text: text.slice(at), placeholder: false });
  return pieces;
}

/**
 * One value of a kind, masked: a string (or number, boolean) becomes its placeholder, an array or object has
 * every leaf masked — but a postal address keeps its `country`, which names nobody and which rules branch on.
 */
export function maskPersonalValue(kind: PersonalDataKind, value: unknown, mask: PersonalDataMask): unknown {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map((item) => maskPersonalValue(kind, item, mask));
  if (typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        kind === 'address' && key === 'country' ? item : maskPersonalValue(kind, item, mask),
      ]),
    );
  }
  return mask(kind, String(value));
}

/** Replaces, in place, every value under the fields' pointers (a missing field is left missing). */
export function maskFields(
  target: Record<string, unknown>,
  fields: readonly PersonalDataField[],
  mask: PersonalDataMask,
): void {
  for (const field of fields) {
    replaceAt(target, pointerPath(field.pointer), (value) => maskPersonalValue(field.kind, value, mask));
  }
}

/**
 * Trims, in place, the strings under the email and phone fields' pointers: contact points are compared trimmed
 * (docs/identity.md), so padding a sender adds is removed before the value is checked, not held against it.
 */
export function trimContactPoints(
  target: Record<string, unknown>,
  fields: readonly PersonalDataField[],
): void {
  for (const field of fields) {
    if (field.kind !== 'email' && field.kind !== 'phone') continue;
    replaceAt(target, pointerPath(field.pointer), (value) =>
      typeof value === 'string' ? value.trim() : value,
    );
  }
}

const pointerPath = (pointer: string) => pointer.split('/').slice(1).map(unescapePointer);

function replaceAt(node: unknown, path: string[], replace: (value: unknown) => unknown): void {
  if (node === null || typeof node !== 'object') return;
  const [segment, ...rest] = path as [string, ...string[]];
  const container = node as Record<string, unknown>;
  const keys = segment === '*' ? Object.keys(container) : Object.hasOwn(container, segment) ? [segment] : [];
  for (const key of keys) {
    if (rest.length === 0) container[key] = replace(container[key]);
    else replaceAt(container[key], rest, replace);
  }
}

type SchemaNode = Record<string, unknown>;

/** Subschemas whose marks apply to the same instance (any branch that marks a field marks it). */
const IN_PLACE = ['allOf', 'anyOf', 'oneOf'] as const;
const CONDITIONAL = ['if', 'then', 'else'] as const;

/**
 * The fields a schema marks `x-pii`, as pointers under `prefix`: follows `$ref` (across the catalog's
 * documents, by `$id`), `allOf`/`anyOf`/`oneOf`, `if`/`then`/`else`, `properties`, and `items`,
 * `additionalProperties` and `patternProperties` (as `*`). A marked object is masked whole.
 */
export function markedFields(
  schema: SchemaNode,
  documents: ReadonlyMap<string, SchemaNode>,
  prefix = '',
): PersonalDataField[] {
  const found = new Map<string, PersonalDataKind>();
  const visit = (node: unknown, document: SchemaNode, pointer: string, depth: number): void => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
    // The catalog's schemas are not recursive; the bound only stops a future cycle from hanging start-up.
    if (depth > 32) throw new Error(`schema nesting too deep at ${pointer || '/'}`);
    const schemaNode = node as SchemaNode;
    const mark = schemaNode['x-pii'];
    if (mark !== undefined) {
      if (!(PERSONAL_DATA_KINDS as readonly unknown[]).includes(mark)) {
        throw new Error(
          `x-pii "${String(mark)}" at ${pointer || '/'}: use one of ${PERSONAL_DATA_KINDS.join(', ')}`,
        );
      }
      found.set(pointer, mark as PersonalDataKind);
      return;
    }
    if (typeof schemaNode.$ref === 'string') {
      const target = resolveRef(schemaNode.$ref, document, documents);
      visit(target.node, target.document, pointer, depth + 1);
    }
    for (const keyword of [...IN_PLACE, ...CONDITIONAL]) {
      const sub = schemaNode[keyword];
      if (Array.isArray(sub)) for (const branch of sub) visit(branch, document, pointer, depth + 1);
      else visit(sub, document, pointer, depth + 1);
    }
    const properties = schemaNode.properties as Record<string, unknown> | undefined;
    for (const [name, sub] of Object.entries(properties ?? {})) {
      visit(sub, document, `${pointer}/${escapePointer(name)}`, depth + 1);
    }
    for (const sub of Object.values((schemaNode.patternProperties as Record<string, unknown>) ?? {})) {
      visit(sub, document, `${pointer}/*`, depth + 1);
    }
    visit(schemaNode.additionalProperties, document, `${pointer}/*`, depth + 1);
    visit(schemaNode.items, document, `${pointer}/*`, depth + 1);
  };
  visit(schema, schema, prefix, 0);
  return [...found].map(([pointer, kind]) => ({ pointer, kind }));
}

function resolveRef(
  ref: string,
  document: SchemaNode,
  documents: ReadonlyMap<string, SchemaNode>,
): { node: unknown; document: SchemaNode } {
  const [base, fragment = ''] = ref.split('#') as [string, string?];
  const target = base === '' ? document : documents.get(base);
  if (target === undefined) throw new Error(`unresolvable $ref ${ref}`);
  let node: unknown = target;
  for (const segment of fragment.split('/').slice(1).map(unescapePointer)) {
    node = (node as Record<string, unknown> | undefined)?.[segment];
  }
  if (node === undefined) throw new Error(`unresolvable $ref ${ref}`);
  return { node, document: target };
}

const escapePointer = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');
const unescapePointer = (segment: string) => segment.replace(/~1/g, '/').replace(/~0/g, '~');
