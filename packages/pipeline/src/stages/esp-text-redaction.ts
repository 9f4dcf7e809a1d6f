import { redactContactPoints as redactWrittenForms } from '@tessera/runtime';
import type { DeliveryItem } from '@tessera/queues';
import { redactContactPoints } from '../store/store-helpers';

/** Fields of an operation item whose values are a person's contact points or names. */
const CONTACT_FIELD = /^(e-?mail(_address)?|phone(_number)?|sms|mobile)$/i;
const NAME_FIELD = /^(first_?name|last_?name|given_?name|family_?name|full_?name|name)$/i;

interface KnownValues {
  emails: string[];
  phones: string[];
  names: string[];
}

/** The item's own contact points and names, wherever its operation item holds them (a few levels down). */
function knownValues(value: unknown, into: KnownValues = { emails: [], phones: [], names: [] }, depth = 0) {
  if (depth > 4 || typeof value !== 'object' || value === null) return into;
  for (const [field, entry] of Object.entries(value as Record<string, unknown>)) {
    if (typeof entry === 'string') {
      const text = entry.trim();
      if (CONTACT_FIELD.test(field) && text.length >= 3) {
        if (text.includes('@')) into.emails.push(text);
        else into.phones.push(text);
      } else if (NAME_FIELD.test(field) && text.length >= 2) into.names.push(text);
    } else knownValues(entry, into, depth + 1);
  }
  return into;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * An ESP's answer or error text, fit to be stored (delivery log, dead letters, job failures) and logged: the
 * item's own email addresses, phone numbers (as sent, and their digits without the `+`, which some ESPs echo)
 * and names are masked, then any email address or phone number in a written form. Done whether or not the
 * person is ever erased: these texts are kept in clear for support.
 */
export function redactEspText(text: string, item?: DeliveryItem): string {
  let result = text;
  if (item !== undefined) {
    const known = knownValues(item.operation.item);
    const replace = (values: string[], mask: string, wholeWords: boolean) => {
      for (const value of [...new Set(values)].sort((a, b) => b.length - a.length)) {
        const pattern = wholeWords ? `(?<![\\p{L}\\p{N}])${escape(value)}(?![\\p{L}\\p{N}])` : escape(value);
        result = result.replace(new RegExp(pattern, 'giu'), mask);
      }
    };
    replace(known.emails, '[email]', false);
    replace(known.phones, '[phone]', true);
    // The same number in other written forms: with or without its country code or trunk 0, unspaced.
    for (const phone of known.phones) {
      const digits = phone.replace(/\D/g, '');
      if (digits.length < 9) continue;
      result = result.replace(
        new RegExp(`(?<![\\p{L}\\p{N}])\\d*${digits.slice(-9)}(?![\\p{L}\\p{N}])`, 'gu'),
        '[phone]',
      );
    }
    replace(known.names, '[name]', true);
  }
  return redactWrittenForms(redactContactPoints(result));
}
