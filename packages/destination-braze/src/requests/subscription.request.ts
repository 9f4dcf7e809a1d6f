import {
  settleItemRequest,
  type BatchResult,
  type DestinationHttpClient,
  type ItemResult,
  type SubscriptionChange,
} from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS } from '../braze-endpoints';
import { chunk, emailField, isEmailAddress, settleInHalves } from './email-addresses';

/*
 * subscribe / unsubscribe. Email: the global email subscription state, POST /email/status, every email item of
 * the batch in one request (`email` as an array of up to 50 addresses, a string when there is one). SMS: the
 * subscription group named by the `smsSubscriptionGroupId` setting, POST /v2/subscription/status/set, up to 50
 * external ids in one request. A batch of mixed channels makes at most one request of each.
 */

export type SubscriptionDirection = 'subscribe' | 'unsubscribe';

export interface EmailStatusBody {
  email: string | string[];
  subscription_state: 'opted_in' | 'unsubscribed';
}

export interface SubscriptionStatusSetBody {
  subscription_groups: {
    subscription_group_id: string;
    subscription_state: 'subscribed' | 'unsubscribed';
    external_ids: string[];
  }[];
}

export function buildEmailStatusBody(
  emails: readonly string[],
  direction: SubscriptionDirection,
): EmailStatusBody {
  return {
    email: emailField(emails),
    subscription_state: direction === 'subscribe' ? 'opted_in' : 'unsubscribed',
  };
}

export function buildSubscriptionStatusSetBody(
  groupId: string,
  externalIds: readonly string[],
  direction: SubscriptionDirection,
): SubscriptionStatusSetBody {
  return {
    subscription_groups: [
      {
        subscription_group_id: groupId,
        subscription_state: direction === 'subscribe' ? 'subscribed' : 'unsubscribed',
        external_ids: [...externalIds],
      },
    ],
  };
}

export const MISSING_SMS_GROUP_REASON =
  'SMS subscriptions need the smsSubscriptionGroupId setting (the Braze SMS subscription group id)';

export const NOT_AN_EMAIL_REASON = (email: string): string =>
  `Braze takes only email addresses in /email/status; ${JSON.stringify(email)} is not one`;

/** Sets each item's subscription; auth errors are thrown (the pipeline pauses), other failures stay per item. */
export async function setSubscriptions(
  http: DestinationHttpClient,
  items: SubscriptionChange[],
  direction: SubscriptionDirection,
  smsSubscriptionGroupId: string | undefined,
): Promise<BatchResult> {
  const results: ItemResult[] = items.map(() => ({ status: 'ok' }));
  const byEmail = indexesBy(items, (item, index) => {
    if (item.channel !== 'email') return undefined;
    if (item.email === undefined || item.email === '') {
      results[index] = { status: 'rejected', reason: `No email address for customer ${item.customerId}` };
      return undefined;
    }
    if (!isEmailAddress(item.email)) {
      results[index] = { status: 'rejected', reason: NOT_AN_EMAIL_REASON(item.email) };
      return undefined;
    }
    return item.email;
  });
  const byExternalId = indexesBy(items, (item) => (item.channel === 'sms' ? item.customerId : undefined));

  for (const emails of chunk([...byEmail.keys()], BRAZE_ENDPOINTS.emailStatus.maxPerRequest)) {
    const settled = await settleInHalves(emails, (group) =>
      http.post(BRAZE_ENDPOINTS.emailStatus.path, buildEmailStatusBody(group, direction)),
    );
    emails.forEach((email, position) => fill(results, byEmail.get(email), settled[position]));
  }
  const externalIds = [...byExternalId.keys()];
  for (const ids of chunk(externalIds, BRAZE_ENDPOINTS.subscriptionStatusSet.maxPerRequest)) {
    const result: ItemResult =
      smsSubscriptionGroupId === undefined
        ? { status: 'rejected', reason: MISSING_SMS_GROUP_REASON }
        : await settleItemRequest(() =>
            http.post(
              BRAZE_ENDPOINTS.subscriptionStatusSet.path,
              buildSubscriptionStatusSetBody(smsSubscriptionGroupId, ids, direction),
            ),
          );
    for (const id of ids) fill(results, byExternalId.get(id), result);
  }
  return results;
}

/** Item indexes by the key `keyOf` gives them (undefined: the item takes no part), keys in first-seen order. */
function indexesBy<Item>(
  items: readonly Item[],
  keyOf: (item: Item, index: number) => string | undefined,
): Map<string, number[]> {
  const indexes = new Map<string, number[]>();
  items.forEach((item, index) => {
    const key = keyOf(item, index);
    if (key === undefined) return;
    const list = indexes.get(key);
    if (list === undefined) indexes.set(key, [index]);
    else list.push(index);
  });
  return indexes;
}

function fill(results: ItemResult[], indexes: number[] | undefined, result: ItemResult | undefined): void {
  if (result === undefined) return;
  for (const index of indexes ?? []) results[index] = { ...result };
}
