import type { KlaviyoProfileAttributes } from './profile-attributes';

/** A field of a profile Klaviyo refused, and why. */
export interface RefusedField {
  /** Where it sits in the profile's attributes (`['phone_number']`, `['location', 'zip']`). */
  path: string[];
  /** Klaviyo's explanation (the error's detail). */
  reason: string;
}

/** What an ok result reports of the fields left out. */
export interface OmittedField {
  field: string;
  reason: string;
}

/**
 * The identifiers a profile is keyed by: Klaviyo refusing one of them refuses the profile (a profile without
 * the member's email or customer id is not the member's profile), so they are never left out.
 */
const KEY_FIELDS = new Set(['email', 'external_id']);

/** At most this many fields are left out of one profile before it is given up as rejected. */
export const MAX_OMITTED_FIELDS = 3;

function unescapePointerSegment(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * The attribute a JSON pointer names below a profile resource at `resource` (`/data` for profile-import,
 * `/data/attributes/profiles/data/3` in a bulk job), when it is one that can be left out and the profile has it.
 */
export function refusedField(
  pointer: string | null | undefined,
  resource: string,
  attributes: KlaviyoProfileAttributes,
  reason: string,
): RefusedField | undefined {
  const prefix = `${resource}/attributes/`;
  if (typeof pointer !== 'string' || !pointer.startsWith(prefix)) return undefined;
  const path = pointer.slice(prefix.length).split('/').map(unescapePointerSegment);
  const [top] = path;
  if (top === undefined || top === '' || KEY_FIELDS.has(top)) return undefined;
  let value: unknown = attributes;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null || !(segment in value)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return { path, reason };
}

/** A copy of `attributes` without the field at `path` (an object left empty by it goes too). */
export function withoutField(
  attributes: KlaviyoProfileAttributes,
  path: readonly string[],
): KlaviyoProfileAttributes {
  const copy = structuredClone(attributes) as unknown as Record<string, unknown>;
  const parents: Array<[Record<string, unknown>, string]> = [];
  let node: Record<string, unknown> = copy;
  path.forEach((segment, index) => {
    if (index === path.length - 1) {
      delete node[segment];
      return;
    }
    parents.push([node, segment]);
    node = node[segment] as Record<string, unknown>;
  });
  for (const [parent, key] of parents.reverse()) {
    const child = parent[key];
    if (typeof child === 'object' && child !== null && Object.keys(child).length === 0) delete parent[key];
  }
  return copy as unknown as KlaviyoProfileAttributes;
}

/** The field's name in an ok result: its path, dotted (`phone_number`, `location.zip`). */
export function omitted(field: RefusedField): OmittedField {
  return { field: field.path.join('.'), reason: field.reason };
}
