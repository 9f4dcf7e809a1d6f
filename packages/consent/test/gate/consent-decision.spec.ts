import { OPERATION_NAMES, type OperationName } from '@tessera/destination-kit';
import type { ConsentChannel, ConsentState, LegalBasis } from '../../src/consent-contract';
import { CONSENT_VERDICTS, decideConsent, filterOperations, type ConsentVerdict } from '../../src/gate';

const ALL: OperationName[] = [...OPERATION_NAMES];
const RECORD_ONLY: OperationName[] = [
  'upsertProfiles',
  'updateAttributes',
  'removeFromSegment',
  'unsubscribe',
  'suppress',
  'deleteProfiles',
  'fetchProfiles',
  'mergeProfiles',
];

let ledgerId = 0;
function state(
  decision: 'granted' | 'withdrawn',
  legalBasis: LegalBasis,
  capturedAt: string,
  scope: { brand?: string; channel?: ConsentChannel; purpose?: string } = {},
): ConsentState {
  ledgerId += 1;
  return {
    subject: { type: 'email', key: 'bi:alice' },
    scope: {
      brand: scope.brand ?? 'sd',
      channel: scope.channel ?? 'email',
      purpose: scope.purpose ?? 'marketing',
    },
    decision,
    legalBasis,
    capturedAt,
    ledgerId,
  };
}

const decide = (states: ConsentState[], extra: { suppressed?: boolean; channel?: ConsentChannel } = {}) =>
  decideConsent({
    states,
    suppressed: extra.suppressed ?? false,
    channel: extra.channel ?? 'email',
    purpose: 'marketing',
    brand: 'sd',
  });

const shape = (verdict: ConsentVerdict) => ({
  syncRecord: verdict.syncRecord,
  subscribed: verdict.subscribed,
  triggerMessages: verdict.triggerMessages,
  operations: ALL.filter((op) => verdict.allowedOperations.has(op)),
});

