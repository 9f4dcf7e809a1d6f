import {
  type BatchResult,
  isDeliveryError,
  type OperationContext,
  type ProfileRef,
} from '@tessera/destination-kit';
import { MAILCHIMP_PATHS } from '../mailchimp-endpoints';
import type { MailchimpSettings } from '../mailchimp-settings';
import { settleEachMember } from './member-identity';

/**
 * Erasure: POST /lists/{list_id}/members/{hash}/actions/delete-permanent, one call per member (Mailchimp has no
 * bulk erase). A member Mailchimp does not hold (404) is already gone: ok. Mailchimp will not re-import an
 * address deleted this way, which is what an erasure request wants.
 */
export function deleteMembers(
  items: ProfileRef[],
  { http, settings }: Pick<OperationContext<MailchimpSettings>, 'http' | 'settings'>,
): Promise<BatchResult> {
  return settleEachMember(items, async (hash) => {
    try {
      await http.post(MAILCHIMP_PATHS.memberDeletePermanent(settings.listId, hash));
    } catch (error) {
      if (!(isDeliveryError(error) && error.status === 404)) throw error;
    }
    return { status: 'ok', externalId: hash };
  });
}
