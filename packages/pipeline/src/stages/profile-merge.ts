import type { ProfileMerge } from '@tessera/destination-kit';
import type { MembershipMergedData } from '@tessera/events';
import type { ResolvedEvent } from '@tessera/queues';

/**
 * The ESP merge a `membership.merged` event asks for, or undefined. The identity graph's own events carry how
 * the merge was made (`merge`); one the loyalty platform sent is deterministic by definition (its own records,
 * keyed by member ids, so the merged-away customer was a member). The survivor is the profile the event
 * resolved to: the one Tessera syncs.
 */
export function profileMergeOf(event: ResolvedEvent): ProfileMerge | undefined {
  if (event.event.type !== 'membership.merged') return undefined;
  const data = event.event.data as MembershipMergedData;
  if (typeof data.from_customer_id !== 'string' || data.from_customer_id === event.customerId)
    return undefined;
  return {
    customerId: event.customerId,
    mergedCustomerId: data.from_customer_id,
    mergedWasGuest: event.merge?.mergedWasGuest ?? false,
    basis: event.merge?.basis ?? 'deterministic',
    mergedAt: event.merge?.mergedAt ?? event.event.time ?? event.receivedAt,
  };
}
