import { createHash } from 'node:crypto';
import { STORE_DRIVERS } from '@tessera/store';
import {
  AccountLinking,
  IdentityChangeRefusedError,
  LinkTokenError,
  type LinkTokenErrorCode,
  type LinkTokenMessage,
  type LinkTokenSender,
} from '../src';
import { dumpAsText, emptyGraph, openGraph, record, type GraphFixture, customerIdOf } from './graph-fixture';

/** The pluggable delivery boundary, recording what it would have emailed. */
class RecordingSender implements LinkTokenSender {
  readonly sent: LinkTokenMessage[] = [];
  async sendLinkToken(message: LinkTokenMessage): Promise<void> {
    this.sent.push(message);
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const START = new Date('2026-03-01T12:00:00Z');

async function expectLinkError(promise: Promise<unknown>, code: LinkTokenErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(LinkTokenError);
  expect((error as LinkTokenError).code).toBe(code);
}

describe.each(STORE_DRIVERS)('account linking on %s', (driver) => {
  let fixture: GraphFixture;
  let now: Date;
  let sender: RecordingSender;
  let linking: AccountLinking;
  let legacyId: string;

  beforeAll(async () => {
    fixture = await openGraph(driver, { clock: () => now });
  }, 30_000);
  afterAll(() => fixture.close());

  beforeEach(async () => {
    await emptyGraph(fixture.store);
    now = START;
    sender = new RecordingSender();
    linking = new AccountLinking(fixture.graph, sender);
    // The legacy brand account, older than the group account: a link names the profile after it.
    const legacy = await fixture.graph.resolveIdentities([
      record(
        { member_id: 'SD123', brand: 'sports-direct', email: 'Ana.Legacy@Example.com' },
        { eventTime: new Date('2023-05-01T00:00:00Z') },
      ),
    ]);
    legacyId = customerIdOf(legacy);
    await fixture.graph.resolveIdentities([
      record(
        { customer_id: 'C1', email: 'ana@group.example.com' },
        { eventTime: new Date('2026-01-01T00:00:00Z') },
      ),
    ]);
  });

  async function issued(customerId = 'C1', legacy = 'member.sports-direct:SD123'): Promise<string> {
    await linking.issueLinkToken({ customerId, legacy });
    return sender.sent[sender.sent.length - 1].token;
  }

  it("sends one token to the legacy account's email and stores only its hash", async () => {
    const { expiresAt } = await linking.issueLinkToken({
      customerId: 'C1',
      legacy: 'member.sports-direct:SD123',
    });
    expect(expiresAt).toEqual(new Date(START.getTime() + 30 * 60_000));
    expect(sender.sent).toEqual([
      {
        to: 'ana.legacy@example.com',
        customerId: 'C1',
        legacyReference: 'member.sports-direct:SD123',
        token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        expiresAt,
      },
    ]);
    const { token } = sender.sent[0];
    const rows = await fixture.store.query(
      `SELECT t.token_hash, t.customer_id, i.type, i.scope, i.lookup_key, t.expires_at, t.consumed_at
         FROM identity_link_tokens t JOIN identity_identifiers i ON i.id = t.identifier_id`,
    );
    expect(rows).toEqual([
      {
        token_hash: sha256(token),
        customer_id: 'C1',
        type: 'member',
        scope: 'sports-direct',
        lookup_key: 'SD123',
        expires_at: expiresAt,
        consumed_at: null,
      },
    ]);
    const dump = await dumpAsText(fixture.store);
    expect(dump).not.toContain(token);
    expect(dump).not.toContain('ana.legacy');
  });

  it('withdraws the token when it cannot be delivered', async () => {
    const failing = new AccountLinking(fixture.graph, {
      sendLinkToken: () => Promise.reject(new Error('mail provider down')),
    });
    await expect(
      failing.issueLinkToken({ customerId: 'C1', legacy: 'member.sports-direct:SD123' }),
    ).rejects.toThrow('mail provider down');
    expect(await fixture.store.query('SELECT token_hash FROM identity_link_tokens')).toEqual([]);
  });

  it('links the accounts when the member presents the token, once', async () => {
    const token = await issued();
    now = new Date(START.getTime() + 10 * 60_000);
    const linked = await linking.consumeLinkToken({ customerId: 'C1', token });

    expect(linked.customerId).toBe(legacyId);
    expect(linked.merges).toEqual([
      expect.objectContaining({ from: 'C1', to: legacyId, rule: 'link: member-proven account link' }),
    ]);
    expect((await fixture.graph.getProfile('customer_id:C1'))?.customerId).toBe(legacyId);
    const edges = await fixture.store.query(
      'SELECT kind, actor, consent_reference, event_time FROM identity_edges WHERE kind = $1',
      ['link'],
    );
    expect(edges).toEqual([
      {
        kind: 'link',
        actor: 'member:C1',
        consent_reference: `link-token:${sha256(token).slice(0, 12)}`,
        event_time: now,
      },
    ]);
    const lineage = await fixture.store.query(
      'SELECT kind, winner, loser, rule, actor FROM identity_lineage',
    );
    expect(lineage).toEqual([
      {
        kind: 'merge',
        winner: legacyId,
        loser: 'C1',
        rule: 'link: member-proven account link',
        actor: 'member:C1',
      },
    ]);
    expect(await fixture.store.query('SELECT consumed_at FROM identity_link_tokens')).toEqual([
      { consumed_at: now },
    ]);

    await expectLinkError(linking.consumeLinkToken({ customerId: 'C1', token }), 'already_used');
  });

  it('refuses an expired token', async () => {
    const token = await issued();
    now = new Date(START.getTime() + 30 * 60_000);
    await expectLinkError(linking.consumeLinkToken({ customerId: 'C1', token }), 'expired');
    expect(await fixture.store.query('SELECT id FROM identity_lineage')).toEqual([]);
  });

  it('refuses a token presented by another account and leaves it usable', async () => {
    await fixture.graph.resolveIdentities([record({ customer_id: 'C2' })]);
    const token = await issued();
    await expectLinkError(linking.consumeLinkToken({ customerId: 'C2', token }), 'wrong_account');
    expect(await fixture.store.query('SELECT consumed_at FROM identity_link_tokens')).toEqual([
      { consumed_at: null },
    ]);
    expect((await linking.consumeLinkToken({ customerId: 'C1', token })).customerId).toBe(legacyId);
  });

  it('refuses an unknown token', async () => {
    await issued();
    await expectLinkError(
      linking.consumeLinkToken({ customerId: 'C1', token: 'not-a-token' }),
      'unknown_token',
    );
  });

  it('refuses to issue for an unknown legacy account or one without an email', async () => {
    await fixture.graph.resolveIdentities([
      record({ member_id: 'SD456', brand: 'sports-direct', phone: '07700 900456' }),
    ]);
    await expectLinkError(
      linking.issueLinkToken({ customerId: 'C1', legacy: 'member.sports-direct:SD999' }),
      'not_found',
    );
    await expectLinkError(
      linking.issueLinkToken({ customerId: 'C1', legacy: 'member.sports-direct:SD456' }),
      'no_email',
    );
    expect(sender.sent).toEqual([]);
    expect(await fixture.store.query('SELECT token_hash FROM identity_link_tokens')).toEqual([]);
  });

  async function expectRefusedAndUnused(token: string, message: string): Promise<void> {
    await expect(linking.consumeLinkToken({ customerId: 'C1', token })).rejects.toThrow(
      new IdentityChangeRefusedError(message),
    );
    const [row] = await fixture.store.query(
      'SELECT consumed_at FROM identity_link_tokens WHERE token_hash = $1',
      [sha256(token)],
    );
    expect(row).toEqual({ consumed_at: null });
    expect((await fixture.graph.getProfile('member.sports-direct:SD123'))?.customerId).toBe(legacyId);
  }

  it('keeps the token unused when the link would take a member id the account holds off it', async () => {
    // The group account already holds another Sports Direct member id, through an event: the link
    // outranks that evidence, so accepting it would split SD777 off the account.
    await fixture.graph.resolveIdentities([
      record({ customer_id: 'C1', member_id: 'SD777', brand: 'sports-direct' }),
    ]);
    const token = await issued();
    await expectRefusedAndUnused(
      token,
      'the change conflicts with identifiers these profiles already hold: it would split off member.sports-direct',
    );
    expect(await fixture.store.query("SELECT id FROM identity_edges WHERE kind = 'link'")).toEqual([]);
    expect((await fixture.graph.getProfile('member.sports-direct:SD777'))?.customerId).toBe('C1');
  });

  it('keeps the token unused when an earlier link holds another member id of the brand', async () => {
    await fixture.graph.resolveIdentities([
      record({ member_id: 'SD777', brand: 'sports-direct', email: 'ana.old@example.com' }),
    ]);
    await linking.consumeLinkToken({
      customerId: 'C1',
      token: await issued('C1', 'member.sports-direct:SD777'),
    });
    now = new Date(START.getTime() + 60_000);
    const token = await issued();
    await expectRefusedAndUnused(
      token,
      'anchor conflict: two different member.sports-direct values never merge',
    );
  });

  it("joins a guest's anonymous profile to the member's when an event carries both", async () => {
    const guest = await fixture.graph.resolveIdentities([record({ anonymous_id: 'anon-42' })]);
    expect(guest.records[0].customerId).not.toBe('C1');
    const checkout = await fixture.graph.resolveIdentities([
      record({ email: 'ana@group.example.com', anonymous_id: 'anon-42' }),
    ]);
    expect(checkout.records[0].customerId).toBe('C1');
    expect(checkout.merges).toEqual([
      expect.objectContaining({ from: guest.records[0].customerId, to: 'C1' }),
    ]);
    expect((await fixture.graph.getProfile('anonymous_id:anon-42'))?.customerId).toBe('C1');
  });
});