// Small tier: the pure rule.
describe('decideConsent', () => {
  it('fails closed without any record: the member record only, not subscribed, nothing message-triggering', () => {
    const verdict = decide([]);
    expect(verdict).toBe(CONSENT_VERDICTS.noRecord);
    expect(shape(verdict)).toEqual({
      syncRecord: true,
      subscribed: false,
      triggerMessages: false,
      operations: RECORD_ONLY,
    });
    expect(verdict.reason).toMatch(/fail closed/);
  });

  it('subscribes and allows every operation with a consent grant', () => {
    const verdict = decide([state('granted', 'consent', '2026-11-01T10:00:00Z')]);
    expect(verdict).toBe(CONSENT_VERDICTS.grantedConsent);
    expect(shape(verdict)).toEqual({
      syncRecord: true,
      subscribed: true,
      triggerMessages: true,
      operations: ALL,
    });
  });

  it('unsubscribes when the grant was withdrawn later, and re-subscribes on a later grant', () => {
    const granted = state('granted', 'consent', '2026-11-01T10:00:00Z');
    const withdrawn = state('withdrawn', 'consent', '2026-11-02T10:00:00Z');
    const verdict = decide([granted, withdrawn]);
    expect(verdict).toBe(CONSENT_VERDICTS.withdrawn);
    expect(shape(verdict)).toEqual({
      syncRecord: true,
      subscribed: false,
      triggerMessages: false,
      operations: RECORD_ONLY,
    });
    // Order of the input does not matter: the latest capture decides.
    expect(decide([withdrawn, granted])).toBe(CONSENT_VERDICTS.withdrawn);
    expect(decide([granted, withdrawn, state('granted', 'consent', '2026-11-03T10:00:00Z')])).toBe(
      CONSENT_VERDICTS.grantedConsent,
    );
  });

  it('lets a withdrawal win a tie of capture times, as the ledger fold does', () => {
    const withdrawn = state('withdrawn', 'consent', '2026-11-01T10:00:00.000Z');
    const granted = state('granted', 'consent', '2026-11-01T10:00:00Z');
    expect(decide([withdrawn, granted])).toBe(CONSENT_VERDICTS.withdrawn);
    expect(decide([granted, withdrawn])).toBe(CONSENT_VERDICTS.withdrawn);
    // Same decision at the same time: ledger order.
    const soft = state('granted', 'soft_opt_in', '2026-11-01T10:00:00Z');
    expect(decide([soft, granted])).toBe(CONSENT_VERDICTS.grantedSoftOptIn);
  });

  it('never carries a grant across brands', () => {
    const verdict = decideConsent({
      states: [state('granted', 'consent', '2026-11-01T10:00:00Z', { brand: 'sd' })],
      suppressed: false,
      channel: 'email',
      purpose: 'marketing',
      brand: 'vb',
    });
    expect(verdict).toBe(CONSENT_VERDICTS.noRecord);
    expect(verdict.subscribed).toBe(false);
  });

  it('never carries a grant across channels or purposes', () => {
    const smsGrant = state('granted', 'consent', '2026-11-01T10:00:00Z', { channel: 'sms' });
    expect(decide([smsGrant])).toBe(CONSENT_VERDICTS.noRecord);
    expect(decide([smsGrant], { channel: 'sms' })).toBe(CONSENT_VERDICTS.grantedConsent);
    const surveys = state('granted', 'consent', '2026-11-01T10:00:00Z', { purpose: 'surveys' });
    expect(decide([surveys])).toBe(CONSENT_VERDICTS.noRecord);
    // A withdrawal on another channel leaves this channel's grant alone.
    const emailGrant = state('granted', 'consent', '2026-11-01T10:00:00Z');
    const smsOptOut = state('withdrawn', 'consent', '2026-11-05T10:00:00Z', { channel: 'sms' });
    expect(decide([emailGrant, smsOptOut])).toBe(CONSENT_VERDICTS.grantedConsent);
  });

  it('sends a suppressed contact point suppression and deletion calls only, whatever its consent', () => {
    const verdict = decide([state('granted', 'consent', '2026-11-01T10:00:00Z')], { suppressed: true });
    expect(verdict).toBe(CONSENT_VERDICTS.suppressed);
    expect(shape(verdict)).toEqual({
      syncRecord: false,
      subscribed: false,
      triggerMessages: false,
      operations: ['unsubscribe', 'suppress', 'deleteProfiles'],
    });
    expect(decide([], { suppressed: true })).toBe(CONSENT_VERDICTS.suppressed);
  });

  it('treats soft opt-in as a grant on email and SMS, withdrawn by any opt-out', () => {
    const soft = state('granted', 'soft_opt_in', '2026-11-01T10:00:00Z');
    expect(decide([soft])).toBe(CONSENT_VERDICTS.grantedSoftOptIn);
    expect(shape(decide([soft]))).toEqual({
      syncRecord: true,
      subscribed: true,
      triggerMessages: true,
      operations: ALL,
    });
    const optOut = state('withdrawn', 'consent', '2026-11-02T10:00:00Z');
    expect(decide([soft, optOut])).toBe(CONSENT_VERDICTS.withdrawn);
    const smsSoft = state('granted', 'soft_opt_in', '2026-11-01T10:00:00Z', { channel: 'sms' });
    expect(decide([smsSoft], { channel: 'sms' })).toBe(CONSENT_VERDICTS.grantedSoftOptIn);
    // Push is no electronic mail: soft opt-in does not subscribe a device.
    const pushSoft = state('granted', 'soft_opt_in', '2026-11-01T10:00:00Z', { channel: 'mobile_push' });
    const push = decide([pushSoft], { channel: 'mobile_push' });
    expect(push).toBe(CONSENT_VERDICTS.softOptInOffChannel);
    expect(push.subscribed).toBe(false);
  });

  it('lets legitimate interest sync the member record but never subscribe nor trigger messages', () => {
    const verdict = decide([state('granted', 'legitimate_interest', '2026-11-01T10:00:00Z')]);
    expect(verdict).toBe(CONSENT_VERDICTS.legitimateInterest);
    expect(shape(verdict)).toEqual({
      syncRecord: true,
      subscribed: false,
      triggerMessages: false,
      operations: RECORD_ONLY,
    });
  });

  it('fails closed on a legal basis it does not know', () => {
    const odd = {
      ...state('granted', 'consent', '2026-11-01T10:00:00Z'),
      legalBasis: 'contract' as LegalBasis,
    };
    expect(decide([odd])).toBe(CONSENT_VERDICTS.noRecord);
  });

  it('ignores other brands only when asked for one (states are for one brand already)', () => {
    const other = state('granted', 'consent', '2026-11-01T10:00:00Z', { brand: 'vb' });
    expect(
      decideConsent({ states: [other], suppressed: false, channel: 'email', purpose: 'marketing' }),
    ).toBe(CONSENT_VERDICTS.grantedConsent);
  });

  it('verdicts are frozen', () => {
    expect(Object.isFrozen(CONSENT_VERDICTS.grantedConsent)).toBe(true);
  });
});

describe('filterOperations', () => {
  it('keeps what the verdict allows and refuses the rest with a reason, in order', () => {
    const { kept, refused } = filterOperations(
      ['upsertProfiles', 'subscribe', 'addToSegment', 'unsubscribe', 'unsuppress'] as OperationName[],
      CONSENT_VERDICTS.withdrawn,
    );
    expect(kept).toEqual(['upsertProfiles', 'unsubscribe']);
    expect(refused.map((refusal) => refusal.operation)).toEqual(['subscribe', 'addToSegment', 'unsuppress']);
    expect(refused[0]?.reason).toBe('subscribe refused: withdrawn: member record only, unsubscribed');
  });

  it('filters items that carry an operation name', () => {
    const items = [
      { operation: 'upsertProfiles' as const, customerId: 'C1' },
      { operation: 'deleteProfiles' as const, customerId: 'C1' },
    ];
    const { kept, refused } = filterOperations(items, CONSENT_VERDICTS.suppressed);
    expect(kept).toEqual([items[1]]);
    expect(refused).toEqual([
      {
        item: items[0],
        operation: 'upsertProfiles',
        reason: 'upsertProfiles refused: suppressed: suppression and deletion calls only',
      },
    ]);
  });
});
