import type {
  BatchResult,
  ItemResult,
  OperationContext,
  ProfileRef,
  SubscriptionChange,
} from '@tessera/destination-kit';
import { KLAVIYO_ENDPOINTS } from '../klaviyo-endpoints';
import type { KlaviyoSettings } from '../klaviyo-settings';

type Consent = 'SUBSCRIBED' | 'UNSUBSCRIBED';

interface SubscriptionProfile {
  type: 'profile';
  attributes: {
    email?: string;
    phone_number?: string;
    subscriptions: Record<string, { marketing: { consent: Consent; consented_at?: string } }>;
  };
}

/** Items without the contact point their channel needs are rejected; the others become job profiles. */
function subscriptionProfiles(
  items: SubscriptionChange[],
  consent: Consent,
): { profiles: SubscriptionProfile[]; results: (ItemResult | undefined)[] } {
  const results: (ItemResult | undefined)[] = [];
  const profiles: SubscriptionProfile[] = [];
  for (const item of items) {
    const contact = item.channel === 'email' ? item.email : item.phone;
    if (contact === undefined) {
      results.push({
        status: 'rejected',
        reason: `A ${item.channel} subscription needs the profile's ${item.channel === 'email' ? 'email' : 'phone number'}`,
      });
      continue;
    }
    const marketing: { consent: Consent; consented_at?: string } = { consent };
    // Klaviyo takes consented_at only for historical subscribe imports; a live change is stamped by Klaviyo.
    if (consent === 'SUBSCRIBED' && item.changedAt !== undefined) marketing.consented_at = item.changedAt;
    profiles.push({
      type: 'profile',
      attributes: {
        ...(item.channel === 'email' ? { email: contact } : { phone_number: contact }),
        subscriptions: { [item.channel]: { marketing } },
      },
    });
    results.push(undefined);
  }
  return { profiles, results };
}

function settle(results: (ItemResult | undefined)[]): BatchResult {
  return results.map((result) => result ?? { status: 'ok' });
}

/** Subscribes to email or SMS marketing through one bulk subscribe job (≤ 1,000 profiles). */
export async function subscribeProfiles(
  items: SubscriptionChange[],
  { http, settings }: OperationContext<KlaviyoSettings>,
): Promise<BatchResult> {
  const { profiles, results } = subscriptionProfiles(items, 'SUBSCRIBED');
  if (profiles.length > 0) {
    await http.post(KLAVIYO_ENDPOINTS.subscribe.path, {
      data: {
        type: 'profile-subscription-bulk-create-job',
        attributes: { custom_source: 'Tessera consent ledger', profiles: { data: profiles } },
        ...(settings.subscriptionListId === undefined
          ? {}
          : { relationships: { list: { data: { type: 'list', id: settings.subscriptionListId } } } }),
      },
    });
  }
  return settle(results);
}

/** Unsubscribes from email or SMS marketing through one bulk unsubscribe job (≤ 100 profiles). */
export async function unsubscribeProfiles(
  items: SubscriptionChange[],
  { http }: OperationContext<KlaviyoSettings>,
): Promise<BatchResult> {
  const { profiles, results } = subscriptionProfiles(items, 'UNSUBSCRIBED');
  if (profiles.length > 0) {
    await http.post(KLAVIYO_ENDPOINTS.unsubscribe.path, {
      data: { type: 'profile-subscription-bulk-delete-job', attributes: { profiles: { data: profiles } } },
    });
  }
  return settle(results);
}

/** Suppresses (or unsuppresses) emails through one bulk suppression job (≤ 100 profiles). */
export async function changeSuppression(
  suppress: boolean,
  items: ProfileRef[],
  { http }: OperationContext<KlaviyoSettings>,
): Promise<BatchResult> {
  const results: (ItemResult | undefined)[] = items.map((item) =>
    item.email === undefined
      ? { status: 'rejected', reason: 'Klaviyo suppresses by email address and the profile has none' }
      : undefined,
  );
  const emails = [...new Set(items.flatMap((item) => (item.email === undefined ? [] : [item.email])))];
  if (emails.length > 0) {
    const endpoint = suppress ? KLAVIYO_ENDPOINTS.suppress : KLAVIYO_ENDPOINTS.unsuppress;
    await http.post(endpoint.path, {
      data: {
        type: suppress ? 'profile-suppression-bulk-create-job' : 'profile-suppression-bulk-delete-job',
        attributes: {
          profiles: { data: emails.map((email) => ({ type: 'profile', attributes: { email } })) },
        },
      },
    });
  }
  return settle(results);
}
