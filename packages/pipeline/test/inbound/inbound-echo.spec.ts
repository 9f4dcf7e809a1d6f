import { ConsentLedger, SuppressionList, type ConsentEntry } from '@tessera/consent';
import type { InboundUnsubscribe } from '@tessera/destination-kit';
import type { DeliveryItem } from '@tessera/queues';
import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { DestinationDirectory } from '../../src/destination-directory';
import {
  ECHO_SETTLE_MS,
  ECHO_WINDOW_MS,
  InboundSync,
  inboundOrigin,
} from '../../src/inbound/inbound-sync.service';
import { UNCHANGED_DETAIL } from '../../src/stages/change-only-writes';
import {
  DeliveryLog,
  DestinationStateBook,
  DestinationSyncState,
  InboundSightingBook,
} from '../../src/store';
import { echoDestination } from '../support/echo-destination';
import { at, vault } from '../store/store-fixture';

// Issue 19 items 7 and 8, on the store of record: an opt-out an ESP reports that is Tessera's own unsubscribe
// read back is not recorded as the member's; a real one is, with the ESP's change time; an opt-out timed by
// observation overrides no grant newer than the ESP's last subscribed sighting.

const MEMBERS: Record<string, string> = { 'ada@example.com': 'C-ada', 'bob@example.com': 'C-bob' };

/** A member's email marketing grant in brand sd, captured at `when` with a double opt-in reference. */
function grantOf(email: string, when: Date, proofRef: string): ConsentEntry {
  return {
    subject: { type: 'email', key: vault.blindIndex('email', email), customerId: MEMBERS[email] ?? '' },
    scope: { brand: 'sd', channel: 'email', purpose: 'marketing' },
    decision: 'granted',
    legalBasis: 'consent',
    provenance: {
      source: 'src-web',
      proofRef,
      capturedAt: when.toISOString(),
      receivedAt: when.toISOString(),
      actor: 'source:src-web',
    },
    dedupeKey: `grant:${email}:${when.toISOString()}`,
  };
}

