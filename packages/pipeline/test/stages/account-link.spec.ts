import { randomBytes } from 'node:crypto';
import { ConsentLedger } from '@tessera/consent';
import type { CatalogEvent } from '@tessera/events';
import { IdentityGraph } from '@tessera/identity-graph';
import type { IngestedEvent, ResolvedEvent } from '@tessera/queues';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import { eventKeyOf } from '../../src/stages/event-identity';
import { ResolveStage } from '../../src/stages/resolve-stage.service';
import { RawEventLog } from '../../src/store/raw-event-log.repository';

let sequence = 0;
function ingested(type: string, data: Record<string, unknown>): IngestedEvent {
  sequence += 1;
  return {
    sourceId: 'showroom',
    brand: 'sd',
    receivedAt: '2026-11-24T10:00:00.000Z',
    event: {
      specversion: '1.0',
      id: `evt-${sequence}`,
      source: 'https://showroom.example.com',
      type,
      time: `2026-11-24T09:${String(Math.floor(sequence / 60) % 60).padStart(2, '0')}:${String(sequence % 60).padStart(2, '0')}Z`,
      data,
    } as unknown as CatalogEvent,
  };
}

const viewed = (anonymousId: string) =>
  ingested('showroom.viewed_3d_model', { anonymous_id: anonymousId, showroom_id: 'S1', product_id: 'P1' });
const linked = (member: Record<string, unknown>, link: Record<string, unknown>) =>
  ingested('account.linked', { ...member, link, method: 'login' });

/** Issue 19 item 2: the resolve stage applies what an `account.linked` event's `data.link` names. */
describe.each(STORE_DRIVERS)('account.linked in the resolve stage on %s', (driver) => {
  let store: Store;
  let graph: IdentityGraph;
  let routed: ResolvedEvent[];
  let stage: ResolveStage;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    const vault = new PiiVault([randomBytes(32)]);
    graph = new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] });
    routed = [];
    stage = new ResolveStage({
      journal: new RawEventLog(store, vault),
      graph,
      ledger: new ConsentLedger(store),
      vault,
      route: async (events) => {
        routed.push(...events);
      },
    });
  }, 30_000);
  afterEach(() => store.close());

  it("links the guest named in data.link to the member: the link resolves to the member, the guest's profile is merged", async () => {
    const guestEvents = [viewed('anon-1'), viewed('anon-1')];
    await stage.handle([
      ...guestEvents,
      ingested('profile.updated', { customer_id: 'C1', first_name: 'Ana' }),
    ]);
    const guest = routed.find((event) => event.key.eventId === guestEvents[0].event.id)?.customerId;
    expect(guest).toBeDefined();
    expect(guest).not.toBe('C1');

    const link = linked({ customer_id: 'C1' }, { anonymous_id: 'anon-1' });
    const outcome = await stage.handle([link]);

    expect(outcome).toMatchObject({ resolved: 1, routed: 1, linked: 1, linksRefused: [] });
    expect(routed.at(-1)).toMatchObject({ key: eventKeyOf(link), customerId: 'C1' });
    const profile = await graph.getProfile('anonymous_id:anon-1');
    expect(profile?.customerId).toBe('C1');
    expect(profile?.lineage).toEqual([
      expect.objectContaining({
        kind: 'merge',
        winner: 'C1',
        loser: guest,
        basis: 'account.linked',
        eventId: link.event.id,
      }),
    ]);
    // The retried job links nothing twice.
    expect(await stage.handle([link])).toMatchObject({ resolved: 0, linked: 0, linksRefused: [] });
  });

  it("moves the batch's other events of the guest to the member when the link arrives with them", async () => {
    await stage.handle([ingested('profile.updated', { customer_id: 'C1', first_name: 'Ana' })]);
    const batch = [
      viewed('anon-2'),
      linked({ customer_id: 'C1' }, { anonymous_id: 'anon-2' }),
      viewed('anon-2'),
    ];

    const outcome = await stage.handle(batch);

    expect(outcome).toMatchObject({ resolved: 3, routed: 3, linked: 1 });
    expect(routed.slice(-3).map((event) => event.customerId)).toEqual(['C1', 'C1', 'C1']);
  });

  it('refuses a link between two group members, with the reason, and routes the event to its own member', async () => {
    await stage.handle([
      ingested('profile.updated', { customer_id: 'C1' }),
      ingested('profile.updated', { customer_id: 'C2' }),
    ]);
    const link = linked({ customer_id: 'C1' }, { customer_id: 'C2' });

    const outcome = await stage.handle([link]);

    expect(outcome).toMatchObject({
      linked: 0,
      routed: 1,
      linksRefused: [
        {
          key: eventKeyOf(link),
          reason: 'account.linked would join two members anchored by customer_id (C1 and C2): never linked',
        },
      ],
    });
    expect(routed.at(-1)?.customerId).toBe('C1');
    expect((await graph.getProfile('customer_id:C2'))?.customerId).toBe('C2');
  });
});
