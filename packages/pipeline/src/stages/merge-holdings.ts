import type { ProfileMerge } from '@tessera/destination-kit';
import type { DeliveryItem } from '@tessera/queues';
import type { DestinationSyncState } from '../store/destination-sync-state.repository';
import type { DeliverOutcome, SettledItem } from './deliver-stage.service';

/** Why a merge went nowhere: the destination never accepted the retired contact, so it holds one contact. */
export const RETIRED_CONTACT_NOT_HELD =
  'nothing to merge: this destination never held the retired contact (no sync state)';

/**
 * A merge goes only to a destination that holds both contacts, as far as its sync state (what the ESP last
 * accepted per customer) tells: where the retired customer has no row, nothing is sent (logged dropped, counted
 * skipped). The merges that go carry the ESP's own ids of both contacts when the sync state has them
 * (Mailchimp finds the retired member by its subscriber hash; Klaviyo spares a lookup).
 */
export async function mergesOfHeldContacts(
  sync: Pick<DestinationSyncState, 'read'>,
  destinationId: string,
  group: DeliveryItem[],
  records: SettledItem[],
  outcome: DeliverOutcome,
): Promise<DeliveryItem[]> {
  const merges = group.map((item) => item.operation.item as ProfileMerge);
  const held = await sync.read(
    destinationId,
    merges.flatMap((merge) => [merge.customerId, merge.mergedCustomerId]),
  );
  const sending: DeliveryItem[] = [];
  group.forEach((item, index) => {
    const merge = merges[index] as ProfileMerge;
    const retired = held.get(merge.mergedCustomerId);
    if (retired === undefined) {
      outcome.skipped += 1;
      records.push({
        destinationId,
        item,
        status: 'dropped',
        detail: RETIRED_CONTACT_NOT_HELD,
        attempts: item.attempts,
      });
      return;
    }
    const externalId = held.get(merge.customerId)?.externalId;
    const { externalId: _staleSurvivor, mergedExternalId: _staleRetired, ...plain } = merge;
    const enriched: ProfileMerge = {
      ...plain,
      ...(externalId === undefined ? {} : { externalId }),
      ...(retired.externalId === undefined ? {} : { mergedExternalId: retired.externalId }),
    };
    sending.push({ ...item, operation: { ...item.operation, item: enriched } } as DeliveryItem);
  });
  return sending;
}

/** The retired customers of the merges delivered: the ESP no longer holds them, so their sync state goes. */
export function retiredByDeliveredMerges(records: readonly SettledItem[]): string[] {
  return records
    .filter((record) => record.status === 'delivered' && record.item.operation.operation === 'mergeProfiles')
    .map((record) => (record.item.operation.item as ProfileMerge).mergedCustomerId);
}
