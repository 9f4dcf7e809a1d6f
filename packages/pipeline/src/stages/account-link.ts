import type { EventLink, RawIdentifiers } from '@tessera/identity-graph';
import type { IngestedEvent } from '@tessera/queues';
import { identityRecordOf } from './event-identity';

/**
 * The graph link an `account.linked` event asks for, or undefined for any other event: the identifiers of its
 * `data.link` (a guest's anonymous id, a legacy member id of a brand) joined to the member its own identifiers
 * name, attributed to the event.
 */
export function accountLinkOf(ingested: IngestedEvent): EventLink | undefined {
  if (ingested.event.type !== 'account.linked') return undefined;
  const data = (ingested.event.data ?? {}) as { link?: unknown; method?: unknown };
  if (typeof data.link !== 'object' || data.link === null) return undefined;
  const record = identityRecordOf(ingested);
  return {
    brand: ingested.brand,
    member: record.identifiers,
    link: data.link as RawIdentifiers,
    ...(typeof data.method === 'string' ? { method: data.method } : {}),
    eventSource: ingested.event.source,
    eventId: ingested.event.id,
    eventTime: record.eventTime,
  };
}
