import {
  settleItemRequest,
  type BatchResult,
  type DestinationHttpClient,
  type ItemResult,
  type ProfileRef,
} from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS } from '../braze-endpoints';

/*
 * suppress / unsuppress. Braze's suppression is its email blocklist: POST /email/blocklist (≤ 50 emails)
 * unsubscribes the address and marks it hard-bounced. Braze has no un-blocklist call; the nearest correct
 * reversal is POST /email/bounce/remove (one address per request in the spec), which lifts the hard bounce.
 * The address stays unsubscribed: only a consent grant (the `subscribe` operation) subscribes it again.
 */

export const NO_EMAIL_REASON = (customerId: string): string =>
  `No email address for customer ${customerId} (Braze suppresses email addresses)`;

export interface EmailBlocklistBody {
  email: string[];
}

export function buildEmailBlocklistBody(emails: string[]): EmailBlocklistBody {
  return { email: emails };
}

/** Requests one unsuppress `perform` makes: one per item with an email. */
export function bounceRemoveRequestCost(items: ProfileRef[]): number {
  return Math.max(1, items.filter((item) => hasEmail(item)).length);
}

export async function blocklistEmails(
  http: DestinationHttpClient,
  items: ProfileRef[],
): Promise<BatchResult> {
  const results: ItemResult[] = items.map((item) =>
    hasEmail(item) ? { status: 'ok' } : { status: 'rejected', reason: NO_EMAIL_REASON(item.customerId) },
  );
  const emails = [...new Set(items.filter(hasEmail).map((item) => item.email))];
  if (emails.length > 0)
    await http.post(BRAZE_ENDPOINTS.emailBlocklist.path, buildEmailBlocklistBody(emails));
  return results;
}

export async function removeHardBounces(
  http: DestinationHttpClient,
  items: ProfileRef[],
): Promise<BatchResult> {
  const results: ItemResult[] = [];
  for (const item of items) {
    results.push(
      hasEmail(item)
        ? await settleItemRequest(() =>
            http.post(BRAZE_ENDPOINTS.emailBounceRemove.path, { email: item.email }),
          )
        : { status: 'rejected', reason: NO_EMAIL_REASON(item.customerId) },
    );
  }
  return results;
}

function hasEmail(item: ProfileRef): item is ProfileRef & { email: string } {
  return item.email !== undefined && item.email !== '';
}
