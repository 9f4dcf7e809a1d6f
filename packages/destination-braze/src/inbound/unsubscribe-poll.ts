import type { InboundPoll, InboundUnsubscribe, OperationContext } from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS } from '../braze-endpoints';

/*
 * Braze has no signed unsubscribe webhook, so opt-outs are polled from GET /email/unsubscribes. Its dates
 * are whole UTC days (`YYYY-MM-DD`, midnight), so the cursor is a day: each poll reads from the cursor to
 * tomorrow and hands back yesterday as the next cursor. Days overlap on purpose (late-recorded opt-outs are
 * not missed); event ids are stable, so the consent ledger drops what it has already seen.
 */

const DAY_MS = 24 * 60 * 60_000;
/** Safety stop for paging (500 × 200 = 100,000 opt-outs per poll); the next poll continues. */
export const MAX_POLL_PAGES = 200;

export interface EmailUnsubscribesResponse {
  emails?: { email: string; unsubscribed_at: string }[];
  message?: string;
}

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Braze writes `2016-08-25 15:24:32 +0000`; the ledger wants ISO-8601. */
export function brazeTimeToIso(value: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s*(Z|[+-]\d{2}:?\d{2})?$/.exec(
    value.trim(),
  );
  if (match === null) return value;
  const zone = match[3] ?? 'Z';
  const offset = zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  return new Date(`${match[1]}T${match[2]}${offset}`).toISOString();
}

export async function pollEmailUnsubscribes(
  cursor: string | undefined,
  { http, clock }: OperationContext<unknown>,
): Promise<InboundPoll> {
  const now = clock.now();
  const startDate = cursor !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(cursor) ? cursor : day(now - DAY_MS);
  const endDate = day(now + DAY_MS);
  const limit = BRAZE_ENDPOINTS.emailUnsubscribes.maxPerRequest;
  const changes: InboundUnsubscribe[] = [];
  for (let page = 0; page < MAX_POLL_PAGES; page++) {
    const response = await http.get<EmailUnsubscribesResponse>(BRAZE_ENDPOINTS.emailUnsubscribes.path, {
      query: {
        start_date: startDate,
        end_date: endDate,
        limit,
        offset: page * limit,
        sort_direction: 'asc',
      },
    });
    const emails = response.body?.emails ?? [];
    for (const entry of emails) {
      const occurredAt = brazeTimeToIso(entry.unsubscribed_at);
      changes.push({
        eventId: `braze:email:unsubscribed:${entry.email.toLowerCase()}:${occurredAt}`,
        channel: 'email',
        change: 'unsubscribed',
        email: entry.email,
        occurredAt,
      });
    }
    if (emails.length < limit) break;
  }
  const next = day(now - DAY_MS);
  return { changes, cursor: next < startDate ? startDate : next };
}
