import { randomBytes } from 'node:crypto';
import { ConsentLedger, StoreConsentStateReader } from '@tessera/consent';
import type { CatalogEvent } from '@tessera/events';
import { IdentityGraph } from '@tessera/identity-graph';
import type { IngestedEvent, ResolvedEvent } from '@tessera/queues';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import { ResolveStage } from '../../src/stages/resolve-stage.service';
import { RawEventLog } from '../../src/store/raw-event-log.repository';

let sequence = 0;
function ingested(type: string, data: Record<string, unknown>, id = `evt-${++sequence}`): IngestedEvent {
  return {
    sourceId: 'loyalty',
    brand: 'sd',
    receivedAt: '2026-11-24T10:00:00.000Z',
    event: {
      specversion: '1.0',
      id,
      source: 'https://loyalty.example.com',
      type,
      time: `2026-11-24T09:00:${String(sequence % 60).padStart(2, '0')}Z`,
      data,
    } as unknown as CatalogEvent,
  };
}

const purchase = (customerId: string, amount: number, id?: string) =>
  ingested(
    'transaction.created',
    { customer_id: customerId, transaction_id: `T-${id ?? sequence}`, amount, currency: 'GBP' },
    id,
  );

describe.each(STORE_DRIVERS)('ResolveStage on %s', (driver) => {
  let store: Store;
  let vault: PiiVault;
  let graph: IdentityGraph;
  let routed: ResolvedEvent[][];
  let failRoute: boolean;
  let stage: ResolveStage;

  beforeAll(async () => {
    store = await openScratchStore(driver);
    vault = new PiiVault([randomBytes(32)]);
  }, 30_000);
  afterAll(() => store.close());

  beforeEach(() => {
    graph = new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] });
    routed = [];
    failRoute = false;
    stage = new ResolveStage({
      journal: new RawEventLog(store, vault),
      graph,
      ledger: new ConsentLedger(store),
      vault,
      route: async (events) => {
        if (failRoute) throw new Error('Redis is away');
        routed.push(events);
      },
    });
  });

  const lifetimeValue = async (customerId: string) =>
    (await graph.customerViews([customerId])).get(customerId)?.traits.total_lifetime_value;

  it('resolves and routes new events once; a repeat (same source and id) is a duplicate', async () => {
    const first = purchase('R1', 10);
    const outcome = await stage.handle([first, purchase('R2', 5), first]);
    expect(outcome).toEqual({ received: 3, duplicates: 1, resolved: 2, unresolved: 0, routed: 2 });
    expect(routed.flat().map((event) => event.customerId)).toEqual(['R1', 'R2']);

    const again = await stage.handle([first]);
    expect(again).toEqual({ received: 1, duplicates: 1, resolved: 0, unresolved: 0, routed: 0 });
    expect(await lifetimeValue('R1')).toBe(10);
  });

  it('a job re-run after a crash between resolution and routing routes the events without applying them twice', async () => {
    const events = [purchase('R3', 7), purchase('R3', 8)];
    failRoute = true;
    await expect(stage.handle(events)).rejects.toThrow('Redis is away');
    expect(await lifetimeValue('R3')).toBe(15);

    failRoute = false;
    const retried = await stage.handle(events);

    expect(retried).toMatchObject({ resolved: 0, routed: 2 });
    expect(routed.flat().map((event) => event.event.id)).toEqual(events.map((event) => event.event.id));
    // Sums would double if the retry resolved the events again.
    expect(await lifetimeValue('R3')).toBe(15);
  });

  it('keeps an event without a usable identifier in the raw log, unrouted', async () => {
    const outcome = await stage.handle([ingested('profile.updated', { email: 'not an email' })]);
    expect(outcome).toMatchObject({ resolved: 1, unresolved: 1, routed: 0 });
    expect(routed).toEqual([]);
  });

  it('records consent changes in the ledger, once even when the job runs twice', async () => {
    const consent = ingested('consent.changed', {
      customer_id: 'R4',
      email: 'r4@example.com',
      brand: 'sd',
      channel: 'email',
      status: 'granted',
      legal_basis: 'consent',
      captured_at: '2026-11-24T08:00:00Z',
      notice_version: 'v3',
    });
    await stage.handle([consent]);
    await stage.handle([consent]);
    const states = await new StoreConsentStateReader(store).load(
      [vault.blindIndex('email', 'r4@example.com')],
      'sd',
    );
    expect(states.states.map((state) => [state.scope.channel, state.decision])).toEqual([
      ['email', 'granted'],
    ]);
    const rows = await store.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM consent_ledger WHERE subject_key = $1',
      [vault.blindIndex('email', 'r4@example.com')],
    );
    expect(rows[0]?.n).toBe(1);
  });
});
