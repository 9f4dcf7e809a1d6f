import { STORE_DRIVERS } from '@tessera/store';
import { IdentityNotFoundError } from '../src';
import { customerIdOf, dumpAsText, openGraph, record, type GraphFixture } from './graph-fixture';

const at = (iso: string) => new Date(iso);

describe.each(STORE_DRIVERS)('erasing a profile on %s', (driver) => {
  let fixture: GraphFixture;
  beforeEach(async () => (fixture = await openGraph(driver)));
  afterEach(() => fixture.close());

  /** Two profiles of one person merged by a later event (with PII traits), and an unrelated member. */
  async function seed() {
    const { graph } = fixture;
    const older = customerIdOf(
      await graph.resolveIdentities([
        record(
          { member_id: 'SD1', brand: 'sports-direct', email: 'zeferina@example.com', phone: '07700900123' },
          {
            eventTime: at('2024-01-01T00:00:00Z'),
            traits: {
              first_name: 'Zeferina',
              last_name: 'Quixotaria',
              address: { line1: '7 Larkspur Mews', postcode: 'EH1 1YZ' },
              date_of_birth: '1980-02-03',
              loyalty_tier: 'gold',
            },
          },
        ),
      ]),
    );
    const newer = customerIdOf(
      await graph.resolveIdentities([
        record(
          { customer_id: 'C77', email: 'zq.second@example.com' },
          { eventTime: at('2025-01-01T00:00:00Z') },
        ),
      ]),
    );
    const merged = await graph.resolveIdentities([
      record(
        { customer_id: 'C77', email: 'zeferina@example.com' },
        { eventTime: at('2025-02-01T00:00:00Z') },
      ),
    ]);
    expect(merged.merges).toHaveLength(1);
    const other = customerIdOf(
      await graph.resolveIdentities([
        record(
          { member_id: 'SD2', brand: 'sports-direct', email: 'bartholomew@example.com' },
          { eventTime: at('2024-06-01T00:00:00Z'), traits: { first_name: 'Bartholomew' } },
        ),
      ]),
    );
    const survivor = customerIdOf(merged);
    return { older, newer, survivor, other };
  }

  it('deletes every sealed value and PII trait of the profile and the profiles merged into it', async () => {
    const { graph, store } = fixture;
    const { older, newer, survivor, other } = await seed();
    expect([older, newer]).toContain(survivor);
    const lineageBefore = await store.query('SELECT * FROM identity_lineage ORDER BY id');

    // A merged-away id names the same person: the active profile is erased.
    const loser = survivor === older ? newer : older;
    const report = await graph.eraseProfile(loser, { actor: 'admin:dpo', reason: 'dsr test' });
    expect(report).toMatchObject({
      customerId: survivor,
      identifiersTombstoned: 5,
      sealedValuesDeleted: 3,
      profilesErased: 2,
    });
    expect(report.customerIds.sort()).toEqual([older, newer].sort());
    expect(report.contactPoints.map((point) => point.type).sort()).toEqual(['email', 'email', 'phone']);
    expect(report.contactPoints.map((point) => point.lookupKey)).toContain(
      graph.keys.lookupKey({ type: 'email', value: 'zeferina@example.com' }),
    );

    const dump = await dumpAsText(store);
    for (const clear of [
      'zeferina@example.com',
      'zq.second@example.com',
      '07700900123',
      '7700900123',
      'Zeferina',
      'Quixotaria',
      'Larkspur',
      '1980-02-03',
    ]) {
      expect(dump).not.toContain(clear);
    }
    // Sealed values are gone too (not only hidden): what is left decrypts to the other member's data only.
    const sealed = await store.query<{ type: string; value_ciphertext: string; value_key_id: string }>(
      'SELECT type, value_ciphertext, value_key_id FROM identity_identifiers WHERE value_ciphertext IS NOT NULL',
    );
    expect(
      sealed.map((row) =>
        fixture.vault.decrypt(
          { ciphertext: row.value_ciphertext, keyId: row.value_key_id },
          `identity_identifiers.${row.type}`,
        ),
      ),
    ).toEqual(['bartholomew@example.com']);
    const profileRows = await store.query<{ customer_id: string; pii_traits: string | null }>(
      'SELECT customer_id, pii_traits FROM identity_profiles',
    );
    expect(profileRows.map((row) => row.customer_id)).toEqual([other]);
    // Every identifier of the erased profile is a tombstone.
    const identifiers = await store.query<{
      customer_id: string;
      value_ciphertext: string | null;
      quarantined_reason: string | null;
    }>('SELECT customer_id, value_ciphertext, quarantined_reason FROM identity_identifiers ORDER BY id');
    const erased = identifiers.filter((row) => row.quarantined_reason === 'erased');
    expect(erased).toHaveLength(5);
    expect(erased.every((row) => row.value_ciphertext === null)).toBe(true);
    expect(erased.map((row) => row.customer_id)).not.toContain(survivor);
    expect(new Set(erased.map((row) => row.customer_id)).size).toBe(5);
    // Identifiers keyed by their value (member and customer ids) keep a blind index instead.
    const keys = await store.query<{ type: string; lookup_key: string }>(
      "SELECT type, lookup_key FROM identity_identifiers WHERE quarantined_reason = 'erased' ORDER BY type",
    );
    expect(keys.map((row) => row.lookup_key)).not.toContain('SD1');
    expect(keys.map((row) => row.lookup_key)).not.toContain('C77');
    expect(keys.filter((row) => row.type === 'member' || row.type === 'customer_id')).toEqual([
      { type: 'customer_id', lookup_key: graph.keys.tombstoneKey('customer_id', 'C77') },
      { type: 'member', lookup_key: graph.keys.tombstoneKey('member', 'SD1') },
    ]);
    // Lineage stays as it was (customer ids only).
    expect(await store.query('SELECT * FROM identity_lineage ORDER BY id')).toEqual(lineageBefore);

    // The other member is untouched.
    const kept = await graph.getProfile('email:bartholomew@example.com', { revealPii: true });
    expect(kept).toMatchObject({ customerId: other, traits: { first_name: 'Bartholomew' } });
    expect(dump).toContain(other);

    // Nothing usable is found by any of the erased identifiers.
    for (const reference of [
      'email:zeferina@example.com',
      'phone:07700900123',
      'member.sports-direct:SD1',
      `customer_id:${survivor}`,
      `customer_id:${loser}`,
    ]) {
      const profile = await graph.getProfile(reference, { revealPii: true });
      expect(profile?.customerId).not.toBe(survivor);
      expect(profile?.traits ?? {}).toEqual({});
    }

    await expect(graph.eraseProfile(survivor, { actor: 'admin:dpo', reason: 'again' })).rejects.toThrow(
      IdentityNotFoundError,
    );
  });

  it('never attaches a later event with an erased identifier to the erased profile, nor links through it', async () => {
    const { graph, store } = fixture;
    const { survivor, other } = await seed();
    await graph.eraseProfile(survivor, { actor: 'admin:dpo', reason: 'dsr test' });

    // The email alone: it resolves to its tombstone, not to the erased profile.
    const alone = await graph.resolveIdentities([record({ email: 'zeferina@example.com' })]);
    expect(alone.records[0].customerId).not.toBe(survivor);
    expect(alone.merges).toEqual([]);

    // With a new member id: a new profile, and the erased email stays out of it.
    const rejoined = await graph.resolveIdentities([
      record(
        { member_id: 'SD9', brand: 'sports-direct', email: 'zeferina@example.com' },
        { traits: { first_name: 'Zeferina' } },
      ),
    ]);
    const fresh = customerIdOf(rejoined);
    expect(fresh).not.toBe(survivor);
    expect(rejoined.merges).toEqual([]);
    expect(rejoined.records[0].dropped.map((dropped) => dropped.field)).toEqual(['email']);
    const profile = await graph.getProfile('member.sports-direct:SD9', { revealPii: true });
    expect(profile?.identifiers.map((identifier) => identifier.label)).toEqual(['member.sports-direct']);

    // Two erased identifiers in one event do not link again, and the other member is not pulled in.
    const both = await graph.resolveIdentities([
      record({ member_id: 'SD1', brand: 'sports-direct', email: 'bartholomew@example.com' }),
    ]);
    expect(both.merges).toEqual([]);
    expect((await graph.getProfile('email:bartholomew@example.com'))?.customerId).toBe(other);
    // The member id was recognised by its tombstone (no second row, none keyed by the value).
    const members = await store.query<{
      customer_id: string;
      quarantined_reason: string;
      lookup_key: string;
    }>(
      "SELECT customer_id, quarantined_reason, lookup_key FROM identity_identifiers WHERE type = 'member' AND scope = 'sports-direct' AND lookup_key NOT IN ('SD9', 'SD2')",
    );
    expect(members).toHaveLength(1);
    const [tombstone] = members;
    expect(tombstone.lookup_key).toBe(graph.keys.tombstoneKey('member', 'SD1'));
    expect(tombstone.quarantined_reason).toBe('erased');
    expect(tombstone.customer_id).not.toBe(survivor);
    expect(tombstone.customer_id).not.toBe(other);
    // A group customer id too, alone: it resolves to its tombstone, not to a new profile under its own value.
    const customer = await graph.resolveIdentities([record({ customer_id: 'C77' })]);
    expect(customer.records[0].customerId).not.toBe('C77');
    expect(
      await store.query(
        "SELECT 1 FROM identity_identifiers WHERE type = 'customer_id' AND lookup_key = 'C77'",
      ),
    ).toEqual([]);
  });

  it('keeps an erased person erased: a later event of theirs makes no profile, and none is shown (issue 19, item 6)', async () => {
    const { graph, store } = fixture;
    const { survivor } = await seed();
    await graph.eraseProfile(survivor, { actor: 'admin:dpo', reason: 'dsr test' });
    const profilesBefore = await store.query(
      'SELECT customer_id FROM identity_profiles ORDER BY customer_id',
    );

    // A later event with the erased email, member id and customer id, and a name: nothing takes it.
    const later = await graph.resolveIdentities([
      record(
        { customer_id: 'C77', member_id: 'SD1', brand: 'sports-direct', email: 'zeferina@example.com' },
        { traits: { first_name: 'Zeferina', loyalty_tier: 'gold' } },
      ),
    ]);
    expect(later.records[0]).toMatchObject({ customerId: null, identifiers: [], erased: true });
    expect(later.records[0].dropped.map((dropped) => dropped.field).sort()).toEqual([
      'customer_id',
      'email',
      'member.sports-direct',
    ]);
    expect(later.records[0].dropped.every((dropped) => dropped.reason.startsWith('erased'))).toBe(true);
    expect(await store.query('SELECT customer_id FROM identity_profiles ORDER BY customer_id')).toEqual(
      profilesBefore,
    );
    expect(await dumpAsText(store)).not.toContain('Zeferina');
    // The tombstone is never shown as a profile, by any of its identifiers.
    for (const reference of ['email:zeferina@example.com', 'member.sports-direct:SD1', 'customer_id:C77'])
      expect(await graph.getProfile(reference, { revealPii: true })).toBeUndefined();

    // An erased identifier beside a live one: the record is the live one's, the erased one dropped.
    const beside = await graph.resolveIdentities([
      record({ email: 'zeferina@example.com', phone: '07700900999' }, { traits: { first_name: 'Other' } }),
    ]);
    expect(beside.records[0].erased).toBeUndefined();
    expect(beside.records[0].identifiers.map((identifier) => identifier.type)).toEqual(['phone']);
    expect(beside.records[0].dropped.map((dropped) => dropped.field)).toEqual(['email']);
  });

  it('brings an erased person back on a registration after the erasure, and only then', async () => {
    const { graph, store } = fixture;
    const { survivor } = await seed();
    const report = await graph.eraseProfile(survivor, { actor: 'admin:dpo', reason: 'dsr test' });
    const before = new Date(report.erasedAt.getTime() - 60_000);
    const after = new Date(report.erasedAt.getTime() + 60_000);

    // A consent grant captured before the erasure (arriving late) registers nothing.
    const late = await graph.resolveIdentities([
      record({ email: 'zeferina@example.com' }, { registeredAt: before, eventTime: before }),
    ]);
    expect(late.records[0]).toMatchObject({ customerId: null, erased: true });

    // One captured after it: the email lives again, as a new identifier of a new profile.
    const back = await graph.resolveIdentities([
      record(
        { email: 'zeferina@example.com', member_id: 'SD1', brand: 'sports-direct' },
        { registeredAt: after, eventTime: after, traits: { first_name: 'Zeferina' } },
      ),
    ]);
    const returned = back.records[0].customerId;
    expect(returned).not.toBeNull();
    expect(back.records[0].dropped).toEqual([]);
    // A new profile (its id derives from the member id, as the first one's did): nothing of the erased one.
    const profile = await graph.getProfile('email:zeferina@example.com', { revealPii: true });
    expect(profile).toMatchObject({ customerId: returned, traits: { first_name: 'Zeferina' } });
    expect(profile?.traits).not.toHaveProperty('last_name');
    expect(profile?.traits).not.toHaveProperty('loyalty_tier');
    expect(profile?.identifiers.map((identifier) => identifier.label).sort()).toEqual([
      'email',
      'member.sports-direct',
    ]);
    expect((await graph.getProfile('member.sports-direct:SD1'))?.customerId).toBe(returned);
    // The old tombstones are set aside, found by nothing, holding nothing.
    const revived = await store.query<{ quarantined_reason: string; value_ciphertext: string | null }>(
      "SELECT quarantined_reason, value_ciphertext FROM identity_identifiers WHERE lookup_key LIKE 'revived:%'",
    );
    expect(revived).toHaveLength(2);
    expect(revived.every((row) => row.quarantined_reason === 'erased' && row.value_ciphertext === null)).toBe(
      true,
    );
    // The phone, not registered, stays erased.
    const phone = await graph.resolveIdentities([record({ phone: '07700900123' })]);
    expect(phone.records[0]).toMatchObject({ customerId: null, erased: true });
  });

  it('counts the ids of identifiers that joined the profile among the person’s, for everything the erasure rewrites', async () => {
    const { graph, store } = fixture;
    const first = customerIdOf(await graph.resolveIdentities([record({ email: 'joiner@example.com' })]));
    // A phone joins the profile through the shared email: a join in lineage, naming the id it would have had.
    await graph.resolveIdentities([record({ email: 'joiner@example.com', phone: '07700900555' })]);
    const joins = await store.query<{ loser: string }>(
      "SELECT loser FROM identity_lineage WHERE kind = 'join' AND winner = $1",
      [first],
    );
    expect(joins).toHaveLength(1);
    const report = await graph.eraseProfile(first, { actor: 'admin:dpo', reason: 'dsr test' });
    expect(report.customerIds).toEqual([first, joins[0].loser]);
  });

  it('re-keys tombstones an earlier release left keyed by their value, once', async () => {
    const { graph, store } = fixture;
    const { survivor, other } = await seed();
    await graph.eraseProfile(survivor, { actor: 'admin:dpo', reason: 'dsr test' });
    const tombstoneKey = graph.keys.tombstoneKey('member', 'SD1');
    // What an earlier release wrote: the erased member id as its own lookup key.
    await store.query("UPDATE identity_identifiers SET lookup_key = 'SD1' WHERE lookup_key = $1", [
      tombstoneKey,
    ]);

    expect(await graph.rekeyClearTombstones()).toBe(1);
    expect(await graph.rekeyClearTombstones()).toBe(0);
    const [row] = await store.query<{ lookup_key: string; quarantined_reason: string }>(
      "SELECT lookup_key, quarantined_reason FROM identity_identifiers WHERE type = 'member' AND scope = 'sports-direct' AND quarantined_reason = 'erased'",
    );
    expect(row).toEqual({ lookup_key: tombstoneKey, quarantined_reason: 'erased' });
    // Erased emails keep their blind index: it is what the suppression list keys.
    const email = graph.keys.lookupKey({ type: 'email', value: 'zeferina@example.com' });
    expect(
      await store.query('SELECT quarantined_reason FROM identity_identifiers WHERE lookup_key = $1', [email]),
    ).toEqual([{ quarantined_reason: 'erased' }]);
    // And the re-keyed tombstone still keeps the member id out of the other member's profile.
    const both = await graph.resolveIdentities([
      record({ member_id: 'SD1', brand: 'sports-direct', email: 'bartholomew@example.com' }),
    ]);
    expect(both.merges).toEqual([]);
    expect((await graph.getProfile('email:bartholomew@example.com'))?.customerId).toBe(other);
  });
});
