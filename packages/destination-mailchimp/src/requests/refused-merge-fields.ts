import { isDeliveryError } from '@tessera/destination-kit';
import type { MailchimpSettings } from '../mailchimp-settings';
import { attributeOfMergeTag, type MergeFields } from './merge-fields';

/*
 * One bad field does not sink a member: when Mailchimp refuses a merge field (a tag the audience does not
 * define, a value of the wrong type, an incomplete address), the member goes again without it, and the ok
 * result names what was left out. Mailchimp names the field in `errors[].field` of a 400 ("TIER", or
 * "merge_fields.TIER" when its schema check refused it) and in `field` / `field_message` of a batch error.
 */

/** A field left out of a member so the rest could land, recorded against the Tessera attribute. */
export interface OmittedField {
  field: string;
  reason: string;
}

/** A merge field Mailchimp refused, in its words. */
export interface RefusedMergeField {
  tag: string;
  message: string;
}

const tagOf = (field: string): string => field.replace(/^merge_fields\./, '');

/** The merge fields `member` carries that a failed request (a 400 with `errors[]`) names. */
export function refusedMergeFields(error: unknown, mergeFields: MergeFields): RefusedMergeField[] {
  if (!isDeliveryError(error) || error.status !== 400 || error.body === undefined) return [];
  let body: unknown;
  try {
    body = JSON.parse(error.body);
  } catch {
    return [];
  }
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  return errors.flatMap((entry: unknown): RefusedMergeField[] => {
    const { field, message } = (entry ?? {}) as { field?: unknown; message?: unknown };
    if (typeof field !== 'string' || !(tagOf(field) in mergeFields)) return [];
    return [{ tag: tagOf(field), message: typeof message === 'string' ? message : 'refused' }];
  });
}

/** The merge field a batch answer's error names, when the member carries it. */
export function refusedMergeFieldOf(
  error: { field?: string; field_message?: string; error?: string },
  mergeFields: MergeFields,
): RefusedMergeField | undefined {
  if (error.field === undefined || !(tagOf(error.field) in mergeFields)) return undefined;
  return { tag: tagOf(error.field), message: error.field_message ?? error.error ?? 'refused' };
}

/** `mergeFields` without the refused ones, and what was left out. */
export function omitRefusedMergeFields(
  mergeFields: MergeFields,
  refused: RefusedMergeField[],
  settings: Pick<MailchimpSettings, 'mergeFieldMapping'>,
): { mergeFields: MergeFields; omitted: OmittedField[] } {
  const kept = { ...mergeFields };
  const omitted = refused.map(({ tag, message }): OmittedField => {
    delete kept[tag];
    return {
      field: attributeOfMergeTag(tag, settings),
      reason: `Mailchimp refused merge field ${tag}: ${message}`,
    };
  });
  return { mergeFields: kept, omitted };
}
