import type { DestinationOperation } from '@tessera/transform';
import type { InboundUnsubscribe } from '@tessera/destination-kit';
import type { ConsentChannel, ConsentEntry, ConsentState } from '../consent-contract';
import {
  entriesFromInboundUnsubscribes,
  inboundDedupeKey,
  type InboundContext,
} from '../ledger/consent-entries.mapper';
import type { SuppressionInput } from '../ledger/suppression-list.repository';

/** An operation for one of the brand's destinations. */
export interface RoutedOperation {
  destinationId: string;
  operation: DestinationOperation;
  /** The reporting ESP's event that caused it (`InboundUnsubscribe.eventId`): the delivery log's origin. */
  espEventId: string;
}

export interface UnsubscribePlan {
  /** Ledger entries (withdrawals), deduplicated by the ESP's event id when appended. */
  entries: ConsentEntry[];
  /** ESP suppressions (spam complaints, hard bounces) for the brand's suppression list. */
  suppressions: SuppressionInput[];
  /** What carries the opt-out to the brand's other destinations. */
  operations: RoutedOperation[];
  /** Changes whose customer id is unknown: the pipeline resolves them through the identity graph first. */
  unresolved: InboundUnsubscribe[];
}

/**
 * Two-way unsubscribe sync, ledger side: what one destination reported becomes withdrawals in the ledger (and
 * suppressions, for ESP suppressions), and `unsubscribe` / `suppress` operations for every other destination
 * of the brand, so that an opt-out in Klaviyo is an opt-out in Braze too. The reporting destination is not
 * told again.
 */
export function planInboundUnsubscribes(
  changes: readonly InboundUnsubscribe[],
  context: InboundContext & {
    /** Every destination of the brand (the reporting one included or not). */
    brandDestinations: readonly string[];
  },
): UnsubscribePlan {
  const entries = entriesFromInboundUnsubscribes(changes, context);
  const byEvent = new Map(entries.map((entry) => [entry.dedupeKey, entry]));
  const suppressions: SuppressionInput[] = [];
  const operations: RoutedOperation[] = [];
  const unresolved: InboundUnsubscribe[] = [];
  const others = context.brandDestinations.filter((id) => id !== context.destinationId);
  for (const change of changes) {
    const entry = byEvent.get(inboundDedupeKey(context.vault, context.destinationId, change.eventId));
    if (entry === undefined) continue; // its contact point did not normalize: nothing to record or carry
    if (change.change === 'suppressed') {
      suppressions.push({
        subjectType: entry.subject.type,
        subjectKey: entry.subject.key,
        brand: context.brand,
        reason: `esp:${context.destinationId}`,
      });
    }
    if (change.customerId === undefined) {
      unresolved.push(change);
      continue;
    }
    const contact = change.channel === 'email' ? { email: change.email } : { phone: change.phone };
    const defined = Object.fromEntries(Object.entries(contact).filter(([, value]) => value !== undefined));
    for (const destinationId of others) {
      operations.push({
        destinationId,
        espEventId: change.eventId,
        operation: {
          operation: 'unsubscribe',
          item: {
            customerId: change.customerId,
            channel: change.channel,
            changedAt: change.occurredAt,
            ...defined,
          },
        },
      });
      if (change.change === 'suppressed' && change.email !== undefined) {
        operations.push({
          destinationId,
          espEventId: change.eventId,
          operation: { operation: 'suppress', item: { customerId: change.customerId, email: change.email } },
        });
      }
    }
  }
  return { entries, suppressions, operations, unresolved };
}

/** Which contact point carries each channel's consent. */
const CHANNEL_SUBJECT: Record<ConsentChannel, 'email' | 'phone' | 'device'> = {
  email: 'email',
  sms: 'phone',
  mobile_push: 'device',
};

/**
 * A profile's `marketing_consent` for one brand, derived from the ledger's current states of its contact
 * points: per channel, the decision about the contact point that channel uses (email → its email, sms → its
 * phone, push → its devices, where any withdrawal wins). No state means no entry (and no consent).
 */
export function marketingConsent(
  states: readonly ConsentState[],
  /** Blind indexes of the profile's contact points. */
  subjectKeys: { email?: string; phone?: string; devices?: readonly string[] },
  brand: string,
  purpose = 'marketing',
): Partial<Record<ConsentChannel, 'granted' | 'withdrawn'>> {
  const consent: Partial<Record<ConsentChannel, 'granted' | 'withdrawn'>> = {};
  for (const channel of Object.keys(CHANNEL_SUBJECT) as ConsentChannel[]) {
    const keys =
      channel === 'email'
        ? [subjectKeys.email]
        : channel === 'sms'
          ? [subjectKeys.phone]
          : [...(subjectKeys.devices ?? [])];
    const decisions = states
      .filter(
        (state) =>
          state.scope.brand === brand &&
          state.scope.channel === channel &&
          state.scope.purpose === purpose &&
          state.subject.type === CHANNEL_SUBJECT[channel] &&
          keys.includes(state.subject.key),
      )
      .map((state) => state.decision);
    if (decisions.length > 0) consent[channel] = decisions.includes('withdrawn') ? 'withdrawn' : 'granted';
  }
  return consent;
}
