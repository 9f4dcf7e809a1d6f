import {
  isSupportedCountry,
  parsePhoneNumberFromString,
  parsePhoneNumberWithError,
} from 'libphonenumber-js/max';
import {
  DEFAULT_IDENTITY_CONFIG,
  type DroppedIdentifier,
  type IdentifierType,
  type IdentityGraphConfig,
  type NormalizationContext,
  type Normalized,
  type NormalizedIdentifier,
  type RawIdentifiers,
} from './identifier-types';
import { BoundedMemo } from '../bounded-memo';

const MAX_EMAIL_LENGTH = 254;
const MAX_OPAQUE_ID_LENGTH = 200;
const CONTROL_CHARACTER = /\p{Cc}/u;
const WHITESPACE = /\s/u;
const LOYALTY_CARD = /^[A-Z0-9]{4,40}$/;

export function normalizeEmail(value: string): Normalized {
  const email = value.trim().normalize('NFC').toLowerCase();
  const at = email.indexOf('@');
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  const looksLikeAddress =
    at > 0 &&
    !domain.includes('@') &&
    !WHITESPACE.test(email) &&
    !CONTROL_CHARACTER.test(email) &&
    local.length > 0 &&
    domain.includes('.') &&
    domain.split('.').every((label) => label.length > 0);
  if (!looksLikeAddress) return { ok: false, reason: 'not an email address' };
  if ([...email].length > MAX_EMAIL_LENGTH) {
    return { ok: false, reason: `email address longer than ${MAX_EMAIL_LENGTH} characters` };
  }
  return { ok: true, value: email };
}

/**
 * Ofcom reserves these UK ranges for drama and documentation, so they can never reach a real customer;
 * libphonenumber reports them invalid, but test and demo data rely on them (e.g. +447700900123).
 */
const FICTIONAL_NUMBER_RANGES = ['+447700900', '+441632960'];

// Parsing and validating a number against full metadata costs tens of microseconds, and the same members'
// numbers arrive again and again (every points update), so results are remembered, within a bound.
const phoneParses = new BoundedMemo<Normalized>(50_000);

export function normalizePhone(value: string, defaultCountry: string): Normalized {
  return phoneParses.get(`${defaultCountry}\u0000${value}`, () => parsePhone(value, defaultCountry));
}

function parsePhone(value: string, defaultCountry: string): Normalized {
  const country = defaultCountry.trim().toUpperCase();
  const trimmed = value.trim();
  // A leading 00 is the international prefix in most of the world; read it as '+' whatever the brand's country.
  const text = trimmed.startsWith('00') ? `+${trimmed.slice(2)}` : trimmed;
  let phone;
  try {
    phone = parsePhoneNumberWithError(text, {
      defaultCountry: isSupportedCountry(country) ? country : undefined,
      // Refuse numbers embedded in other text ("call 0791…"): an identifier is the whole value.
      extract: false,
    });
  } catch (error) {
    const code = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: `invalid phone number (${code}) for default country ${country}` };
  }
  const fictional =
    phone.isPossible() && FICTIONAL_NUMBER_RANGES.some((prefix) => phone.number.startsWith(prefix));
  if (!phone.isValid() && !fictional) {
    const numberCountry = text.startsWith('+') ? (phone.country ?? `+${phone.countryCallingCode}`) : country;
    return { ok: false, reason: `not a valid number for ${numberCountry}` };
  }
  return { ok: true, value: phone.number };
}

export function normalizeLoyaltyCard(value: string): Normalized {
  const card = value.replace(/[\s\p{Pd}]/gu, '').toUpperCase();
  if (!LOYALTY_CARD.test(card)) {
    return { ok: false, reason: 'not a loyalty card number (4 to 40 letters and digits)' };
  }
  return { ok: true, value: card };
}

