import {
  maskPersonalValue,
  placeholderMask,
  splitAroundPlaceholders,
  type CatalogEvent,
  type EventCatalog,
  type PersonalDataKind,
  type PersonalDataMask,
} from '@tessera/events';
import { normalizeEmail, PROFILE_TRAITS, type CustomerView, type TraitValues } from '@tessera/identity-graph';
import { redactContactPoints as redactWrittenForms } from '@tessera/runtime';
import type { PiiVault } from '@tessera/store';
import { redactContactPoints } from '../store/store-helpers';

/** Whether the preview's caller sees personal data (`pii.read`) or placeholders in its place. */
export type PersonalDataAccess = 'shown' | 'masked';

// The placeholders' digest is a blind index under a purpose of its own: never equal to a stored index, and
// without the master key nobody can test a guessed address against it.
const PLACEHOLDER_PURPOSE = 'preview-placeholder';

/**
 * What a caller without access to personal data previews on: the event with every field the catalog marks
 * `x-pii` replaced, and the profile with its PII traits and contact points replaced, by placeholders of the
 * same shape (`masked-<hash>@example.net`, a fictional E.164 number, `•••`). The rules run on these, so
 * nothing they compute — a split, a substring — can hold a piece of the real value. Contact-point blind
 * indexes are kept: consent is still judged on the real person.
 */
export class PreviewMasking {
  private readonly mask: PersonalDataMask;

  constructor(
    vault: Pick<PiiVault, 'blindIndex'>,
    private readonly catalog: EventCatalog,
  ) {
    this.mask = placeholderMask((kind, value) =>
      vault.blindIndex(`${PLACEHOLDER_PURPOSE}:${kind}`, comparable(kind, value)),
    );
  }

  event<T extends CatalogEvent>(event: T): T {
    return this.catalog.maskPersonalData(event, this.mask);
  }

  profile(view: CustomerView): CustomerView {
    const traits: TraitValues = {};
    for (const [name, value] of Object.entries(view.traits) as [keyof TraitValues, unknown][]) {
      // A trait the table does not know is treated as personal: masking too much costs a placeholder.
      const kind: PersonalDataKind | false = Object.hasOwn(PROFILE_TRAITS, name)
        ? PROFILE_TRAITS[name].pii
        : 'text';
      traits[name] = kind === false ? value : maskPersonalValue(kind, value, this.mask);
    }
    return {
      ...view,
      traits,
      ...(view.email === undefined
        ? {}
        : { email: { key: view.email.key, value: this.mask('email', view.email.value) } }),
      ...(view.phone === undefined
        ? {}
        : { phone: { key: view.phone.key, value: this.mask('phone', view.phone.value) } }),
    };
  }

  /**
   * The result, with any email address or phone number still in its strings masked: text the catalog leaves
   * in clear (a `reason`, an event id) may hold one.
   */
  output<T>(value: T): T {
    return maskContactPointsIn(value);
  }
}

/**
 * A value (a preview, a list of event references) with every email address and phone number in its strings
 * and keys replaced by `[email]` / `[phone]`, the standard placeholders excepted.
 */
export function maskContactPointsIn<T>(value: T): T {
  return mapStrings(value, (text) =>
    splitAroundPlaceholders(text)
      .map((piece) => (piece.placeholder ? piece.text : redactWrittenForms(redactContactPoints(piece.text))))
      .join(''),
  ) as T;
}

/** The form two writings of one value share, so that they get one placeholder (the graph's, for an email). */
function comparable(kind: PersonalDataKind, value: string): string {
  if (kind !== 'email') return value;
  const normalized = normalizeEmail(value);
  return normalized.ok ? normalized.value : value.trim().toLowerCase();
}

/** Strings in arrays and plain objects (a Date, or any other instance, is left as it is). */
function mapStrings(value: unknown, map: (text: string) => string): unknown {
  if (typeof value === 'string') return map(value);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, map));
  if (value === null || typeof value !== 'object') return value;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [map(key), mapStrings(item, map)]));
}
