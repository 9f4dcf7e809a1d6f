import type {
  InboundPoll,
  InboundSubscribedSighting,
  InboundUnsubscribe,
  OperationContext,
} from '@tessera/destination-kit';
import type { KlaviyoSettings } from '../klaviyo-settings';
import { queryProfiles } from '../requests/profile-query.request';

/** The first poll looks back this far (Klaviyo has no "since the beginning" cheaper than a full scan). */
export const FIRST_POLL_LOOKBACK_MS = 24 * 60 * 60_000;

interface ChannelConsent {
  consent?: string;
  /** When consent was given: for an unsubscribed member Klaviyo may still hold the original grant's time. */
  consent_timestamp?: string | null;
  /** When a field of the channel's consent last changed: the change time of an opt-out. */
  last_updated?: string | null;
  suppression?: { reason?: string; timestamp?: string }[];
}

/**
 * Reads the profiles Klaviyo changed since `cursor` (an ISO time) with their subscriptions and reports those
 * that are unsubscribed or suppressed, and those it saw subscribed. The next cursor is the latest `updated`
 * seen, so nothing is missed and a profile is reported again only if it changes again (the ledger dedups by
 * event id).
 *
 * An opt-out's time is Klaviyo's change time: the suppression's `timestamp`, else the channel's `last_updated`
 * (`consent_timestamp` is the original consent's time and would sort a withdrawal before a later grant). When
 * Klaviyo gives none, the opt-out carries the time the poll observed it, marked `timeBasis: 'observed'`.
 */
export async function pollUnsubscribes(
  cursor: string | undefined,
  { http, clock }: OperationContext<KlaviyoSettings>,
): Promise<InboundPoll> {
  const observedAt = new Date(clock.now()).toISOString();
  const since = cursor ?? new Date(clock.now() - FIRST_POLL_LOOKBACK_MS).toISOString();
  const profiles = await queryProfiles(http, `greater-than(updated,${since})`, { subscriptions: true });
  // Compare as instants: Klaviyo writes `+00:00` where toISOString writes `Z`.
  let latestMs = Date.parse(since);
  let latest = since;
  const changes: InboundUnsubscribe[] = [];
  const subscribed: InboundSubscribedSighting[] = [];
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
    /** The change time, or the observation time (the event id then keys on `updated`, stable across polls). */
    const timed = (
      channel: 'email' | 'sms',
      change: InboundUnsubscribe['change'],
      at: string | undefined,
    ) => {
      const known = at !== undefined && !Number.isNaN(Date.parse(at));
      changes.push({
        eventId: known
          ? `${profile.id}:${channel}:${change}:${at}`
          : `${profile.id}:${channel}:${change}:observed:${updated}`,
        channel,
        change,
        occurredAt: known ? at : observedAt,
        ...(known ? {} : { timeBasis: 'observed' as const }),
        ...base,
      });
    };
    const email = attributes.subscriptions?.email?.marketing as ChannelConsent | undefined;
    const suppression = email?.suppression ?? [];
    if (suppression.length > 0) {
      timed(
        'email',
        'suppressed',
        suppression[suppression.length - 1]?.timestamp ?? orNone(email?.last_updated),
      );
    } else if (email?.consent === 'UNSUBSCRIBED') {
      timed('email', 'unsubscribed', orNone(email.last_updated));
    } else if (email?.consent === 'SUBSCRIBED') {
      subscribed.push({ channel: 'email', ...pick(base, 'email', 'customerId'), seenAt: observedAt });
    }
    const sms = attributes.subscriptions?.sms?.marketing as ChannelConsent | undefined;
    if (sms?.consent === 'UNSUBSCRIBED') {
      timed('sms', 'unsubscribed', orNone(sms.last_updated));
    } else if (sms?.consent === 'SUBSCRIBED') {
      subscribed.push({ channel: 'sms', ...pick(base, 'phone', 'customerId'), seenAt: observedAt });
    }
  }
  return { changes, subscribed, cursor: latest };
}

const orNone = (value: string | null | undefined): string | undefined => value ?? undefined;

function pick<T extends Record<string, string>>(value: T, ...keys: (keyof T)[]): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([key]) => keys.includes(key))) as Partial<T>;
}
