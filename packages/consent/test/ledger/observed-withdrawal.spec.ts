import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import type { InboundUnsubscribe } from '@tessera/destination-kit';
import type { ConsentEntry } from '../../src/consent-contract';
import { ConsentLedger, entriesFromInboundUnsubscribes, foldConsent } from '../../src/ledger';
import { emailKey, entry, minutes, vault } from './ledger-fixture';

// Issue 19 item 8: a withdrawal an ESP reported without a change time carries the time Tessera observed it, and
// never overrides a grant newer than the last time that ESP was seen holding the member subscribed.

const ANA = emailKey('ana@example.com');

/** A polled withdrawal of ana@example.com, mapped the way the inbound sync maps it. */
function polled(
  change: Partial<InboundUnsubscribe> & { occurredAt: string },
  seenSubscribedAt?: string,
): ConsentEntry {
  const [mapped] = entriesFromInboundUnsubscribes(
    [
      {
        eventId: `kl:${change.occurredAt}`,
        channel: 'email',
        change: 'unsubscribed',
        email: 'ana@example.com',
        customerId: 'C-ana',
        ...change,
      },
    ],
    {
      vault,
      defaultCountry: 'GB',
      brand: 'sd',
      destinationId: 'sd-klaviyo',
      receivedAt: new Date(change.occurredAt),
      seenSubscribedAt: () => seenSubscribedAt,
    },
  );
  if (mapped === undefined) throw new Error('no entry');
  return mapped;
}

describe('observed-time withdrawals in the fold', () => {
  const grant = entry({ key: ANA, decision: 'granted', at: 10, dedupeKey: 'g', proofRef: 'doi-1' });

  it('keeps the ESP’s change time when the ESP gave one, and lets it win over an older grant', () => {
    const withdrawal = polled({ occurredAt: minutes(20) });
    expect(withdrawal.provenance.capturedAt).toBe(minutes(20));
    expect(withdrawal.provenance.proof).toEqual({
      change: 'unsubscribed',
      esp_event_key: vault.blindIndex('esp-event', `kl:${minutes(20)}`),
    });
    expect(foldConsent([grant, withdrawal])?.decision).toBe('withdrawn');
  });

  it('records how an observed time was obtained, and when the ESP was last seen subscribed', () => {
    const withdrawal = polled({ occurredAt: minutes(30), timeBasis: 'observed' }, minutes(5));
    expect(withdrawal.provenance.capturedAt).toBe(minutes(30));
    expect(withdrawal.provenance.proof).toMatchObject({
      time_basis: 'observed',
      seen_subscribed_at: minutes(5),
    });
  });

  it('does not let an observed withdrawal override a grant newer than the last subscribed sighting', () => {
    // Seen subscribed at minute 5, the grant at 10, the withdrawal observed at 30: it may predate the grant.
    const withdrawal = polled({ occurredAt: minutes(30), timeBasis: 'observed' }, minutes(5));
    expect(foldConsent([grant, withdrawal])).toMatchObject({ decision: 'granted', capturedAt: minutes(10) });
    expect(foldConsent([withdrawal, grant])?.decision).toBe('granted');
  });

  it('lets it override a grant the ESP was seen subscribed after, and applies it where no grant stands', () => {
    const after = polled({ occurredAt: minutes(30), timeBasis: 'observed' }, minutes(12));
    expect(foldConsent([grant, after])).toMatchObject({ decision: 'withdrawn', capturedAt: minutes(30) });
    const neverSeen = polled({ occurredAt: minutes(30), timeBasis: 'observed' });
    expect(foldConsent([grant, neverSeen])?.decision).toBe('granted');
    expect(foldConsent([neverSeen])?.decision).toBe('withdrawn');
  });
});

describe.each(STORE_DRIVERS)('observed-time withdrawals in the ConsentLedger on %s', (driver) => {
  let store: Store;
  let ledger: ConsentLedger;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    ledger = new ConsentLedger(store, { now: () => new Date(minutes(60)) });
  });

  afterEach(() => store.close());

  it('keeps a later grant standing whichever arrives first, and records the withdrawal all the same', async () => {
    const grant = entry({ key: ANA, decision: 'granted', at: 10, dedupeKey: 'g', proofRef: 'doi-1' });
    const withdrawal = polled({ occurredAt: minutes(30), timeBasis: 'observed' }, minutes(5));
    // The withdrawal first, then the grant (captured before it was observed) arrives late.
    expect((await ledger.append([withdrawal])).appended).toBe(1);
    expect((await ledger.state([ANA], 'sd'))[0]?.decision).toBe('withdrawn');
    expect((await ledger.append([grant])).appended).toBe(1);
    expect((await ledger.state([ANA], 'sd'))[0]).toMatchObject({
      decision: 'granted',
      capturedAt: minutes(10),
    });
    expect((await ledger.history({ subjectKey: ANA })).map((row) => row.decision)).toEqual([
      'granted',
      'withdrawn',
    ]);
    expect(await ledger.rebuildState()).toBe(1);
    expect((await ledger.state([ANA], 'sd'))[0]?.decision).toBe('granted');
  });

  it('withdraws when the ESP was seen subscribed after the grant', async () => {
    const grant = entry({ key: ANA, decision: 'granted', at: 10, dedupeKey: 'g', proofRef: 'doi-1' });
    const withdrawal = polled({ occurredAt: minutes(30), timeBasis: 'observed' }, minutes(20));
    await ledger.append([grant]);
    await ledger.append([withdrawal]);
    expect((await ledger.state([ANA], 'sd'))[0]).toMatchObject({
      decision: 'withdrawn',
      capturedAt: minutes(30),
    });
  });
});
