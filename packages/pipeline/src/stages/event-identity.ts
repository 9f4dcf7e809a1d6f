import type { IdentityRecord } from '@tessera/identity-graph';
import { traitsFromEvent } from '@tessera/identity-graph';
import type { EventKey, IngestedEvent } from '@tessera/queues';
import { rawEventKeyString } from '../store/raw-event-log.repository';

/** The identifier fields a member event's `data` may carry (DESIGN: at least one of them). */
const IDENTIFIER_FIELDS = [
  'customer_id',
  'email',
  'phone',
  'member_id',
  'brand',
  'loyalty_card',
  'anonymous_id',
  'device_id',
  'source_ids',
] as const;

export function eventKeyOf(ingested: IngestedEvent): EventKey {
  return { sourceId: ingested.sourceId, eventSource: ingested.event.source, eventId: ingested.event.id };
}

/** One string per event key, for maps and job ids (the raw event log's own form). */
export const eventKeyString: (key: EventKey) => string = rawEventKeyString;

/** What the identity graph resolves of an event: its identifiers, its trait values, its time and brand. */
export function identityRecordOf(ingested: IngestedEvent): IdentityRecord {
  const data = (ingested.event.data ?? {}) as Record<string, unknown>;
  const identifiers: Record<string, unknown> = {};
  for (const field of IDENTIFIER_FIELDS) {
    if (data[field] !== undefined) identifiers[field] = data[field];
  }
  const time = ingested.event.time ?? ingested.receivedAt;
  return {
    brand: ingested.brand,
    eventTime: new Date(time),
    eventSource: ingested.event.source,
    eventId: ingested.event.id,
    identifiers: identifiers as IdentityRecord['identifiers'],
    traits: traitsFromEvent(ingested.event.type, data as Parameters<typeof traitsFromEvent>[1]),
    ...registration(ingested.event.type, data, new Date(time)),
  };
}

/**
 * When the event is the member registering — a consent grant (at the time it was captured) or an account link
 * — the time it happened: what brings back identifiers of theirs an erasure turned into tombstones before it.
 */
function registration(
  type: string,
  data: Record<string, unknown>,
  eventTime: Date,
): Pick<IdentityRecord, 'registeredAt'> {
  if (type === 'account.linked') return { registeredAt: eventTime };
  if (type !== 'consent.changed' || data['status'] !== 'granted') return {};
  const captured = typeof data['captured_at'] === 'string' ? new Date(data['captured_at']) : eventTime;
  return { registeredAt: Number.isNaN(captured.getTime()) ? eventTime : captured };
}
