import { CONSENT_VERDICTS, type ConsentState, type ConsentVerdict } from '@tessera/consent';
import type { WithoutGrantPolicy } from '@tessera/destination-kit';
import type { CatalogEvent } from '@tessera/events';
import type { DestinationOperation } from '@tessera/transform';
import { applyGrantPolicy } from './grant-policy';

const FULL_ATTRIBUTES = {
  first_name: 'Ada',
  last_name: 'Lovelace',
  address: { city: 'London', postcode: 'N1 9GU' },
  loyalty_tier: 'Gold',
  points_balance: 5200,
};

const upsert: DestinationOperation = {
  operation: 'upsertProfiles',
  item: { customerId: 'c1', version: 3, email: 'ada@example.com', attributes: FULL_ATTRIBUTES },
};
const attributesUpdate: DestinationOperation = {
  operation: 'updateAttributes',
  item: { customerId: 'c1', version: 3, email: 'ada@example.com', attributes: { points_to_next_tier: 9800 } },
};
const vip: DestinationOperation = {
  operation: 'removeFromSegment',
  item: { customerId: 'c1', segment: 'VIP', email: 'ada@example.com' },
};

const pointsEvent = {
  specversion: '1.0',
  id: 'e1',
  source: 'loyalty',
  type: 'points.updated',
  data: { customer_id: 'C1', delta: 10, new_balance: 5200 },
} as unknown as CatalogEvent;

const consentEvent = (status: 'granted' | 'withdrawn', brand = 'nw'): CatalogEvent =>
  ({
    specversion: '1.0',
    id: 'e2',
    source: 'loyalty',
    type: 'consent.changed',
    data: {
      customer_id: 'C1',
      email: 'ada@example.com',
      brand,
      channel: 'email',
      purpose: 'marketing',
      status,
      legal_basis: 'consent',
      captured_at: '2026-05-01T09:00:00Z',
      notice_version: 'v1',
    },
  }) as unknown as CatalogEvent;

const state = (decision: 'granted' | 'withdrawn'): ConsentState => ({
  subject: { type: 'email', key: 'bi:ada' },
  scope: { brand: 'nw', channel: 'email', purpose: 'marketing' },
  decision,
  legalBasis: 'consent',
  capturedAt: '2026-05-01T09:00:00.000Z',
  ledgerId: 7,
});

const run = (
  verdict: ConsentVerdict | undefined,
  policy: WithoutGrantPolicy,
  operations: DestinationOperation[] = [upsert, attributesUpdate],
  event: CatalogEvent = pointsEvent,
) =>
  applyGrantPolicy({
    operations,
    policy,
    email:
      verdict === undefined
        ? undefined
        : {
            verdict,
            ...(verdict === CONSENT_VERDICTS.grantedConsent
              ? { state: state('granted') }
              : verdict === CONSENT_VERDICTS.withdrawn
                ? { state: state('withdrawn') }
                : {}),
          },
    profile: { customerId: 'c1', email: 'ada@example.com' },
    event,
    brand: 'nw',
  });

