import { randomBytes } from 'node:crypto';
import type { InboundUnsubscribe } from '@tessera/destination-kit';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import {
  ConsentLedger,
  inboundDedupeKey,
  marketingConsent,
  planInboundUnsubscribes,
  SuppressionList,
} from '../../src';

const vault = new PiiVault([randomBytes(32)]);
const context = {
  vault,
  defaultCountry: 'GB',
  brand: 'sd',
  destinationId: 'sd-klaviyo',
  brandDestinations: ['sd-klaviyo', 'sd-braze', 'sd-mailchimp'],
  receivedAt: new Date('2026-11-23T12:00:00Z'),
};
const change = (overrides: Partial<InboundUnsubscribe>): InboundUnsubscribe => ({
  eventId: 'kl-evt-1',
  channel: 'email',
  change: 'unsubscribed',
  email: 'Ada@Example.com',
  customerId: 'C1',
  occurredAt: '2026-11-23T11:59:00Z',
  ...overrides,
});
const emailKey = vault.blindIndex('email', 'ada@example.com');

describe('planInboundUnsubscribes', () => {
  it('records a withdrawal and carries the opt-out to every other destination of the brand', () => {
    const plan = planInboundUnsubscribes([change({})], context);
    expect(plan.entries).toHaveLength(1);
    expect(plan.entries[0]).toMatchObject({
      subject: { type: 'email', key: emailKey, customerId: 'C1' },
      scope: { brand: 'sd', channel: 'email', purpose: 'marketing' },
      decision: 'withdrawn',
      dedupeKey: inboundDedupeKey(vault, 'sd-klaviyo', 'kl-evt-1'),
    });
    expect(plan.operations).toEqual(
      ['sd-braze', 'sd-mailchimp'].map((destinationId) => ({
        destinationId,
        espEventId: 'kl-evt-1',
        operation: {
          operation: 'unsubscribe',
          item: {
            customerId: 'C1',
            channel: 'email',
            changedAt: '2026-11-23T11:59:00Z',
            email: 'Ada@Example.com',
          },
        },
      })),
    );
    expect(plan.suppressions).toEqual([]);
    expect(plan.unresolved).toEqual([]);
  });

  it('suppresses an ESP suppression for the brand, and hands back changes without a customer id', () => {
    const plan = planInboundUnsubscribes(
      [
        change({ change: 'suppressed' }),
        change({ eventId: 'kl-evt-2', customerId: undefined, email: 'bob@example.com' }),
      ],
      context,
    );
    expect(plan.suppressions).toEqual([
      { subjectType: 'email', subjectKey: emailKey, brand: 'sd', reason: 'esp:sd-klaviyo' },
    ]);
    expect(plan.operations.map((routed) => `${routed.destinationId} ${routed.operation.operation}`)).toEqual([
      'sd-braze unsubscribe',
      'sd-braze suppress',
      'sd-mailchimp unsubscribe',
      'sd-mailchimp suppress',
    ]);
    expect(plan.unresolved.map((unresolved) => unresolved.eventId)).toEqual(['kl-evt-2']);
    expect(plan.entries).toHaveLength(2);
  });

  it('drops a change whose contact point does not normalize, carrying nothing', () => {
    const plan = planInboundUnsubscribes([change({ email: 'not-an-email' })], context);
    expect(plan).toEqual({ entries: [], suppressions: [], operations: [], unresolved: [] });
  });
});

describe.each(STORE_DRIVERS)('inbound unsubscribes into the ledger on %s', (driver) => {
  let store: Store;
  beforeEach(async () => (store = await openScratchStore(driver)));
  afterEach(() => store.close());

  it('is recorded once however often the ESP redelivers it, and the profile consent follows', async () => {
    const ledger = new ConsentLedger(store);
    const granted = await ledger.append([
      {
        subject: { type: 'email', key: emailKey, customerId: 'C1' },
        scope: { brand: 'sd', channel: 'email', purpose: 'marketing' },
        decision: 'granted',
        legalBasis: 'consent',
        provenance: {
          source: 'loyalty',
          proofRef: 'doi-1',
          capturedAt: '2026-11-01T00:00:00Z',
          receivedAt: '2026-11-01T00:00:01Z',
          actor: 'source:loyalty',
        },
        dedupeKey: 'event:loyalty:1',
      },
    ]);
    expect(granted.appended).toBe(1);
    const before = await ledger.state([emailKey], 'sd');
    expect(marketingConsent(before, { email: emailKey }, 'sd')).toEqual({ email: 'granted' });

    const plan = planInboundUnsubscribes([change({ change: 'suppressed' })], context);
    const first = await ledger.append(plan.entries);
    const again = await ledger.append(
      planInboundUnsubscribes([change({ change: 'suppressed' })], context).entries,
    );
    expect([first.appended, again.appended, again.duplicates]).toEqual([
      1,
      0,
      [inboundDedupeKey(vault, 'sd-klaviyo', 'kl-evt-1')],
    ]);
    const suppressions = new SuppressionList(store);
    await suppressions.suppress(plan.suppressions);
    expect(await suppressions.isSuppressed([emailKey], 'sd')).toEqual(new Set([emailKey]));
    expect(await suppressions.isSuppressed([emailKey], 'evans')).toEqual(new Set());

    const after = await ledger.state([emailKey], 'sd');
    expect(marketingConsent(after, { email: emailKey }, 'sd')).toEqual({ email: 'withdrawn' });
    expect(marketingConsent(after, { email: emailKey }, 'evans')).toEqual({});
  });
});
