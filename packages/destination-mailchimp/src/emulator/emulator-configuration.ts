import { isRecord } from './problem-responses';

/*
 * What the emulator's Mailchimp account holds: its audiences and each audience's merge fields. Like a real
 * account, the emulator knows no audience until it is configured (`configure`, or the sandbox's
 * PUT /sandbox/mailchimp/_sandbox/config): a request for an audience it does not have is answered 404, and a
 * merge tag the audience does not define is refused. An audience may start with static segments (tags).
 */

/** Mailchimp's merge field types (https://mailchimp.com/developer/marketing/docs/merge-fields/). */
export const MERGE_FIELD_TYPES = [
  'text',
  'number',
  'address',
  'phone',
  'date',
  'url',
  'imageurl',
  'radio',
  'dropdown',
  'birthday',
  'zip',
] as const;
export type MergeFieldType = (typeof MERGE_FIELD_TYPES)[number];

export interface MergeFieldDefinition {
  /** The merge tag members carry it under (`FNAME`): up to 10 upper-case letters, digits or underscores. */
  tag: string;
  type: MergeFieldType;
  /** The field's label in the Mailchimp app. */
  name: string;
}

/** A static segment the audience already holds (a marketer made it in the Mailchimp app). */
export interface StaticSegmentDefinition {
  /** Mailchimp's segment id: digits. */
  id: string;
  name: string;
}

export interface AudienceDefinition {
  /** The audience (list) id requests name in their path. */
  id: string;
  name: string;
  mergeFields: MergeFieldDefinition[];
  /** Static segments (tags) the audience starts with; more are made through the API. */
  staticSegments?: StaticSegmentDefinition[];
}

export interface MailchimpEmulatorConfig {
  audiences: AudienceDefinition[];
}

const MERGE_TAG = /^[A-Z][A-Z0-9_]{0,9}$/;

/** Checks a configuration and returns it, or throws an Error saying what is wrong and where. */
export function parseMailchimpEmulatorConfig(config: unknown): MailchimpEmulatorConfig {
  const problems: string[] = [];
  const at = (path: string, message: string): void => {
    problems.push(`${path} ${message}`);
  };
  if (!isRecord(config)) {
    throw new Error('Mailchimp emulator configuration must be an object like { "audiences": [...] }');
  }
  unknownKeys(config, ['audiences'], '', at);
  const audiences = config['audiences'];
  const parsed: AudienceDefinition[] = [];
  if (!Array.isArray(audiences)) {
    at('audiences', 'must be an array of { id, name, mergeFields }');
  } else {
    const ids = new Set<string>();
    audiences.forEach((audience, index) => {
      const path = `audiences[${index}]`;
      const definition = parseAudience(audience, path, at);
      if (definition === undefined) return;
      if (ids.has(definition.id)) at(`${path}.id`, `repeats the audience id "${definition.id}"`);
      ids.add(definition.id);
      parsed.push(definition);
    });
  }
  if (problems.length > 0) {
    throw new Error(`Mailchimp emulator configuration is invalid: ${problems.join('; ')}`);
  }
  return { audiences: parsed };
}

type Report = (path: string, message: string) => void;

function parseAudience(value: unknown, path: string, at: Report): AudienceDefinition | undefined {
  if (!isRecord(value)) {
    at(path, 'must be an object { id, name, mergeFields }');
    return undefined;
  }
  unknownKeys(value, ['id', 'name', 'mergeFields', 'staticSegments'], path, at);
  const { id, name, mergeFields, staticSegments } = value;
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]+$/.test(id)) {
    at(`${path}.id`, 'must be a non-empty string of letters, digits, "-" or "_" (the audience id)');
  }
  if (typeof name !== 'string' || name.trim() === '') at(`${path}.name`, 'must be a non-empty string');
  const fields: MergeFieldDefinition[] = [];
  if (!Array.isArray(mergeFields)) {
    at(`${path}.mergeFields`, 'must be an array of { tag, type, name }');
  } else {
    const tags = new Set<string>();
    mergeFields.forEach((field, index) => {
      const fieldPath = `${path}.mergeFields[${index}]`;
      const definition = parseMergeField(field, fieldPath, at);
      if (definition === undefined) return;
      if (tags.has(definition.tag)) at(`${fieldPath}.tag`, `repeats the merge tag "${definition.tag}"`);
      tags.add(definition.tag);
      fields.push(definition);
    });
  }
  const segments = parseStaticSegments(staticSegments, `${path}.staticSegments`, at);
  if (typeof id !== 'string' || typeof name !== 'string') return undefined;
  return { id, name, mergeFields: fields, ...(segments === undefined ? {} : { staticSegments: segments }) };
}

function parseStaticSegments(
  value: unknown,
  path: string,
  at: Report,
): StaticSegmentDefinition[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    at(path, 'must be an array of { id, name }');
    return undefined;
  }
  const ids = new Set<string>();
  return value.flatMap((segment, index): StaticSegmentDefinition[] => {
    const segmentPath = `${path}[${index}]`;
    if (!isRecord(segment)) {
      at(segmentPath, 'must be an object { id, name }');
      return [];
    }
    unknownKeys(segment, ['id', 'name'], segmentPath, at);
    const { id, name } = segment;
    if (typeof id !== 'string' || !/^[0-9]{1,12}$/.test(id)) {
      at(`${segmentPath}.id`, `must be Mailchimp's segment id, digits (got ${JSON.stringify(id)})`);
      return [];
    }
    if (ids.has(id)) at(`${segmentPath}.id`, `repeats the segment id "${id}"`);
    ids.add(id);
    if (typeof name !== 'string' || name.trim() === '') {
      at(`${segmentPath}.name`, 'must be a non-empty string');
      return [];
    }
    return [{ id, name }];
  });
}

function parseMergeField(value: unknown, path: string, at: Report): MergeFieldDefinition | undefined {
  if (!isRecord(value)) {
    at(path, 'must be an object { tag, type, name }');
    return undefined;
  }
  unknownKeys(value, ['tag', 'type', 'name'], path, at);
  const { tag, type, name } = value;
  let valid = true;
  if (typeof tag !== 'string' || !MERGE_TAG.test(tag)) {
    at(
      `${path}.tag`,
      `must be 1 to 10 upper-case letters, digits or underscores, starting with a letter (got ${JSON.stringify(tag)})`,
    );
    valid = false;
  }
  if (typeof type !== 'string' || !(MERGE_FIELD_TYPES as readonly string[]).includes(type)) {
    at(`${path}.type`, `must be one of ${MERGE_FIELD_TYPES.join(', ')} (got ${JSON.stringify(type)})`);
    valid = false;
  }
  if (typeof name !== 'string' || name.trim() === '') {
    at(`${path}.name`, 'must be a non-empty string');
    valid = false;
  }
  return valid ? { tag: tag as string, type: type as MergeFieldType, name: name as string } : undefined;
}

function unknownKeys(value: Record<string, unknown>, known: string[], path: string, at: Report): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      at(path === '' ? key : `${path}.${key}`, `is not a setting (known: ${known.join(', ')})`);
    }
  }
}
