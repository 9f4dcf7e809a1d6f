import { CONSENT_VERDICTS, SUPPRESSION_OPERATIONS, type ConsentVerdict } from '@tessera/consent';
import type { ConsentState } from '@tessera/consent';
import type {
  OperationName,
  ProfileUpsert,
  SubscriptionChange,
  WithoutGrantPolicy,
} from '@tessera/destination-kit';
import type { CatalogEvent, ConsentChangedData } from '@tessera/events';
import type { DestinationOperation } from '@tessera/transform';

/** The member's email marketing consent at the routed brand, as the ledger holds it now. */
export type MemberConsent = 'granted' | 'withdrawn' | 'no_record' | 'not_granted' | 'suppressed';

/** What the policy did to one event's operations for one destination (the mapping preview shows it). */
export interface GrantPolicyReport {
  customerId: string;
  /** The destination's `withoutGrant` setting. */
  policy: WithoutGrantPolicy;
  consent: MemberConsent;
  /** What the member is sent as: `full` with a grant (or under `full`), else the policy. */
  sent: WithoutGrantPolicy;
  /** Attributes left out of record writes, and operations dropped (`operation:<name>`), sorted. */
  leftOut: string[];
  /** The subscription state the ESP is told to hold (never_subscribed: nothing is sent about it). */
  subscription: 'subscribed' | 'unsubscribed' | 'never_subscribed';
}

export interface GrantPolicyInput {
  /** What the rules and plugins produced for one event (and the route stage's own merge), in order. */
  operations: readonly DestinationOperation[];
  policy: WithoutGrantPolicy;
  /** The member's email verdict and the ledger state that decided it; undefined without an email. */
  email: { verdict: ConsentVerdict; state?: ConsentState } | undefined;
  profile: { customerId: string; email?: string; phone?: string };
  event: CatalogEvent;
  /** The destination's brand. */
  brand: string;
  /** The operations the destination declares: no subscription change is added where it has none. */
  supports?: ReadonlySet<OperationName>;
}

/** Record writes: they carry the member's attributes. */
const RECORD_WRITES = new Set(['upsertProfiles', 'updateAttributes']);

function consentOf(email: GrantPolicyInput['email']): MemberConsent {
  const verdict = email?.verdict ?? CONSENT_VERDICTS.noRecord;
  if (verdict === CONSENT_VERDICTS.suppressed) return 'suppressed';
  if (verdict.subscribed) return 'granted';
  if (verdict === CONSENT_VERDICTS.withdrawn) return 'withdrawn';
  if (verdict === CONSENT_VERDICTS.noRecord) return 'no_record';
  return 'not_granted';
}

const isEmailSubscription = (operation: DestinationOperation): boolean =>
  (operation.operation === 'subscribe' || operation.operation === 'unsubscribe') &&
  operation.item.channel === 'email';

/**
 * The consent policy of one destination, applied after rules and plugins so that none of them bypasses it:
 *
 * - without an email marketing grant at the brand, record writes follow the destination's `withoutGrant`:
 *   `minimal` keeps the member's identifiers (customer id, email, phone) and drops every attribute; `none`
 *   sends nothing but unsubscribes, suppressions and deletions; `full` sends what was produced;
 * - the email subscription state at the ESP mirrors the ledger, whatever the plugins do: a grant → subscribed
 *   (stamped with the consent's time), a withdrawal → unsubscribed, no record → nothing (never subscribed).
 *   It is sent with every record write and on the brand's `consent.changed` (the deliver stage's change-only
 *   writes skip what the ESP holds already); a plugin's email (un)subscribe the ledger contradicts is dropped.
 */
export function applyGrantPolicy(input: GrantPolicyInput): {
  operations: DestinationOperation[];
  report: GrantPolicyReport;
} {
  const consent = consentOf(input.email);
  const granted = consent === 'granted';
  const sent: WithoutGrantPolicy = granted ? 'full' : input.policy;
  const leftOut = new Set<string>();
  const subscription =
    consent === 'granted' ? 'subscribed' : consent === 'withdrawn' ? 'unsubscribed' : 'never_subscribed';

  const kept: DestinationOperation[] = [];
  let recordSent = false;
  for (const operation of input.operations) {
    if (isEmailSubscription(operation)) {
      // The ledger decides: a plugin's contrary (or stale) subscription change is not sent.
      const agrees =
        (operation.operation === 'subscribe' && subscription === 'subscribed') ||
        (operation.operation === 'unsubscribe' && subscription === 'unsubscribed');
      if (!agrees && consent !== 'suppressed') {
        leftOut.add(`operation:${operation.operation}`);
        continue;
      }
    }
    if (sent === 'none' && !SUPPRESSION_OPERATIONS.has(operation.operation)) {
      leftOut.add(`operation:${operation.operation}`);
      continue;
    }
    if (sent === 'minimal' && RECORD_WRITES.has(operation.operation)) {
      const item = operation.item as ProfileUpsert;
      for (const name of Object.keys(item.attributes)) leftOut.add(name);
      // One identifiers-only record per event is enough; an attribute update left empty says nothing.
      if (operation.operation === 'updateAttributes' || recordSent) continue;
      kept.push({ operation: 'upsertProfiles', item: { ...item, attributes: {} } });
      recordSent = true;
      continue;
    }
    if (RECORD_WRITES.has(operation.operation)) recordSent = true;
    kept.push(operation);
  }

  const wanted = subscriptionChange(input, subscription, recordSent);
  if (wanted !== undefined && !kept.some((operation) => isEmailSubscription(operation))) kept.push(wanted);

  return {
    operations: kept,
    report: {
      customerId: input.profile.customerId,
      policy: input.policy,
      consent,
      sent,
      leftOut: [...leftOut].sort(),
      subscription,
    },
  };
}

/** The email subscription change the ledger asks for with this event, if any. */
function subscriptionChange(
  input: GrantPolicyInput,
  subscription: GrantPolicyReport['subscription'],
  recordSent: boolean,
): DestinationOperation | undefined {
  if (subscription === 'never_subscribed' || input.profile.email === undefined) return undefined;
  const operation = subscription === 'subscribed' ? 'subscribe' : 'unsubscribe';
  if (input.supports !== undefined && !input.supports.has(operation)) return undefined;
  const data = input.event.data as Partial<ConsentChangedData>;
  const consentEvent =
    input.event.type === 'consent.changed' && data.brand === input.brand && data.channel === 'email';
  if (!consentEvent && !recordSent) return undefined;
  const capturedAt = input.email?.state?.capturedAt;
  const item: SubscriptionChange = {
    customerId: input.profile.customerId,
    channel: 'email',
    email: input.profile.email,
    ...(capturedAt === undefined ? {} : { changedAt: new Date(capturedAt).toISOString() }),
  };
  return { operation, item };
}
