import type { IdentifierType } from './identifiers';

/** A way to name a profile: `customer_id:C123`, `email:ana@example.com`, `member.sports-direct:SD123`, … */
export interface ProfileReference {
  type: IdentifierType;
  scope: string;
  value: string;
}

export class ProfileReferenceError extends Error {}

const SIMPLE_TYPES: Record<string, IdentifierType> = {
  customer_id: 'customer_id',
  email: 'email',
  phone: 'phone',
  loyalty_card: 'loyalty_card',
  anonymous_id: 'anonymous_id',
  device_id: 'device_id',
};

export function parseProfileReference(reference: string): ProfileReference {
  const colon = reference.indexOf(':');
  if (colon <= 0 || colon === reference.length - 1) {
    throw new ProfileReferenceError(
      `"${reference}" is not a profile reference: expected type:value, e.g. email:ana@example.com or member.<brand>:SD123`,
    );
  }
  const prefix = reference.slice(0, colon);
  const value = reference.slice(colon + 1);
  if (prefix.startsWith('member.') && prefix.length > 'member.'.length) {
    // Brand ids are lowercase slugs; events' brands are normalized the same way.
    return { type: 'member', scope: prefix.slice('member.'.length).trim().toLowerCase(), value };
  }
  const type = Object.hasOwn(SIMPLE_TYPES, prefix) ? SIMPLE_TYPES[prefix] : undefined;
  if (type === undefined) {
    throw new ProfileReferenceError(
      `unknown identifier type "${prefix}": use customer_id, email, phone, loyalty_card, anonymous_id, device_id or member.<brand>`,
    );
  }
  return { type, scope: '', value };
}
