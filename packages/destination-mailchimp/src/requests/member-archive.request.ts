import {
  type BatchResult,
  isDeliveryError,
  type OperationContext,
  type ProfileMerge,
  settleEachItem,
} from '@tessera/destination-kit';
import { MAILCHIMP_PATHS } from '../mailchimp-endpoints';
import type { MailchimpSettings } from '../mailchimp-settings';

const SUBSCRIBER_HASH = /^[0-9a-f]{32}$/;

/**
 * mergeProfiles. Mailchimp cannot merge two members, so the retired one is archived: DELETE
 * /lists/{list_id}/members/{subscriber_hash} (Mailchimp's "Archive list member",
 * https://mailchimp.com/developer/marketing/api/list-members/archive-list-member/) takes it out of the audience
 * and its sends while keeping its history, unlike delete-permanent, which is erasure's. The survivor keeps
 * being written by its own profile updates.
 *
 * Members are keyed by the MD5 of their email, which the merge item does not carry: the retired member's hash is
 * `mergedExternalId`, what Mailchimp accepted for that customer before (the pipeline's sync state). Without it
 * Tessera never wrote the retired member here, so there is nothing to archive. When both customers share one
 * address they are one member already: archiving it would archive the survivor.
 */
export function archiveRetiredMembers(
  merges: ProfileMerge[],
  { http, settings }: Pick<OperationContext<MailchimpSettings>, 'http' | 'settings'>,
): Promise<BatchResult> {
  return settleEachItem(merges, async (merge) => {
    const hash = merge.mergedExternalId;
    if (hash === undefined) return { status: 'ok' };
    if (!SUBSCRIBER_HASH.test(hash))
      return { status: 'rejected', reason: `${JSON.stringify(hash)} is not a Mailchimp subscriber hash` };
    if (hash === merge.externalId) return { status: 'ok' };
    try {
      await http.delete(MAILCHIMP_PATHS.member(settings.listId, hash));
    } catch (error) {
      // Not in the audience (never written, or archived already): nothing left to archive.
      if (!(isDeliveryError(error) && error.status === 404)) throw error;
    }
    return { status: 'ok' };
  });
}