/** customer_id, member ids, device and anonymous ids: compared exactly, so only trimmed and NFC-composed. */
export function normalizeOpaqueId(value: string): Normalized {
  const id = value.trim().normalize('NFC');
  if (id.length === 0) return { ok: false, reason: 'empty value' };
  if ([...id].length > MAX_OPAQUE_ID_LENGTH) {
    return { ok: false, reason: `longer than ${MAX_OPAQUE_ID_LENGTH} characters` };
  }
  if (CONTROL_CHARACTER.test(id)) return { ok: false, reason: 'contains control characters' };
  return { ok: true, value: id };
}

/** Normalizes one value of a type; phones need the country that numbers without a country code belong to. */
export function normalizeIdentifierValue(
  type: IdentifierType,
  value: string,
  defaultCountry: string,
): Normalized {
  switch (type) {
    case 'email':
      return normalizeEmail(value);
    case 'phone':
      return normalizePhone(value, defaultCountry);
    case 'loyalty_card':
      return normalizeLoyaltyCard(value);
    case 'customer_id':
    case 'member':
    case 'device_id':
    case 'anonymous_id':
      return normalizeOpaqueId(value);
  }
}

// Values systems write when they have nothing: they would join every customer who lacks the field.
const PLACEHOLDERS = new Set([
  '',
  'null',
  'undefined',
  'nil',
  'none',
  'n/a',
  'na',
  'anonymous',
  'guest',
  'unknown',
  'test',
  '0',
  '-1',
  '00000000',
]);
const ONLY_ZEROS = /^0+$/;
const PLACEHOLDER_EMAIL_LOCAL_PARTS = new Set([
  'noemail',
  'no-email',
  'no_email',
  'noreply',
  'no-reply',
  'donotreply',
  'do-not-reply',
]);
const PLACEHOLDER_EMAILS = new Set([
  'test@test.com',
  'email@email.com',
  'a@a.com',
  'none@none.com',
  'null@null.com',
]);
// Not example.com: it is the documented domain for sample addresses, which tests rely on.
const PLACEHOLDER_EMAIL_DOMAINS = new Set(['noemail.com', 'no-email.com', 'test.com']);
const PLACEHOLDER_NATIONAL_NUMBERS = new Set(['1234567890', '0123456789']);
const SAME_DIGIT_REPEATED = /^(\d)\1*$/;

function isPlaceholderEmail(email: string): boolean {
  const at = email.lastIndexOf('@');
  if (at < 0) return false;
  return (
    PLACEHOLDER_EMAILS.has(email) ||
    PLACEHOLDER_EMAIL_LOCAL_PARTS.has(email.slice(0, at)) ||
    PLACEHOLDER_EMAIL_DOMAINS.has(email.slice(at + 1))
  );
}

function isPlaceholderPhone(e164: string): boolean {
  const nationalNumber = parsePhoneNumberFromString(e164)?.nationalNumber;
  if (nationalNumber === undefined) return false;
  return SAME_DIGIT_REPEATED.test(nationalNumber) || PLACEHOLDER_NATIONAL_NUMBERS.has(nationalNumber);
}

function isGenericPlaceholder(value: string): boolean {
  const lowercase = value.toLowerCase();
  return PLACEHOLDERS.has(lowercase) || ONLY_ZEROS.test(lowercase);
}

/** The reason a normalized value is refused as a placeholder, or undefined when it is a usable value. */
export function isPlaceholder(
  type: IdentifierType,
  normalizedValue: string,
  config: IdentityGraphConfig = DEFAULT_IDENTITY_CONFIG,
): string | undefined {
  const value = normalizedValue.toLowerCase();
  const blocked =
    isGenericPlaceholder(value) ||
    (type === 'email' && isPlaceholderEmail(value)) ||
    (type === 'phone' && isPlaceholderPhone(value)) ||
    config.types[type].blocklist.some((entry) => entry.toLowerCase() === value);
  return blocked ? `placeholder value "${normalizedValue}"` : undefined;
}

interface RawField {
  type: IdentifierType;
  field: string;
  value: unknown;
  scope: string;
}

