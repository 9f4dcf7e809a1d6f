import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DestinationHarness, type DestinationRunner, type ItemResult } from '@tessera/destination-kit';
import { KlaviyoEmulator, klaviyoDestination, type KlaviyoSettings } from '@tessera/destination-klaviyo';
import type { CatalogEvent } from '@tessera/events';
import { IdentityGraph, type IdentityRecord } from '@tessera/identity-graph';
import { openScratchStore, PiiVault, reclaimDeletedRows, STORE_DRIVERS, type Store } from '@tessera/store';
import {
  AuditLog,
  CONSENT_VERDICTS,
  ConsentLedger,
  decideConsent,
  DsrService,
  entriesFromConsentEvent,
  StoreConsentStateReader,
  type SubjectAccessExport,
  SuppressionList,
} from '@tessera/consent';

const MEMBER_1 = {
  email: 'zeferina.quixotaria@example.com',
  secondEmail: 'zq.second@example.com',
  phone: '07911 123456',
  e164: '+447911123456',
  firstName: 'Zeferina',
  lastName: 'Quixotaria',
  street: '7 Larkspur Mews',
};
const MEMBER_2 = { email: 'bartholomew.ostrander@example.com', firstName: 'Bartholomew' };

let sequence = 0;
function record(
  identifiers: IdentityRecord['identifiers'],
  extra: Partial<IdentityRecord> = {},
): IdentityRecord {
  sequence += 1;
  return {
    brand: 'sports-direct',
    eventTime: new Date(Date.UTC(2025, 0, 1, 0, 0, sequence)),
    eventSource: 'loyalty',
    eventId: `evt-${sequence}`,
    identifiers,
    ...extra,
  };
}

function consentEvent(
  data: Partial<CatalogEvent<'consent.changed'>['data']>,
): CatalogEvent<'consent.changed'> {
  sequence += 1;
  return {
    specversion: '1.0',
    id: `consent-${sequence}`,
    source: 'loyalty',
    type: 'consent.changed',
    data: {
      brand: 'sd',
      channel: 'email',
      status: 'granted',
      legal_basis: 'consent',
      captured_at: '2025-02-01T10:00:00Z',
      notice_version: 'n-1',
      ...data,
    },
  };
}

/** Every table's rows as text: what a database dump would show. */
async function dumpAsText(store: Store): Promise<string> {
  const tables = await store.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  const parts: string[] = [];
  for (const { table_name } of tables) {
    parts.push(`${table_name}: ${JSON.stringify(await store.query(`SELECT * FROM ${table_name}`))}`);
  }
  return parts.join('\n');
}

/**
 * Everything still sealed in the identity graph, decrypted: the dump holds ciphertext only, so this is what
 * shows whether an erasure deleted the data or merely left it encrypted.
 */
async function unsealAll(store: Store, vault: PiiVault): Promise<string> {
  const identifiers = await store.query<{ type: string; value_ciphertext: string; value_key_id: string }>(
    'SELECT type, value_ciphertext, value_key_id FROM identity_identifiers WHERE value_ciphertext IS NOT NULL',
  );
  const profiles = await store.query<{ pii_traits: string; pii_traits_key_id: string }>(
    'SELECT pii_traits, pii_traits_key_id FROM identity_profiles WHERE pii_traits IS NOT NULL',
  );
  return [
    ...identifiers.map((row) =>
      vault.decrypt(
        { ciphertext: row.value_ciphertext, keyId: row.value_key_id },
        `identity_identifiers.${row.type}`,
      ),
    ),
    ...profiles.map((row) =>
      vault.decrypt(
        { ciphertext: row.pii_traits, keyId: row.pii_traits_key_id },
        'identity_profiles.pii_traits',
      ),
    ),
  ].join('\n');
}

const PLAINTEXT_OF_MEMBER_1 = [
  MEMBER_1.email,
  MEMBER_1.secondEmail,
  '7911123456',
  '7911 123456',
  MEMBER_1.firstName,
  MEMBER_1.lastName,
  'Larkspur',
];

