import {
  type BatchResult,
  isDeliveryError,
  type OperationContext,
  type ProfileRef,
  type RemoteProfile,
} from '@tessera/destination-kit';
import { MAILCHIMP_PATHS, TESSERA_ID_MERGE_FIELD } from '../mailchimp-endpoints';
import type { MailchimpSettings } from '../mailchimp-settings';
import { attributesFromMergeFields } from './merge-fields';
import { settleEachMember } from './member-identity';
import type { MemberStatus } from './planned-member';

/** A list member as GET /lists/{list_id}/members/{hash} returns it (the fields this destination reads). */
export interface MailchimpMember {
  id: string;
  email_address: string;
  status: MemberStatus | 'archived';
  merge_fields?: Record<string, unknown>;
  tags?: { id?: number; name: string }[];
  last_changed?: string;
}

/** Mailchimp's status → the email subscription Tessera reconciles against. */
const SUBSCRIPTION: Record<MailchimpMember['status'], 'subscribed' | 'unsubscribed' | 'never_subscribed'> = {
  subscribed: 'subscribed',
  unsubscribed: 'unsubscribed',
  cleaned: 'unsubscribed',
  pending: 'never_subscribed',
  transactional: 'never_subscribed',
  archived: 'never_subscribed',
};

/** A member as a RemoteProfile: `cleaned` (bounced or reported as spam) is Mailchimp's suppression. */
export function toRemoteProfile(member: MailchimpMember, settings: MailchimpSettings): RemoteProfile {
  const mergeFields = member.merge_fields ?? {};
  const customerId = mergeFields[TESSERA_ID_MERGE_FIELD];
  const phone = mergeFields['PHONE'];
  return {
    externalId: member.id,
    ...(typeof customerId === 'string' && customerId !== '' ? { customerId } : {}),
    email: member.email_address,
    ...(typeof phone === 'string' && phone !== '' ? { phone } : {}),
    attributes: attributesFromMergeFields(mergeFields, settings),
    subscriptions: { email: SUBSCRIPTION[member.status] },
    suppressed: member.status === 'cleaned',
    ...(member.last_changed === undefined ? {} : { updatedAt: member.last_changed }),
  };
}

/** GET each member by its hash (one call per member, at once under the connection cap); 404 → ok, no profile. */
export function fetchMembers(
  items: ProfileRef[],
  { http, settings }: Pick<OperationContext<MailchimpSettings>, 'http' | 'settings'>,
): Promise<BatchResult> {
  return settleEachMember(items, async (hash) => {
    try {
      const response = await http.get<MailchimpMember>(MAILCHIMP_PATHS.member(settings.listId, hash));
      return {
        status: 'ok',
        externalId: response.body.id,
        profile: toRemoteProfile(response.body, settings),
      };
    } catch (error) {
      if (isDeliveryError(error) && error.status === 404) return { status: 'ok' };
      throw error;
    }
  });
}