/** A brand id as a scope; brand ids are lowercase slugs, so case differences are not different brands. */
function brandScope(brand: unknown): string | undefined {
  if (typeof brand !== 'string') return undefined;
  const scope = brand.trim().toLowerCase();
  return scope === '' ? undefined : scope;
}

/**
 * Turns an event's identifier fields into normalized identifiers, deduplicated and sorted by priority then
 * value. Never throws on bad data: every value it cannot use is listed in `dropped` with the reason.
 */
export function normalizeIdentifiers(
  raw: RawIdentifiers,
  context: NormalizationContext,
  config: IdentityGraphConfig = DEFAULT_IDENTITY_CONFIG,
): { identifiers: NormalizedIdentifier[]; dropped: DroppedIdentifier[] } {
  const dropped: DroppedIdentifier[] = [];
  const fields: RawField[] = [];
  const take = (type: IdentifierType, field: string, value: unknown, scope = '') => {
    if (value !== undefined && value !== null) fields.push({ type, field, value, scope });
  };

  take('customer_id', 'customer_id', raw.customer_id);
  if (raw.member_id !== undefined && raw.member_id !== null) {
    const scope = brandScope(raw.brand) ?? brandScope(context.brand);
    if (scope === undefined) {
      dropped.push({ type: 'member', field: 'member_id', reason: 'member_id needs a brand' });
    } else {
      take('member', 'member_id', raw.member_id, scope);
    }
  }
  const sourceIds: unknown = raw.source_ids;
  if (typeof sourceIds === 'object' && sourceIds !== null && !Array.isArray(sourceIds)) {
    for (const [brand, memberId] of Object.entries(sourceIds)) {
      const field = `source_ids.${brand}`;
      const scope = brandScope(brand);
      if (scope === undefined) {
        dropped.push({ type: 'member', field, reason: 'source_ids key is not a brand' });
      } else {
        take('member', field, memberId, scope);
      }
    }
  } else if (sourceIds !== undefined && sourceIds !== null) {
    dropped.push({
      type: 'member',
      field: 'source_ids',
      reason: 'source_ids is not an object of brand → member id',
    });
  }
  take('loyalty_card', 'loyalty_card', raw.loyalty_card);
  take('email', 'email', raw.email);
  take('phone', 'phone', raw.phone);
  take('device_id', 'device_id', raw.device_id);
  take('anonymous_id', 'anonymous_id', raw.anonymous_id);

  const byKey = new Map<string, NormalizedIdentifier>();
  for (const { type, field, value, scope } of fields) {
    if (typeof value !== 'string') {
      dropped.push({ type, field, reason: `expected a string, got ${typeof value}` });
      continue;
    }
    const screened = screenValue(type, value, context.defaultCountry, config);
    if (!screened.ok) dropped.push({ type, field, reason: screened.reason });
    else byKey.set(`${type}\u0000${scope}\u0000${screened.value}`, { type, scope, value: screened.value });
  }

  const identifiers = [...byKey.values()].sort(
    (a, b) =>
      config.types[a.type].priority - config.types[b.type].priority ||
      compareStrings(a.value, b.value) ||
      compareStrings(a.scope, b.scope),
  );
  return { identifiers, dropped };
}

function screenValue(
  type: IdentifierType,
  value: string,
  defaultCountry: string,
  config: IdentityGraphConfig,
): Normalized {
  // The generic placeholders are checked before normalizing too, so 'N/A' in an email field reads as a
  // placeholder rather than a bad address.
  const trimmed = value.trim();
  if (isGenericPlaceholder(trimmed)) return { ok: false, reason: `placeholder value "${trimmed}"` };
  const normalized = normalizeIdentifierValue(type, value, defaultCountry);
  if (!normalized.ok) return normalized;
  const placeholder = isPlaceholder(type, normalized.value, config);
  return placeholder === undefined ? normalized : { ok: false, reason: placeholder };
}

// Code-unit order, not locale order, so the result is the same on every machine.
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
