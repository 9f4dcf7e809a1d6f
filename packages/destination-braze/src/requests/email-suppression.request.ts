import type { BatchResult, DestinationHttpClient, ItemResult, ProfileRef } from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS } from '../braze-endpoints';
import { chunk, emailField, isEmailAddress } from './email-addresses';

/*
 * suppress / unsuppress. Braze's suppression is its email blocklist: POST /email/blocklist (≤ 50 emails)
 * unsubscribes the address and marks it hard-bounced. Braze has no un-blocklist call; the nearest correct
 * reversal is POST /email/bounce/remove (≤ 50 emails), which lifts the hard bounce. The address stays
 * unsubscribed: only a consent grant (the `subscribe` operation) subscribes it again. The spam list
 * (/email/spam/remove) is left alone: Tessera never puts an address there, a member's complaint does.
 * Each is one request per batch; a refused request throws, and the runner halves the batch to find the item.
 */

export const NO_EMAIL_REASON = (customerId: string): string =>
  `No email address for customer ${customerId} (Braze suppresses email addresses)`;

export const INVALID_EMAIL_REASON = (email: string): string =>
  `Braze takes only email addresses in its email lists; ${JSON.stringify(email)} is not one`;

export interface EmailBlocklistBody {
  email: string[];
}

/** /email/bounce/remove takes one address as a string or up to 50 in an array. */
export interface EmailBounceRemoveBody {
  email: string | string[];
}

export function buildEmailBlocklistBody(emails: readonly string[]): EmailBlocklistBody {
  return { email: [...emails] };
}

export function buildEmailBounceRemoveBody(emails: readonly string[]): EmailBounceRemoveBody {
  return { email: emailField(emails) };
}

export async function blocklistEmails(
  http: DestinationHttpClient,
  items: ProfileRef[],
): Promise<BatchResult> {
  return sendEmailLists(items, BRAZE_ENDPOINTS.emailBlocklist.maxPerRequest, (emails) =>
    http.post(BRAZE_ENDPOINTS.emailBlocklist.path, buildEmailBlocklistBody(emails)),
  );
}

export async function removeHardBounces(
  http: DestinationHttpClient,
  items: ProfileRef[],
): Promise<BatchResult> {
  return sendEmailLists(items, BRAZE_ENDPOINTS.emailBounceRemove.maxPerRequest, (emails) =>
    http.post(BRAZE_ENDPOINTS.emailBounceRemove.path, buildEmailBounceRemoveBody(emails)),
  );
}

/** Items without a usable address are rejected; the distinct addresses of the rest go `max` per request. */
async function sendEmailLists(
  items: ProfileRef[],
  max: number,
  send: (emails: string[]) => Promise<unknown>,
): Promise<BatchResult> {
  const results: ItemResult[] = items.map((item) => {
    if (item.email === undefined || item.email === '') {
      return { status: 'rejected', reason: NO_EMAIL_REASON(item.customerId) };
    }
    if (!isEmailAddress(item.email)) return { status: 'rejected', reason: INVALID_EMAIL_REASON(item.email) };
    return { status: 'ok' };
  });
  const emails = [
    ...new Set(
      items.filter((_, index) => results[index]?.status === 'ok').map((item) => item.email as string),
    ),
  ];
  for (const group of chunk(emails, max)) await send(group);
  return results;
}
