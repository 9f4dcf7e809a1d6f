import { createHash } from 'node:crypto';
import { type BatchResult, type ItemResult, type ProfileRef, settleEachItem } from '@tessera/destination-kit';

/**
 * Mailchimp keys audience members by email: a member's id (the `subscriber_hash` of every member path) is the
 * MD5 hex of the lower-cased address. MD5 is Mailchimp's choice of key here, not a security measure.
 */
export function subscriberHash(email: string): string {
  return createHash('md5').update(normalizeEmail(email), 'utf8').digest('hex');
}

/** The form Mailchimp compares addresses in. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Why an item's address cannot reach Mailchimp, or undefined when it can. Refused here, not by Mailchimp: an
 * item without an address has no member to write, and a malformed one would fail the whole request.
 */
export function emailProblem(customerId: string, email: string | undefined): string | undefined {
  if (email === undefined || email.trim() === '') {
    return `Customer ${customerId} has no email address: Mailchimp audiences are keyed by email`;
  }
  if (!EMAIL_SHAPE.test(email.trim()))
    return `Customer ${customerId}'s email ${JSON.stringify(email)} is not an address`;
  return undefined;
}

/**
 * Runs `call` with each item's member hash, all at once under the connection cap; an item without a usable
 * address is rejected without a call, and each failure settles onto its own item.
 */
export function settleEachMember(
  items: ProfileRef[],
  call: (hash: string, item: ProfileRef) => Promise<ItemResult>,
): Promise<BatchResult> {
  return settleEachItem(items, async (item) => {
    const problem = emailProblem(item.customerId, item.email);
    if (problem !== undefined || item.email === undefined) {
      return { status: 'rejected', reason: problem ?? 'unreachable' };
    }
    return call(subscriberHash(item.email), item);
  });
}
