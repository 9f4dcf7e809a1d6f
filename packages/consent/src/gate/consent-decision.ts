import { OPERATION_NAMES, type OperationName } from '@tessera/destination-kit';
import type { ConsentChannel, ConsentState } from '../consent-contract';

/**
 * What the gate answers for one contact point, brand, channel and purpose: whether the member's record may
 * be synced to the brand's ESPs, the subscription state it must carry there, whether operations that make
 * the ESP send a message may run, and the destination operations allowed.
 *
 * Verdicts are shared, frozen singletons (one per outcome), so callers may compare them by identity and the
 * warm-cache path allocates nothing.
 */
export interface ConsentVerdict {
  /** The member's record (profile, attributes, segment removals) may be synced. */
  readonly syncRecord: boolean;
  /** The subscription state at the ESP: subscribed only with a grant. */
  readonly subscribed: boolean;
  /** Operations that can make the ESP send a message (`subscribe`, `addToSegment`) may run. */
  readonly triggerMessages: boolean;
  readonly allowedOperations: ReadonlySet<OperationName>;
  /** Why, in words fit for a log line or a refusal. */
  readonly reason: string;
}

export interface ConsentDecisionInput {
  /** The current states of this contact point (for this brand; states of another scope are ignored). */
  states: readonly ConsentState[];
  /** The contact point is on the suppression list for this brand or for every brand (`'*'`). */
  suppressed: boolean;
  channel: ConsentChannel;
  purpose: string;
  /** When given, states of any other brand are ignored (a grant never carries across brands). */
  brand?: string;
}

/**
 * Operations that can make the ESP send a message to the contact point. `subscribe` sends welcome and
 * double-opt-in mail; `addToSegment` is a list add in Klaviyo-like ESPs, which starts list-triggered flows.
 * Both require a grant.
 */
export const MESSAGE_TRIGGERING_OPERATIONS: ReadonlySet<OperationName> = new Set<OperationName>([
  'subscribe',
  'addToSegment',
]);

/** The only calls a suppressed contact point may be the subject of. */
export const SUPPRESSION_OPERATIONS: ReadonlySet<OperationName> = new Set<OperationName>([
  'suppress',
  'unsubscribe',
  'deleteProfiles',
]);

/** Soft opt-in is the PECR/ePrivacy exception for electronic mail (email and text messages) only. */
const SOFT_OPT_IN_CHANNELS: ReadonlySet<ConsentChannel> = new Set<ConsentChannel>(['email', 'sms']);

const ALL_OPERATIONS: readonly OperationName[] = OPERATION_NAMES;

/**
 * Without a grant: the member record (upsert, attributes, segment removals, reads for reconciliation),
 * unsubscribing, suppression and deletion. Never `subscribe`, `addToSegment` (message-triggering) nor
 * `unsuppress` (it would make the contact point reachable again).
 */
const RECORD_ONLY_OPERATIONS: readonly OperationName[] = ALL_OPERATIONS.filter(
  (operation) => !MESSAGE_TRIGGERING_OPERATIONS.has(operation) && operation !== 'unsuppress',
);

function verdict(
  syncRecord: boolean,
  subscribed: boolean,
  triggerMessages: boolean,
  operations: readonly OperationName[],
  reason: string,
): ConsentVerdict {
  return Object.freeze({
    syncRecord,
    subscribed,
    triggerMessages,
    allowedOperations: new Set(operations) as ReadonlySet<OperationName>,
    reason,
  });
}

/** Every verdict the gate can give. */
export const CONSENT_VERDICTS = Object.freeze({
  suppressed: verdict(
    false,
    false,
    false,
    [...SUPPRESSION_OPERATIONS],
    'suppressed: suppression and deletion calls only',
  ),
  grantedConsent: verdict(true, true, true, ALL_OPERATIONS, 'granted (consent)'),
  grantedSoftOptIn: verdict(true, true, true, ALL_OPERATIONS, 'granted (soft opt-in)'),
  legitimateInterest: verdict(
    true,
    false,
    false,
    RECORD_ONLY_OPERATIONS,
    'legitimate interest: member record only, not subscribed',
  ),
  softOptInOffChannel: verdict(
    true,
    false,
    false,
    RECORD_ONLY_OPERATIONS,
    'soft opt-in does not cover this channel: member record only, not subscribed',
  ),
  withdrawn: verdict(
    true,
    false,
    false,
    RECORD_ONLY_OPERATIONS,
    'withdrawn: member record only, unsubscribed',
  ),
  noRecord: verdict(
    true,
    false,
    false,
    RECORD_ONLY_OPERATIONS,
    'no consent record (fail closed): member record only, not subscribed',
  ),
});

