import type { ProfileMerge } from '@tessera/destination-kit';
import type { MembershipMergedData } from '@tessera/events';
import type { ResolvedEvent } from '@tessera/queues';

/**
 * The ESP merge a `membership.merged` event asks for, or undefined. Only the identity graph's own events ask
 * (the lineage publisher's, carrying how the merge was made: `merge`): the loyalty platform's event merges the
 * profiles in the graph at resolution, whose outbox then announces it — an ESP merge for the platform's event
 * too would double that one, and be sent even when the graph refused the merge. The survivor is the profile the
 * event resolved to: the one Tessera syncs.
 */
export function profileMergeOf(event: ResolvedEvent): ProfileMerge | undefined {
  if (event.event.type !== 'membership.merged' || event.merge === undefined) return undefined;
  const data = event.event.data as MembershipMergedData;
  if (typeof data.from_customer_id !== 'string' || data.from_customer_id === event.customerId)
    return undefined;
  return {
    customerId: event.customerId,
    mergedCustomerId: data.from_customer_id,
    mergedWasGuest: event.merge.mergedWasGuest,
    basis: event.merge.basis,
    mergedAt: event.merge.mergedAt,
  };
}