describe('applyGrantPolicy', () => {
  it('sends a granted member in full and subscribed, stamped with the consent time', () => {
    const { operations, report } = run(CONSENT_VERDICTS.grantedConsent, 'minimal');
    expect(operations).toEqual([
      upsert,
      attributesUpdate,
      {
        operation: 'subscribe',
        item: {
          customerId: 'c1',
          channel: 'email',
          email: 'ada@example.com',
          changedAt: '2026-05-01T09:00:00.000Z',
        },
      },
    ]);
    expect(report).toEqual({
      customerId: 'c1',
      policy: 'minimal',
      consent: 'granted',
      sent: 'full',
      leftOut: [],
      subscription: 'subscribed',
    });
  });

  it('minimal (the default): a withdrawn member is one identifiers-only record, unsubscribed', () => {
    const { operations, report } = run(CONSENT_VERDICTS.withdrawn, 'minimal', [
      upsert,
      upsert,
      attributesUpdate,
    ]);
    expect(operations).toEqual([
      {
        operation: 'upsertProfiles',
        item: { customerId: 'c1', version: 3, email: 'ada@example.com', attributes: {} },
      },
      {
        operation: 'unsubscribe',
        item: {
          customerId: 'c1',
          channel: 'email',
          email: 'ada@example.com',
          changedAt: '2026-05-01T09:00:00.000Z',
        },
      },
    ]);
    expect(report.sent).toBe('minimal');
    expect(report.consent).toBe('withdrawn');
    expect(report.subscription).toBe('unsubscribed');
    expect(report.leftOut).toEqual([
      'address',
      'first_name',
      'last_name',
      'loyalty_tier',
      'points_balance',
      'points_to_next_tier',
    ]);
  });

  it('minimal: a member with no consent record is identifiers only and never subscribed (no unsubscribe)', () => {
    const { operations, report } = run(CONSENT_VERDICTS.noRecord, 'minimal', [upsert, vip]);
    expect(operations).toEqual([
      {
        operation: 'upsertProfiles',
        item: { customerId: 'c1', version: 3, email: 'ada@example.com', attributes: {} },
      },
      vip,
    ]);
    expect(report).toMatchObject({ consent: 'no_record', sent: 'minimal', subscription: 'never_subscribed' });
  });

  it('none: nothing but the unsubscribe of a withdrawal reaches the ESP', () => {
    const onPoints = run(CONSENT_VERDICTS.withdrawn, 'none', [upsert, vip]);
    expect(onPoints.operations).toEqual([]);
    expect(onPoints.report.leftOut).toEqual(['operation:removeFromSegment', 'operation:upsertProfiles']);
    const onWithdrawal = run(CONSENT_VERDICTS.withdrawn, 'none', [], consentEvent('withdrawn'));
    expect(onWithdrawal.operations.map((operation) => operation.operation)).toEqual(['unsubscribe']);
    expect(run(CONSENT_VERDICTS.noRecord, 'none', [upsert]).operations).toEqual([]);
  });

  it('full: the brand chooses to send everything; the subscription state still mirrors the ledger', () => {
    const withdrawn = run(CONSENT_VERDICTS.withdrawn, 'full', [upsert]);
    expect(withdrawn.operations.map((operation) => operation.operation)).toEqual([
      'upsertProfiles',
      'unsubscribe',
    ]);
    expect(withdrawn.operations[0]).toBe(upsert);
    expect(withdrawn.report).toMatchObject({ sent: 'full', leftOut: [] });
    const noRecord = run(CONSENT_VERDICTS.noRecord, 'full', [upsert]);
    expect(noRecord.operations).toEqual([upsert]);
  });

  it("on the brand's consent.changed the subscription follows the ledger even with nothing else sent", () => {
    const granted = run(CONSENT_VERDICTS.grantedConsent, 'minimal', [], consentEvent('granted'));
    expect(granted.operations.map((operation) => operation.operation)).toEqual(['subscribe']);
    // Another brand's consent event changes nothing here.
    expect(
      run(CONSENT_VERDICTS.grantedConsent, 'minimal', [], consentEvent('granted', 'other')).operations,
    ).toEqual([]);
  });

  it("drops a plugin's email (un)subscribe that the ledger contradicts, and keeps one that agrees", () => {
    const stale: DestinationOperation = {
      operation: 'unsubscribe',
      item: {
        customerId: 'c1',
        channel: 'email',
        email: 'ada@example.com',
        changedAt: '2026-01-01T00:00:00Z',
      },
    };
    const contradicted = run(CONSENT_VERDICTS.grantedConsent, 'minimal', [stale], consentEvent('withdrawn'));
    expect(contradicted.operations.map((operation) => operation.operation)).toEqual(['subscribe']);
    expect(contradicted.report.leftOut).toEqual(['operation:unsubscribe']);
    const agreeing = run(CONSENT_VERDICTS.withdrawn, 'minimal', [stale], consentEvent('withdrawn'));
    expect(agreeing.operations).toEqual([stale]);
  });

  it('adds no subscription change a destination does not declare', () => {
    const { operations } = applyGrantPolicy({
      operations: [upsert],
      policy: 'minimal',
      email: { verdict: CONSENT_VERDICTS.grantedConsent, state: state('granted') },
      profile: { customerId: 'c1', email: 'ada@example.com' },
      event: pointsEvent,
      brand: 'nw',
      supports: new Set(['upsertProfiles']),
    });
    expect(operations).toEqual([upsert]);
  });

  it('a member without an email gets no email subscription change', () => {
    const { operations, report } = run(undefined, 'minimal', [upsert]);
    expect(operations.map((operation) => operation.operation)).toEqual(['upsertProfiles']);
    expect(report).toMatchObject({ consent: 'no_record', sent: 'minimal' });
  });
});
