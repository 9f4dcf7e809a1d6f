/*
 * The form bodies Mailchimp's list webhooks POST (`type`, `fired_at` and `data[…]` fields, URL-encoded), for
 * the emulator to hand back when it plays the member's side (an unsubscribe link, a bounce).
 */

/** Mailchimp's time format in webhooks: `YYYY-MM-DD HH:MM:SS` (UTC). */
export function mailchimpWebhookTime(atMs: number): string {
  return new Date(atMs).toISOString().slice(0, 19).replace('T', ' ');
}

/** `data[merges][TAG]` entries for a member's text and number merge fields. */
export function mergeEntries(mergeFields: Record<string, unknown>): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const [tag, value] of Object.entries(mergeFields)) {
    if (typeof value === 'string' || typeof value === 'number') entries[`merges][${tag}`] = String(value);
  }
  return entries;
}

/** The form body of a Mailchimp list webhook. */
export function listWebhookBody(type: string, atMs: number, data: Record<string, string>): Buffer {
  const form = new URLSearchParams({ type, fired_at: mailchimpWebhookTime(atMs) });
  for (const [name, value] of Object.entries(data)) form.append(`data[${name}]`, value);
  return Buffer.from(form.toString(), 'utf8');
}