describe.each(STORE_DRIVERS)('InboundSync echoes and change times on %s', (driver) => {
  let store: Store;
  let ledger: ConsentLedger;
  let deliveryLog: DeliveryLog;
  let syncState: DestinationSyncState;
  let sightings: InboundSightingBook;
  let forwarded: Map<string, DeliveryItem[]>;
  let sync: InboundSync;
  const now = at(60);

  beforeEach(async () => {
    store = await openScratchStore(driver);
    ledger = new ConsentLedger(store, { now: () => now });
    deliveryLog = new DeliveryLog(store);
    syncState = new DestinationSyncState(store, vault);
    sightings = new InboundSightingBook(store);
    forwarded = new Map();
    // The customers exist (the sync state keeps rows of known profiles only).
    await store.query(`INSERT INTO identity_profiles (customer_id) VALUES ('C-ada'), ('C-bob')`);
    const definition = echoDestination(10);
    const directory = new DestinationDirectory(
      ['sd-braze', 'sd-klaviyo'].map((id) => ({
        id,
        brand: 'sd',
        type: 'echo',
        definition: definition as never,
        settings: { apiKey: 'k' },
        initialState: 'enabled' as const,
        plugins: [],
      })),
      new DestinationStateBook(store),
    );
    sync = new InboundSync({
      directory,
      graph: {
        store,
        defaultCountry: () => 'GB',
        // The graph's lookup by contact point (Braze reports an email only).
        resolveReference: async (_executor, reference) =>
          typeof reference === 'string' ? MEMBERS[reference.replace(/^email:/, '')] : undefined,
      },
      ledger,
      suppressions: new SuppressionList(store),
      vault,
      deliver: async (destinationId, items) => {
        forwarded.set(destinationId, [...(forwarded.get(destinationId) ?? []), ...items]);
      },
      sent: deliveryLog,
      syncState,
      sightings,
      now: () => now,
    });
  });

  afterEach(() => store.close());

  /** Tessera delivered an unsubscribe of `customerId` to sd-braze at `when` (what the deliver stage records). */
  const sentUnsubscribe = (customerId: string, when: Date, detail?: string) =>
    deliveryLog.record([
      {
        brand: 'sd',
        customerId,
        destinationId: 'sd-braze',
        operation: 'unsubscribe',
        itemKey: `k-${customerId}-${when.getTime()}`,
        status: 'delivered',
        attempts: 1,
        at: when,
        ...(detail === undefined ? {} : { detail }),
      },
    ]);

  const brazeUnsubscribe = (email: string, when: Date): InboundUnsubscribe => ({
    eventId: `braze:email:unsubscribed:${email}:${when.toISOString()}`,
    channel: 'email',
    change: 'unsubscribed',
    email,
    occurredAt: when.toISOString(),
  });

  const ledgerRows = () =>
    store.query<{ customer_id: string; source: string; captured_at: Date | string; proof: unknown }>(
      `SELECT customer_id, source, captured_at, proof FROM consent_ledger ORDER BY id`,
    );

  it('recognises its own unsubscribe read back: nothing recorded, nothing forwarded, counted', async () => {
    await sentUnsubscribe('C-ada', at(10));
    // Braze stamps the change a few seconds before Tessera logged the delivery as settled.
    const outcome = await sync.handle('sd-braze', [brazeUnsubscribe('ada@example.com', at(9.9))]);
    expect(outcome).toEqual({
      recorded: 0,
      suppressed: 0,
      forwarded: 0,
      unmatched: 0,
      echoes: 1,
      deferred: 0,
    });
    expect(await ledgerRows()).toEqual([]);
    expect(forwarded.size).toBe(0);
  });

  it('records a real unsubscribe at the ESP with the ESP’s change time, and forwards it', async () => {
    await sentUnsubscribe('C-ada', at(10));
    const outcome = await sync.handle('sd-braze', [
      brazeUnsubscribe('ada@example.com', at(10)),
      brazeUnsubscribe('bob@example.com', at(12)),
    ]);
    expect(outcome).toMatchObject({ recorded: 1, echoes: 1, forwarded: 1 });
    const rows = await ledgerRows();
    expect(rows.map((row) => [row.customer_id, row.source, new Date(row.captured_at).toISOString()])).toEqual(
      [['C-bob', 'esp:sd-braze', at(12).toISOString()]],
    );
    expect(forwarded.get('sd-klaviyo')?.map((item) => item.customerId)).toEqual(['C-bob']);
  });

  it('marks what it forwards with its origin: the reporting ESP and its event id, contact points redacted', async () => {
    await sync.handle('sd-braze', [brazeUnsubscribe('bob@example.com', at(12))]);
    const [item] = forwarded.get('sd-klaviyo') ?? [];
    expect(item?.event).toEqual({
      sourceId: 'inbound:sd-braze',
      eventSource: 'esp:sd-braze',
      eventId: `braze:email:unsubscribed:[email]:${at(12).toISOString()}`,
    });
    expect(inboundOrigin('sd-klaviyo', 'kl-evt-9')).toEqual({
      sourceId: 'inbound:sd-klaviyo',
      eventSource: 'esp:sd-klaviyo',
      eventId: 'kl-evt-9',
    });
  });

  it('takes an unsubscribe outside the echo window, or one Tessera only answered from its sync state, as the member’s', async () => {
    await sentUnsubscribe('C-ada', at(10));
    await sentUnsubscribe('C-bob', at(10), UNCHANGED_DETAIL);
    const late = new Date(at(10).getTime() + ECHO_WINDOW_MS + 60_000);
    const outcome = await sync.handle('sd-braze', [
      brazeUnsubscribe('ada@example.com', late),
      brazeUnsubscribe('bob@example.com', at(10)),
    ]);
    expect(outcome).toMatchObject({ recorded: 2, echoes: 0 });
  });

  it('a poll leaves a fresh unexplained opt-out for the next poll; an older one, or one from a webhook, is taken', async () => {
    const fresh = brazeUnsubscribe('bob@example.com', new Date(now.getTime() - 5_000));
    expect(await sync.handle('sd-braze', [fresh], [], true)).toMatchObject({ recorded: 0, deferred: 1 });
    expect(await ledgerRows()).toEqual([]);
    expect(forwarded.size).toBe(0);
    const settled = brazeUnsubscribe('bob@example.com', new Date(now.getTime() - ECHO_SETTLE_MS - 1_000));
    expect(await sync.handle('sd-braze', [settled], [], true)).toMatchObject({ recorded: 1, deferred: 0 });
    expect(await sync.handle('sd-braze', [fresh])).toMatchObject({ recorded: 1, deferred: 0 });
  });

  it('a withdrawal timed by observation: recorded, and it overrides no grant newer than the last sighting', async () => {
    // Klaviyo was seen with Ada subscribed at minute 5; a grant captured at minute 20; then the poll observes
    // Ada unsubscribed at minute 30 with no change time.
    await sync.handle(
      'sd-klaviyo',
      [],
      [{ channel: 'email', email: 'ada@example.com', seenAt: at(5).toISOString() }],
    );
    const grant = grantOf('ada@example.com', at(20), 'doi-ada');
    await ledger.append([grant]);
    const observed: InboundUnsubscribe = {
      eventId: 'kl-ada:email:unsubscribed:observed:x',
      channel: 'email',
      change: 'unsubscribed',
      email: 'ada@example.com',
      customerId: 'C-ada',
      occurredAt: at(30).toISOString(),
      timeBasis: 'observed',
    };
    expect(await sync.handle('sd-klaviyo', [observed])).toMatchObject({ recorded: 1, echoes: 0 });
    const rows = await ledgerRows();
    expect(rows[1]?.proof).toMatchObject({ time_basis: 'observed', seen_subscribed_at: at(5).toISOString() });
    const [state] = await ledger.state([grant.subject.key], 'sd');
    expect(state).toMatchObject({ decision: 'granted', capturedAt: at(20).toISOString() });

    // Seen subscribed again after the grant (minute 40), then observed unsubscribed (minute 50): it withdraws.
    await sync.handle(
      'sd-klaviyo',
      [],
      [{ channel: 'email', email: 'ada@example.com', seenAt: at(40).toISOString() }],
    );
    await sync.handle('sd-klaviyo', [
      { ...observed, eventId: 'kl-ada:email:unsubscribed:observed:y', occurredAt: at(50).toISOString() },
    ]);
    expect((await ledger.state([grant.subject.key], 'sd'))[0]).toMatchObject({
      decision: 'withdrawn',
      capturedAt: at(50).toISOString(),
    });
  });

  it('a withdrawal timed by observation is an echo when Tessera unsubscribed since the sighting, not when it subscribed since', async () => {
    await sync.handle(
      'sd-braze',
      [],
      [
        { channel: 'email', email: 'ada@example.com', seenAt: at(5).toISOString() },
        { channel: 'email', email: 'bob@example.com', seenAt: at(5).toISOString() },
      ],
    );
    await sentUnsubscribe('C-ada', at(8));
    await sentUnsubscribe('C-bob', at(8));
    // Tessera later subscribed Bob again: his later opt-out is not explained by what Tessera sent.
    await syncState.write('sd-braze', new Map([['C-bob', { subscriptions: { email: 'subscribed' } }]]));
    const observed = (email: string): InboundUnsubscribe => ({
      ...brazeUnsubscribe(email, at(30)),
      eventId: `observed:${email}`,
      timeBasis: 'observed',
    });
    const outcome = await sync.handle('sd-braze', [observed('ada@example.com'), observed('bob@example.com')]);
    expect(outcome).toMatchObject({ recorded: 1, echoes: 1 });
    expect((await ledgerRows()).map((row) => row.customer_id)).toEqual(['C-bob']);
  });
});
