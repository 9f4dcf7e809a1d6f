import { settleItemRequest, type ItemResult } from '@tessera/destination-kit';

/*
 * Braze's email endpoints (/email/status, /email/blocklist, /email/bounce/remove) take `email` as one address
 * or an array of up to 50. One malformed address fails the whole request, so the destination checks each item's
 * address first and rejects only that item; the emulator refuses the same addresses Braze would.
 */

const EMAIL_ADDRESS = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function isEmailAddress(value: unknown): value is string {
  return typeof value === 'string' && EMAIL_ADDRESS.test(value);
}

/** `email` in its documented forms: a single address as a string, several as an array. */
export function emailField(emails: readonly string[]): string | string[] {
  return emails.length === 1 ? (emails[0] as string) : [...emails];
}

/** Splits `values` into runs of at most `size`, in order. */
export function chunk<T>(values: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < values.length; start += size) chunks.push(values.slice(start, start + size));
  return chunks;
}

/**
 * Sends `values` in one request through `send`; when Braze refuses it (a 4xx other than auth) and it holds more
 * than one value, sends each half again, so one address Braze refuses does not sink the other 49. Retries and
 * successes apply to the whole group. Results are in the order of `values`.
 */
export async function settleInHalves<T>(
  values: readonly T[],
  send: (group: readonly T[]) => Promise<unknown>,
): Promise<ItemResult[]> {
  const result = await settleItemRequest(() => send(values));
  if (result.status !== 'rejected' || values.length === 1) return values.map(() => ({ ...result }));
  const middle = Math.ceil(values.length / 2);
  return [
    ...(await settleInHalves(values.slice(0, middle), send)),
    ...(await settleInHalves(values.slice(middle), send)),
  ];
}