/**
 * The state that decides a scope: the latest captured; at equal times a withdrawal wins (as in the ledger's
 * fold), then ledger order.
 */
function isLater(candidate: ConsentState, current: ConsentState): boolean {
  if (candidate.capturedAt !== current.capturedAt) {
    const candidateAt = Date.parse(candidate.capturedAt);
    const currentAt = Date.parse(current.capturedAt);
    if (candidateAt !== currentAt) return candidateAt > currentAt;
  }
  if (candidate.decision !== current.decision) return candidate.decision === 'withdrawn';
  return candidate.ledgerId > current.ledgerId;
}

/**
 * The consent gate's rule, pure. Suppression wins over everything; then the latest state for exactly this
 * channel and purpose (and brand, when given) decides:
 *
 * - granted under `consent`, or under `soft_opt_in` on email or SMS → synced, subscribed, messages allowed;
 * - granted under `legitimate_interest` → the member record is synced, but not subscribed and no
 *   message-triggering operation (legitimate interest is no basis for electronic marketing);
 * - withdrawn (any opt-out, whatever the basis of the grant it withdraws) → record synced, unsubscribed;
 * - no state at all → record synced, not subscribed, nothing message-triggering (fail closed).
 */
export function decideConsent(input: ConsentDecisionInput): ConsentVerdict {
  if (input.suppressed) return CONSENT_VERDICTS.suppressed;
  const deciding = decidingState(input);
  if (deciding === undefined) return CONSENT_VERDICTS.noRecord;
  if (deciding.decision === 'withdrawn') return CONSENT_VERDICTS.withdrawn;
  switch (deciding.legalBasis) {
    case 'consent':
      return CONSENT_VERDICTS.grantedConsent;
    case 'soft_opt_in':
      return SOFT_OPT_IN_CHANNELS.has(input.channel)
        ? CONSENT_VERDICTS.grantedSoftOptIn
        : CONSENT_VERDICTS.softOptInOffChannel;
    case 'legitimate_interest':
      return CONSENT_VERDICTS.legitimateInterest;
    default:
      // An unknown basis read from the store: fail closed.
      return CONSENT_VERDICTS.noRecord;
  }
}

/**
 * The ledger state that decides the scope (suppression aside): the latest for exactly this channel and purpose
 * (and brand, when given). Its `capturedAt` is the consent's time an ESP records beside a subscription.
 */
export function decidingState(
  input: Pick<ConsentDecisionInput, 'states' | 'channel' | 'purpose' | 'brand'>,
): ConsentState | undefined {
  let deciding: ConsentState | undefined;
  for (const state of input.states) {
    const scope = state.scope;
    if (scope.channel !== input.channel || scope.purpose !== input.purpose) continue;
    if (input.brand !== undefined && scope.brand !== input.brand) continue;
    if (deciding === undefined || isLater(state, deciding)) deciding = state;
  }
  return deciding;
}

/** The operations a verdict allows. */
export function allowedOperations(verdict: ConsentVerdict): ReadonlySet<OperationName> {
  return verdict.allowedOperations;
}

export interface RefusedOperation<T> {
  item: T;
  operation: OperationName;
  reason: string;
}

export interface FilteredOperations<T> {
  kept: T[];
  refused: RefusedOperation<T>[];
}

type OperationItem = OperationName | { operation: OperationName };

const operationOf = (item: OperationItem): OperationName =>
  typeof item === 'string' ? item : item.operation;

/**
 * Splits operations (names, or anything carrying an `operation` name) into those the verdict allows and those
 * it refuses, each refusal with its reason. Order is kept.
 */
export function filterOperations<T extends OperationItem>(
  items: readonly T[],
  verdict: ConsentVerdict,
): FilteredOperations<T> {
  const kept: T[] = [];
  const refused: RefusedOperation<T>[] = [];
  for (const item of items) {
    const operation = operationOf(item);
    if (verdict.allowedOperations.has(operation)) kept.push(item);
    else refused.push({ item, operation, reason: `${operation} refused: ${verdict.reason}` });
  }
  return { kept, refused };
}
