import type { InboundPoll, InboundUnsubscribe, OperationContext } from '@tessera/destination-kit';
import type { KlaviyoSettings } from '../klaviyo-settings';
import { queryProfiles } from '../requests/profile-query.request';

/** The first poll looks back this far (Klaviyo has no "since the beginning" cheaper than a full scan). */
export const FIRST_POLL_LOOKBACK_MS = 24 * 60 * 60_000;

/**
 * Reads the profiles Klaviyo changed since `cursor` (an ISO time) with their subscriptions and reports those
 * that are unsubscribed or suppressed. The next cursor is the latest `updated` seen, so nothing is missed
 * and a profile is reported again only if it changes again (the ledger dedups by event id).
 */
export async function pollUnsubscribes(
  cursor: string | undefined,
  { http, clock }: OperationContext<KlaviyoSettings>,
): Promise<InboundPoll> {
  const since = cursor ?? new Date(clock.now() - FIRST_POLL_LOOKBACK_MS).toISOString();
  const profiles = await queryProfiles(http, `greater-than(updated,${since})`, { subscriptions: true });
  // Compare as instants: Klaviyo writes `+00:00` where toISOString writes `Z`.
  let latestMs = Date.parse(since);
  let latest = since;
  const changes: InboundUnsubscribe[] = [];
  for (const profile of profiles) {
    const { attributes } = profile;
    const updated = attributes.updated ?? since;
    const updatedMs = Date.parse(updated);
    if (updatedMs > latestMs) {
      latestMs = updatedMs;
      latest = updated;
    }
    const base = {
      ...(typeof attributes.email === 'string' ? { email: attributes.email } : {}),
      ...(typeof attributes.phone_number === 'string' ? { phone: attributes.phone_number } : {}),
      ...(typeof attributes.external_id === 'string' ? { customerId: attributes.external_id } : {}),
    };
    const email = attributes.subscriptions?.email?.marketing;
    const suppression = email?.suppression ?? [];
    if (suppression.length > 0) {
      const at = suppression[suppression.length - 1]?.timestamp ?? updated;
      changes.push({
        eventId: `${profile.id}:email:suppressed:${at}`,
        channel: 'email',
        change: 'suppressed',
        occurredAt: at,
        ...base,
      });
    } else if (email?.consent === 'UNSUBSCRIBED') {
      const at = email.consent_timestamp ?? updated;
      changes.push({
        eventId: `${profile.id}:email:unsubscribed:${at}`,
        channel: 'email',
        change: 'unsubscribed',
        occurredAt: at,
        ...base,
      });
    }
    const sms = attributes.subscriptions?.sms?.marketing;
    if (sms?.consent === 'UNSUBSCRIBED') {
      const at = sms.consent_timestamp ?? updated;
      changes.push({
        eventId: `${profile.id}:sms:unsubscribed:${at}`,
        channel: 'sms',
        change: 'unsubscribed',
        occurredAt: at,
        ...base,
      });
    }
  }
  return { changes, cursor: latest };
}
