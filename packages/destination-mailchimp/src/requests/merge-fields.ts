import type { ProfileUpsert } from '@tessera/destination-kit';
import { TESSERA_ID_MERGE_FIELD } from '../mailchimp-endpoints';
import type { MailchimpSettings } from '../mailchimp-settings';

/** Mailchimp's ADDRESS merge field; addr1, city, state and zip are required by Mailchimp. */
export interface MailchimpAddress {
  addr1: string;
  addr2?: string;
  city: string;
  state: string;
  zip: string;
  country?: string;
}

export type MergeFields = Record<string, string | number | MailchimpAddress>;

/** Tessera attributes with a default audience merge field (every new Mailchimp audience has these). */
const STANDARD_MERGE_FIELDS: Record<string, string> = {
  first_name: 'FNAME',
  last_name: 'LNAME',
  birthday: 'BIRTHDAY',
  address: 'ADDRESS',
};

/** Tessera's postal address fields → Mailchimp's ADDRESS fields. */
const ADDRESS_FIELDS: Record<string, keyof MailchimpAddress> = {
  line1: 'addr1',
  line2: 'addr2',
  city: 'city',
  region: 'state',
  postcode: 'zip',
  country: 'country',
};

/** The merge tags any profile may carry: Mailchimp's default fields, PHONE and TESSERA_ID. */
const STANDARD_MERGE_TAGS = [TESSERA_ID_MERGE_FIELD, 'PHONE', ...Object.values(STANDARD_MERGE_FIELDS)];

/**
 * Every merge tag this destination may send with these settings: the audience must define each one, or
 * Mailchimp refuses the field (and the member goes again without it, see `omittedFields`).
 */
export function mergeTagsSentBy(settings: Pick<MailchimpSettings, 'mergeFieldMapping'>): string[] {
  return [...new Set([...STANDARD_MERGE_TAGS, ...Object.values(settings.mergeFieldMapping)])];
}

/** The Tessera name of what a merge tag carries (`TIER` → `loyalty_tier`), or the tag itself. */
export function attributeOfMergeTag(
  tag: string,
  settings: Pick<MailchimpSettings, 'mergeFieldMapping'>,
): string {
  if (tag === TESSERA_ID_MERGE_FIELD) return 'customerId';
  if (tag === 'PHONE') return 'phone';
  const mapped = Object.entries(settings.mergeFieldMapping).find(([, mappedTag]) => mappedTag === tag);
  if (mapped !== undefined) return mapped[0];
  return Object.entries(STANDARD_MERGE_FIELDS).find(([, standardTag]) => standardTag === tag)?.[0] ?? tag;
}

/**
 * A profile's merge fields: the customer id in TESSERA_ID, phone in PHONE, names, birthday and address in the
 * audience's default fields, and the attributes `mergeFieldMapping` names in theirs. Other attributes are not
 * sent: a merge tag the audience lacks would make Mailchimp refuse the member.
 */
export function mergeFieldsFor(item: ProfileUpsert, settings: MailchimpSettings): MergeFields {
  const fields: MergeFields = { [TESSERA_ID_MERGE_FIELD]: item.customerId };
  if (item.phone !== undefined && item.phone !== '') fields['PHONE'] = item.phone;
  for (const [name, value] of Object.entries(item.attributes)) {
    const tag = settings.mergeFieldMapping[name] ?? STANDARD_MERGE_FIELDS[name];
    if (tag === undefined) continue;
    const converted =
      name === 'address'
        ? mailchimpAddress(value)
        : name === 'birthday'
          ? mailchimpBirthday(value)
          : scalar(value);
    if (converted !== undefined) fields[tag] = converted;
  }
  return fields;
}

/** A value a text or number merge field takes; objects and lists have no merge field type. */
function scalar(value: unknown): string | number | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'boolean') return String(value);
  return undefined;
}

/** Mailchimp birthdays are `MM/DD`; Tessera keeps `YYYY-MM-DD` (or `MM-DD`). */
export function mailchimpBirthday(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(?:\d{4}-)?(\d{2})-(\d{2})$/.exec(value);
  return match === null ? undefined : `${match[1]}/${match[2]}`;
}

/** Mailchimp's ADDRESS, or undefined when a field it requires is missing (it would refuse the member). */
export function mailchimpAddress(value: unknown): MailchimpAddress | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const address: Partial<MailchimpAddress> = {};
  for (const [from, to] of Object.entries(ADDRESS_FIELDS)) {
    const field = (value as Record<string, unknown>)[from];
    if (typeof field === 'string' && field !== '') address[to] = field;
  }
  const { addr1, city, state, zip } = address;
  if (addr1 === undefined || city === undefined || state === undefined || zip === undefined) return undefined;
  return { ...address, addr1, city, state, zip };
}

/**
 * Tessera attributes from a member's merge fields (for `fetchProfiles`): the mappings above read backwards,
 * TESSERA_ID and PHONE left out (they come back as the customer id and phone), unmapped tags kept by name.
 */
export function attributesFromMergeFields(
  mergeFields: Record<string, unknown>,
  settings: MailchimpSettings,
): Record<string, unknown> {
  const names = new Map<string, string>();
  for (const [name, tag] of Object.entries(STANDARD_MERGE_FIELDS)) names.set(tag, name);
  for (const [name, tag] of Object.entries(settings.mergeFieldMapping)) names.set(tag, name);
  const attributes: Record<string, unknown> = {};
  for (const [tag, value] of Object.entries(mergeFields)) {
    if (tag === TESSERA_ID_MERGE_FIELD || tag === 'PHONE' || value === '' || value === undefined) continue;
    const name = names.get(tag) ?? tag;
    if (tag === 'ADDRESS') {
      const address = tesseraAddress(value);
      if (address !== undefined) attributes[name] = address;
    } else {
      attributes[name] = value;
    }
  }
  return attributes;
}

function tesseraAddress(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const address: Record<string, string> = {};
  for (const [tessera, mailchimp] of Object.entries(ADDRESS_FIELDS)) {
    const field = (value as Record<string, unknown>)[mailchimp];
    if (typeof field === 'string' && field !== '') address[tessera] = field;
  }
  return Object.keys(address).length === 0 ? undefined : address;
}