describe.each(STORE_DRIVERS)('data subject requests end to end on %s', (driver) => {
  let store: Store;
  let vault: PiiVault;
  let graph: IdentityGraph;
  let ledger: ConsentLedger;
  let harness: DestinationHarness<KlaviyoSettings>;
  let exportDir: string;
  let service: DsrService;
  let member1: string;
  let member2: string;
  /** How many times an erasure reclaimed the store's deleted rows (once it completed, and only then). */
  let reclaims: number;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    vault = new PiiVault([randomBytes(32)]);
    graph = new IdentityGraph({ store, vault, brands: [{ id: 'sports-direct', defaultCountry: 'GB' }] });
    ledger = new ConsentLedger(store);
    exportDir = await mkdtemp(join(tmpdir(), 'dsr-exports-'));
    reclaims = 0;
    service = new DsrService({
      store,
      graph,
      exportDir,
      reclaimDeletedRows: () => {
        reclaims += 1;
        return reclaimDeletedRows(store);
      },
    });
    harness = await DestinationHarness.start<KlaviyoSettings>({
      definition: klaviyoDestination,
      emulator: new KlaviyoEmulator(),
      settings: { apiKey: 'pk_test' },
    });

    // Member 1: a brand member, later joined to a group account with a second email (a merge in lineage).
    const first = await graph.resolveIdentities([
      record(
        { member_id: 'SD1', brand: 'sports-direct', email: MEMBER_1.email, phone: MEMBER_1.phone },
        {
          traits: {
            first_name: MEMBER_1.firstName,
            last_name: MEMBER_1.lastName,
            address: { line1: MEMBER_1.street, postcode: 'EH1 1YZ' },
            loyalty_tier: 'gold',
          },
        },
      ),
    ]);
    await graph.resolveIdentities([record({ customer_id: 'C77', email: MEMBER_1.secondEmail })]);
    const joined = await graph.resolveIdentities([record({ customer_id: 'C77', email: MEMBER_1.email })]);
    expect(joined.merges).toHaveLength(1);
    member1 = joined.records[0].customerId as string;
    expect([first.records[0].customerId, 'C77']).toContain(member1);
    const second = await graph.resolveIdentities([
      record(
        { member_id: 'SD2', brand: 'sports-direct', email: MEMBER_2.email },
        { traits: { first_name: MEMBER_2.firstName } },
      ),
    ]);
    member2 = second.records[0].customerId as string;

    // Consent: member 1 by email (under the id it had then) and by SMS; member 2 by email.
    const context = { vault, defaultCountry: 'GB', sourceId: 'loyalty', receivedAt: new Date('2025-02-02') };
    const entries = [
      consentEvent({ email: MEMBER_1.email, customer_id: first.records[0].customerId ?? undefined }),
      consentEvent({ channel: 'sms', phone: MEMBER_1.phone, customer_id: member1 }),
      consentEvent({ email: MEMBER_2.email, customer_id: member2 }),
    ].flatMap((event) => entriesFromConsentEvent(event, context).entries);
    expect(entries).toHaveLength(3);
    expect((await ledger.append(entries)).appended).toBe(3);

    // Member 1 synced to Klaviyo.
    const upserted = await harness.run('upsertProfiles', [
      {
        customerId: member1,
        version: 1,
        email: MEMBER_1.email,
        phone: MEMBER_1.e164,
        attributes: { first_name: MEMBER_1.firstName, last_name: MEMBER_1.lastName },
      },
    ]);
    expect(upserted).toEqual([expect.objectContaining({ status: 'ok' })]);
  });

  afterEach(async () => {
    await harness.close();
    await store.close();
    await rm(exportDir, { recursive: true, force: true });
  });

  const emulator = () => harness.emulator as KlaviyoEmulator;

  it('opens a tracked request with blind indexes only, resolved to every linked profile and contact point', async () => {
    const request = await service.open({
      type: 'access',
      identities: { phone: MEMBER_1.phone },
      requestedBy: 'admin:dpo',
      brand: 'sports-direct',
    });
    expect(request.status).toBe('open');
    expect(request.dueAt.getTime() - request.requestedAt.getTime()).toBe(72 * 3_600_000);
    expect(request.detail.legalDeadlines).toEqual({
      gdpr: new Date(request.requestedAt.getTime() + 30 * 86_400_000).toISOString(),
      ccpa: new Date(request.requestedAt.getTime() + 45 * 86_400_000).toISOString(),
    });
    expect(request.customerIds).toContain(member1);
    expect(request.customerIds).toContain('C77');
    expect(request.customerIds).not.toContain(member2);
    expect(request.subjectKeys.sort()).toEqual(
      [
        vault.blindIndex('email', MEMBER_1.email),
        vault.blindIndex('email', MEMBER_1.secondEmail),
        vault.blindIndex('phone', MEMBER_1.e164),
      ].sort(),
    );
    const [row] = await store.query('SELECT * FROM dsr_requests');
    const text = JSON.stringify(row).toLowerCase();
    for (const clear of PLAINTEXT_OF_MEMBER_1) expect(text).not.toContain(clear.toLowerCase());
  });

  it('exports everything linked to member 1, and nothing of member 2', async () => {
    const request = await service.open({
      type: 'access',
      identities: { email: ` ${MEMBER_1.email.toUpperCase()} ` },
      requestedBy: 'admin:dpo',
    });
    const { request: done, path } = await service.runAccess(request.id);
    expect(done.status).toBe('completed');
    expect(done.completedAt).not.toBeNull();
    expect(path).toBe(join(exportDir, `${request.id}.json`));
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    const text = await readFile(path, 'utf8');
    const exported = JSON.parse(text) as SubjectAccessExport;
    expect(exported.profiles).toHaveLength(1);
    const [profile] = exported.profiles;
    expect(profile.customerId).toBe(member1);
    expect(profile.traits).toMatchObject({ first_name: MEMBER_1.firstName, last_name: MEMBER_1.lastName });
    expect(profile.identifiers.map((identifier) => identifier.value).sort()).toEqual(
      ['C77', MEMBER_1.e164, MEMBER_1.email, MEMBER_1.secondEmail, 'SD1'].sort(),
    );
    expect(profile.lineage).toEqual([expect.objectContaining({ kind: 'merge', winner: member1 })]);
    // Both of member 1's consent entries: the email one (recorded under its id before the merge) and SMS.
    expect(exported.consentHistory.map((entry) => entry.scope.channel).sort()).toEqual(['email', 'sms']);
    expect(exported.deliveryLog).toEqual([]);
    expect(text).not.toContain(member2);
    expect(text.toLowerCase()).not.toContain('bartholomew');
    expect(text).not.toContain(vault.blindIndex('email', MEMBER_2.email));

    const audit = await new AuditLog(store).query({ action: 'dsr.export', customerId: member1 });
    expect(audit).toEqual([
      expect.objectContaining({
        actor: 'admin:dpo',
        detail: expect.objectContaining({
          requestId: request.id,
          file: `${request.id}.json`,
          consentEntries: 2,
        }),
      }),
    ]);
    await expect(service.runAccess(request.id)).rejects.toThrow(/completed/);
  });

  it('erases member 1 everywhere: graph, Klaviyo, and keeps them suppressed', async () => {
    expect(emulator().findProfile({ email: MEMBER_1.email })).toBeDefined();
    const sealedBefore = await unsealAll(store, vault);
    for (const clear of [MEMBER_1.email, MEMBER_1.secondEmail, MEMBER_1.e164, MEMBER_1.firstName, 'Larkspur'])
      expect(sealedBefore).toContain(clear);
    const request = await service.open({
      type: 'erasure',
      identities: { email: MEMBER_1.email },
      requestedBy: 'admin:dpo',
    });
    const outcome = await service.runErasure(request.id, [{ id: 'klaviyo', runner: harness.runner }]);
    expect(outcome.request.status).toBe('completed');
    expect(reclaims).toBe(1);
    expect(outcome.destinations).toEqual([
      expect.objectContaining({ destinationId: 'klaviyo', status: 'ok', detail: null }),
    ]);
    expect(outcome.request.detail.pendingDeletion).toBeUndefined();

    // Klaviyo deleted the profile.
    expect(emulator().state().deletions).toHaveLength(1);
    expect(emulator().findProfile({ email: MEMBER_1.email })).toBeUndefined();
    expect(emulator().findProfile({ externalId: member1 })).toBeUndefined();

    // No plaintext of member 1 anywhere in the database; member 2 untouched.
    const dump = (await dumpAsText(store)).toLowerCase();
    for (const clear of PLAINTEXT_OF_MEMBER_1) expect(dump).not.toContain(clear.toLowerCase());
    // Nor sealed: what is left encrypted is member 2's only.
    const sealedAfter = await unsealAll(store, vault);
    for (const clear of [MEMBER_1.email, MEMBER_1.secondEmail, MEMBER_1.e164, MEMBER_1.firstName, 'Larkspur'])
      expect(sealedAfter).not.toContain(clear);
    expect(sealedAfter).toContain(MEMBER_2.email);
    expect(sealedAfter).toContain(MEMBER_2.firstName);
    expect(await graph.getProfile(`email:${MEMBER_2.email}`, { revealPii: true })).toMatchObject({
      customerId: member2,
      traits: { first_name: MEMBER_2.firstName },
    });

    // The records kept name member 1's customer ids by their tombstone key only (the identity graph's tombstones
    // of its anchors too: it recognises a returning id by a blind index of it).
    for (const table of [
      'identity_identifiers',
      'identity_lineage',
      'identity_outbox',
      'audit_log',
      'dsr_requests',
      'consent_ledger',
    ]) {
      const text = JSON.stringify(await store.query(`SELECT * FROM ${table}`));
      for (const id of [member1, 'C77']) expect(text).not.toMatch(new RegExp(`(?<![\\w-])${id}(?![\\w-])`));
    }
    expect(
      (await store.query<{ n: number }>('SELECT count(*)::int AS n FROM identity_lineage'))[0]?.n,
    ).toBeGreaterThan(0);

    // Every contact point suppressed for every brand, by blind index.
    const emailKey = vault.blindIndex('email', MEMBER_1.email);
    const suppressions = await new SuppressionList(store).list({ brand: '*' });
    expect(suppressions.map((entry) => [entry.subjectKey, entry.reason]).sort()).toEqual(
      [
        [emailKey, 'erasure'],
        [vault.blindIndex('email', MEMBER_1.secondEmail), 'erasure'],
        [vault.blindIndex('phone', MEMBER_1.e164), 'erasure'],
      ].sort(),
    );

    // Audit: the graph erasure, each suppression and the destination's answer.
    const audit = await new AuditLog(store).query({ action: 'dsr.erasure' });
    expect(audit.map((entry) => entry.detail.step).sort()).toEqual([
      'destination',
      'identity-graph',
      'suppressed',
      'suppressed',
      'suppressed',
    ]);

    // A re-ingested event for the erased email: the graph does not revive the profile …
    const again = await graph.resolveIdentities([
      record({ member_id: 'SD9', brand: 'sports-direct', email: MEMBER_1.email }),
    ]);
    expect(again.records[0].customerId).not.toBe(member1);
    expect(again.merges).toEqual([]);
    const found = await graph.getProfile(`email:${MEMBER_1.email}`, { revealPii: true });
    expect(found?.customerId).not.toBe(member1);
    expect(found?.traits ?? {}).toEqual({});
    // … and the consent gate's answer for it is "suppressed", even after a new grant.
    const context = { vault, defaultCountry: 'GB', sourceId: 'loyalty', receivedAt: new Date('2025-03-01') };
    const regrant = entriesFromConsentEvent(
      consentEvent({ email: MEMBER_1.email, captured_at: '2025-03-01T00:00:00Z', notice_version: 'n-2' }),
      context,
    ).entries;
    await ledger.append(regrant);
    expect(await new SuppressionList(store).isSuppressed([emailKey], 'sd')).toEqual(new Set([emailKey]));
    const load = await new StoreConsentStateReader(store).load([emailKey], 'sd');
    expect(
      decideConsent({
        ...load,
        suppressed: load.suppressed.has(emailKey),
        channel: 'email',
        purpose: 'marketing',
      }),
    ).toBe(CONSENT_VERDICTS.suppressed);
  });

  it('fails when a destination does not answer ok, and a retry re-calls only that destination', async () => {
    const calls: string[] = [];
    const counted = (id: string, runner: Pick<DestinationRunner, 'run'>) => ({
      id,
      runner: {
        run: (...args: Parameters<DestinationRunner['run']>) => {
          calls.push(id);
          return runner.run(...args);
        },
      } as unknown as DestinationRunner,
    });
    let flakyAnswer: ItemResult = {
      status: 'retry',
      afterMs: 60_000,
      reason: `HTTP 429 for ${MEMBER_1.email}`,
    };
    const flaky = { run: async (_name: string, items: unknown[]) => items.map(() => flakyAnswer) };
    const destinations = [counted('klaviyo', harness.runner), counted('flaky', flaky as never)];

    const request = await service.open({
      type: 'erasure',
      identities: { customerId: 'C77' },
      requestedBy: 'admin:dpo',
    });
    const failed = await service.runErasure(request.id, destinations);
    expect(failed.request.status).toBe('failed');
    expect(reclaims).toBe(0);
    expect(failed.destinations.map((result) => [result.destinationId, result.status])).toEqual([
      ['flaky', 'retry'],
      ['klaviyo', 'ok'],
    ]);
    expect(failed.request.detail.failure).toMatchObject({
      destinations: [{ destinationId: 'flaky', status: 'retry' }],
    });
    // An answer that echoes the contact point is recorded with it redacted.
    expect(failed.destinations[0].detail).toMatch(/HTTP 429 for \[redacted\]/);
    // The graph is erased already; what the destination still needs is kept sealed, not in the clear.
    const waiting = (await dumpAsText(store)).toLowerCase();
    for (const clear of PLAINTEXT_OF_MEMBER_1) expect(waiting).not.toContain(clear.toLowerCase());
    expect(failed.request.detail.pendingDeletion).toBeDefined();

    flakyAnswer = { status: 'ok' };
    calls.length = 0;
    const retried = await service.runErasure(request.id, destinations);
    expect(calls).toEqual(['flaky']);
    expect(retried.request.status).toBe('completed');
    expect(reclaims).toBe(1);
    expect(retried.request.detail.pendingDeletion).toBeUndefined();
    expect(retried.destinations.every((result) => result.status === 'ok')).toBe(true);
    expect(emulator().state().deletions).toHaveLength(1);
  });
});
