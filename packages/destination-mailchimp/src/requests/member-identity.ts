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
 * Where an item's member lives in the audience, or why it has none:
 * - `skipped`: the customer has no email, so the audience cannot hold them (counted, never retried);
 * - `rejected`: the email is not an address (bad data, worth a look), refused here so that it cannot fail the
 *   whole request.
 */
export type MemberAddress = { email: string; hash: string } | { skipped: string } | { rejected: string };

export function memberAddress(customerId: string, email: string | undefined): MemberAddress {
  if (email === undefined || email.trim() === '') {
    return { skipped: `Customer ${customerId} has no email address: Mailchimp audiences are keyed by email` };
  }
  const trimmed = email.trim();
  if (!EMAIL_SHAPE.test(trimmed)) {
    return { rejected: `Customer ${customerId}'s email ${JSON.stringify(email)} is not an address` };
  }
  return { email: trimmed, hash: subscriberHash(trimmed) };
}

/** The result of an item whose address cannot reach Mailchimp (see `memberAddress`), or undefined. */
export function unreachableResult(address: MemberAddress): ItemResult | undefined {
  if ('skipped' in address) return { status: 'skipped', reason: address.skipped };
  if ('rejected' in address) return { status: 'rejected', reason: address.rejected };
  return undefined;
}

/**
 * Runs `call` with each item's member hash, all at once under the connection cap; an item without a usable
 * address is settled without a call, and each failure settles onto its own item.
 */
export function settleEachMember(
  items: ProfileRef[],
  call: (hash: string, item: ProfileRef) => Promise<ItemResult>,
): Promise<BatchResult> {
  return settleEachItem(items, async (item) => {
    const address = memberAddress(item.customerId, item.email);
    if (!('hash' in address))
      return unreachableResult(address) ?? { status: 'rejected', reason: 'unreachable' };
    return call(address.hash, item);
  });
}
