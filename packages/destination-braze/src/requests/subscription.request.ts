import {
  settleItemRequest,
  type BatchResult,
  type DestinationHttpClient,
  type ItemResult,
  type SubscriptionChange,
} from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS } from '../braze-endpoints';

/*
 * subscribe / unsubscribe. Email: the global email subscription state, POST /email/status, one email per
 * request (the spec types `email` as one address). SMS: the subscription group named by the
 * `smsSubscriptionGroupId` setting, POST /v2/subscription/status/set, all the batch's sms items in one request.
 */

export type SubscriptionDirection = 'subscribe' | 'unsubscribe';

export interface EmailStatusBody {
  email: string;
  subscription_state: 'opted_in' | 'unsubscribed';
}

export interface SubscriptionStatusSetBody {
  subscription_groups: {
    subscription_group_id: string;
    subscription_state: 'subscribed' | 'unsubscribed';
    external_ids: string[];
  }[];
}

export function buildEmailStatusBody(email: string, direction: SubscriptionDirection): EmailStatusBody {
  return { email, subscription_state: direction === 'subscribe' ? 'opted_in' : 'unsubscribed' };
}

export function buildSubscriptionStatusSetBody(
  groupId: string,
  items: SubscriptionChange[],
  direction: SubscriptionDirection,
): SubscriptionStatusSetBody {
  return {
    subscription_groups: [
      {
        subscription_group_id: groupId,
        subscription_state: direction === 'subscribe' ? 'subscribed' : 'unsubscribed',
        external_ids: items.map((item) => item.customerId),
      },
    ],
  };
}

/** Requests one `perform` makes for `items`: one per email item, one for all sms items. */
export function subscriptionRequestCost(items: SubscriptionChange[]): number {
  const emails = items.filter((item) => item.channel === 'email').length;
  return Math.max(1, emails + (items.some((item) => item.channel === 'sms') ? 1 : 0));
}

export const MISSING_SMS_GROUP_REASON =
  'SMS subscriptions need the smsSubscriptionGroupId setting (the Braze SMS subscription group id)';

/** Sets each item's subscription; auth errors are thrown (the pipeline pauses), other failures stay per item. */
export async function setSubscriptions(
  http: DestinationHttpClient,
  items: SubscriptionChange[],
  direction: SubscriptionDirection,
  smsSubscriptionGroupId: string | undefined,
): Promise<BatchResult> {
  const results: ItemResult[] = items.map(() => ({ status: 'ok' }));
  const sms: number[] = [];
  for (const [index, item] of items.entries()) {
    if (item.channel === 'sms') {
      sms.push(index);
      continue;
    }
    if (item.email === undefined || item.email === '') {
      results[index] = { status: 'rejected', reason: `No email address for customer ${item.customerId}` };
      continue;
    }
    results[index] = await settleItemRequest(() =>
      http.post(BRAZE_ENDPOINTS.emailStatus.path, buildEmailStatusBody(item.email as string, direction)),
    );
  }
  if (sms.length > 0) {
    const smsItems = sms.map((index) => items[index] as SubscriptionChange);
    const result: ItemResult =
      smsSubscriptionGroupId === undefined
        ? { status: 'rejected', reason: MISSING_SMS_GROUP_REASON }
        : await settleItemRequest(() =>
            http.post(
              BRAZE_ENDPOINTS.subscriptionStatusSet.path,
              buildSubscriptionStatusSetBody(smsSubscriptionGroupId, smsItems, direction),
            ),
          );
    for (const index of sms) results[index] = { ...result };
  }
  return results;
}
