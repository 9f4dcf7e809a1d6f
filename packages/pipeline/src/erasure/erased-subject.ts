import type { EventKey } from '@tessera/queues';
import { eventKeyString } from '../stages/event-identity';

/** Who is erased, as the pipeline recognises them in what it holds (Redis jobs, windows, stored events). */
export interface ErasedSubject {
  /** Every profile id of the person (merged-away ones included). */
  customerIds: ReadonlySet<string>;
  /** Their stored events, by `eventKeyString`. */
  eventKeys: ReadonlySet<string>;
  /** Blind indexes of their contact points (the DSR request's subject keys). */
  contactKeys: ReadonlySet<string>;
}

/** The blind indexes of the email and phone an event's data carries (see `contactKeysOf`). */
export type ContactKeysOf = (brand: string, data: Record<string, unknown>) => string[];

/**
 * Whether an event belongs to the erased person: resolved to one of their profiles, one of their stored events,
 * or carrying one of their customer ids, emails or phone numbers in its data.
 */
export function eventCarriesSubject(
  subject: ErasedSubject,
  contactKeysOf: ContactKeysOf,
  event: { key: EventKey; brand: string; data: unknown; customerId?: string },
): boolean {
  if (event.customerId !== undefined && subject.customerIds.has(event.customerId)) return true;
  if (subject.eventKeys.has(eventKeyString(event.key))) return true;
  const data = (typeof event.data === 'object' && event.data !== null ? event.data : {}) as Record<
    string,
    unknown
  >;
  for (const field of ['customer_id', 'from_customer_id', 'to_customer_id']) {
    const value = data[field];
    if (typeof value === 'string' && subject.customerIds.has(value)) return true;
  }
  return contactKeysOf(event.brand, data).some((contact) => subject.contactKeys.has(contact));
}
