import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { ConsentGate, ConsentLedger, StoreConsentStateReader, type ConsentEntry } from '@tessera/consent';
import { CaptureEmulator, type DestinationPackage } from '@tessera/destination-kit';
import type { CatalogEvent } from '@tessera/events';
import { IdentityGraph } from '@tessera/identity-graph';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { compileRules, definePlugin, type ConfiguredPlugin } from '@tessera/transform';
import {
  MappingPreview,
  PreviewEventNotFoundError,
  PreviewInputError,
  RawEventLog,
  type PreviewDestination,
} from '../../src';
import { echoDestination } from '../support/echo-destination';

const echo: DestinationPackage = {
  definition: echoDestination(100),
  createEmulator: () => new CaptureEmulator(),
};

const tierRules = compileRules({ mappings: { loyalty_tier: 'profile.?loyalty_tier.orValue("Member")' } });

const pointsEvent = (customerId: string, email: string) => ({
  type: 'points.updated',
  source: 'loyalty-platform',
  id: `evt-${customerId}`,
  time: '2026-11-24T09:30:00Z',
  data: { customer_id: customerId, email, delta: 10, new_balance: 110 },
});

const throwingPlugin: ConfiguredPlugin = {
  name: 'broken',
  module: '@tessera/pipeline/test',
  exportName: 'broken',
  config: {},
  plugin: definePlugin({
    name: 'broken',
    version: '0.1.0',
    description: 'Always throws.',
    configSchema: { type: 'object' },
    transform: () => {
      throw new Error('no tier table loaded');
    },
  }),
};

/** The tables a preview must leave alone. */
const countRows = (store: Store) =>
  store.query<Record<string, number>>(
    `SELECT (SELECT count(*)::int FROM identity_identifiers) AS identifiers,
            (SELECT count(*)::int FROM identity_profiles) AS profiles,
            (SELECT count(*)::int FROM raw_events) AS raw_events,
            (SELECT count(*)::int FROM delivery_log) AS delivery_log,
            (SELECT count(*)::int FROM audit_log) AS audit_log,
            (SELECT count(*)::int FROM consent_ledger) AS consent_ledger`,
  );

// The preview on the real store (both drivers) and the real Redis (the consent gate), with the echo
// destination's request builders run against a capture emulator; its configured host counts what reaches it.
describe.each(STORE_DRIVERS)('MappingPreview on %s', (driver) => {
  let store: Store;
  let redis: Redis;
  let prefix: string;
  let vault: PiiVault;
  let graph: IdentityGraph;
  let gate: ConsentGate;
  let preview: MappingPreview;
  let configuredHost: Server;
  let configuredUrl: string;
  let hitsAtConfiguredHost: number;
  let destination: PreviewDestination;

  beforeAll(async () => {
    store = await openScratchStore(driver);
    redis = new Redis(TEST_REDIS_URL);
    vault = new PiiVault([randomBytes(32)]);
    hitsAtConfiguredHost = 0;
    configuredHost = createServer((_request, response) => {
      hitsAtConfiguredHost += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => configuredHost.listen(0, '127.0.0.1', resolve));
    configuredUrl = `http://127.0.0.1:${(configuredHost.address() as AddressInfo).port}/echo`;
  }, 30_000);
  afterAll(async () => {
    await new Promise((resolve) => configuredHost.close(resolve));
    await store.close();
    redis.disconnect();
  });

  beforeEach(async () => {
    prefix = uniqueRedisPrefix();
    graph = new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] });
    gate = new ConsentGate({ reader: new StoreConsentStateReader(store), redis, prefix });
    await gate.start();
    preview = new MappingPreview({
      graph,
      gate,
      store,
      vault,
      brandOf: (brand) => ({ id: brand, name: 'Sports Direct', defaultCountry: 'GB' }),
      now: () => new Date('2026-11-24T10:00:00Z'),
    });
    destination = {
      id: 'sd-echo',
      brand: 'sd',
      type: 'echo',
      package: echo,
      settings: { apiKey: 'echo-secret-key', baseUrl: configuredUrl },
      plugins: [],
    };
  });
  afterEach(async () => {
    await gate.close();
    await deleteKeysWithPrefix(redis, prefix);
  });

  async function grant(email: string): Promise<void> {
    const entry: ConsentEntry = {
      subject: { type: 'email', key: vault.blindIndex('email', email) },
      scope: { brand: 'sd', channel: 'email', purpose: 'marketing' },
      decision: 'granted',
      legalBasis: 'consent',
      provenance: {
        source: 'loyalty',
        capturedAt: '2026-11-01T00:00:00Z',
        receivedAt: '2026-11-01T00:00:01Z',
        actor: 'source:loyalty',
      },
      dedupeKey: `event:test:${email}`,
    };
    await new ConsentLedger(store).append([entry]);
  }

  it('builds a new profile from the event alone: the upsert, its request at the configured host (credentials masked), nothing sent there', async () => {
    const result = await preview.preview({
      destination,
      rules: tierRules,
      event: pointsEvent('C-new', 'new@example.com'),
      personalData: 'shown',
    });

    expect(result.operations).toEqual([
      {
        operation: 'upsertProfiles',
        customerId: 'C-new',
        item: {
          customerId: 'C-new',
          version: 1,
          email: 'new@example.com',
          // No consent record: the destination's default policy (minimal) leaves the attributes out.
          attributes: {},
        },
        consent: {
          allowed: true,
          reason: 'no consent record (fail closed): member record only, not subscribed',
        },
      },
    ]);
    expect(result.requests).toEqual([
      {
        method: 'POST',
        url: `${configuredUrl}/profiles`,
        headers: expect.objectContaining({ 'x-api-key': '***', 'content-type': 'application/json' }),
        body: [expect.objectContaining({ customerId: 'C-new', attributes: {} })],
      },
    ]);
    expect(result.withoutGrant).toEqual({
      customerId: 'C-new',
      policy: 'minimal',
      consent: 'no_record',
      sent: 'minimal',
      leftOut: ['loyalty_tier'],
      subscription: 'never_subscribed',
    });
    expect(result.notes).toContain(
      'without-grant policy minimal: email consent at brand sd is no record — sent as minimal (left out: loyalty_tier), subscription never subscribed',
    );
    expect(JSON.stringify(result)).not.toContain('echo-secret-key');
    expect(result.notes).toContain(
      'no stored profile: built from the event alone (customer C-new, the id the identity graph would give it)',
    );
    expect(result.notes).toContain(
      'consent: no grant for email at brand sd (no consent record (fail closed): member record only, not subscribed) — subscribe and addToSegment operations would be refused',
    );
    expect(hitsAtConfiguredHost).toBe(0);
  });

  it('uses the stored profile with the event applied, and writes nothing anywhere', async () => {
    await graph.resolveIdentities([
      {
        brand: 'sd',
        eventTime: new Date('2026-11-20T09:00:00Z'),
        identifiers: { customer_id: 'C-gold', email: 'gold@example.com' },
        traits: { loyalty_tier: 'Gold', points_balance: 100 },
      },
    ]);
    await grant('gold@example.com');
    const before = await countRows(store);

    const result = await preview.preview({
      destination,
      rules: compileRules({
        mappings: {
          loyalty_tier: 'profile.?loyalty_tier.orValue("Member")',
          points: 'profile.?points_balance.orValue(0)',
          email_consent: 'profile.?marketing_consent.email.orValue("none")',
        },
        segments: [{ segment: 'VIP', when: 'profile.?loyalty_tier.orValue("") == "Gold"' }],
      }),
      event: pointsEvent('C-gold', 'gold@example.com'),
      personalData: 'shown',
    });

    expect(result.operations.map((operation) => [operation.operation, operation.consent])).toEqual([
      ['upsertProfiles', { allowed: true, reason: 'granted (consent)' }],
      ['addToSegment', { allowed: true, reason: 'granted (consent)' }],
    ]);
    // Subscribed by the grant, though no subscribe is listed: the echo destination declares none.
    expect(result.withoutGrant).toMatchObject({
      consent: 'granted',
      sent: 'full',
      subscription: 'subscribed',
    });
    expect(result.operations[0]?.item).toEqual({
      customerId: 'C-gold',
      version: 2,
      email: 'gold@example.com',
      attributes: { loyalty_tier: 'Gold', points: 110, email_consent: 'granted' },
    });
    expect(result.notes).toContain(
      'profile of customer C-gold as stored (version 1), with the event applied (version 2)',
    );
    expect(result.notes).toContain('consent: email at brand sd: granted (consent)');
    // The echo destination declares no segments: said, not thrown.
    expect(result.notes).toContain('Echo has no addToSegment operation: the deliver stage could not send it');
    expect(result.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      `POST ${configuredUrl}/profiles`,
    ]);

    expect(await countRows(store)).toEqual(before);
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
    expect(hitsAtConfiguredHost).toBe(0);
  });

  it("shows which without-grant policy applied and what it left out: 'none' for a withdrawn member, only the unsubscribe", async () => {
    await graph.resolveIdentities([
      {
        brand: 'sd',
        eventTime: new Date('2026-11-20T09:00:00Z'),
        identifiers: { customer_id: 'C-gone', email: 'gone@example.com' },
        traits: { loyalty_tier: 'Gold', first_name: 'Gone' },
      },
    ]);
    await new ConsentLedger(store).append([
      {
        subject: { type: 'email', key: vault.blindIndex('email', 'gone@example.com') },
        scope: { brand: 'sd', channel: 'email', purpose: 'marketing' },
        decision: 'withdrawn',
        legalBasis: 'consent',
        provenance: {
          source: 'loyalty',
          capturedAt: '2026-11-02T00:00:00Z',
          receivedAt: '2026-11-02T00:00:01Z',
          actor: 'source:loyalty',
        },
        dedupeKey: 'event:test:gone-withdrawn',
      },
    ]);
    const perform = async (items: unknown[]) => items.map(() => ({ status: 'ok' as const }));
    const subscribing: DestinationPackage = {
      ...echo,
      definition: {
        ...echo.definition,
        operations: {
          ...echo.definition.operations,
          subscribe: { batchSize: 10, perform },
          unsubscribe: { batchSize: 10, perform },
        },
      },
    };
    const consentEvent = {
      type: 'consent.changed',
      source: 'loyalty-platform',
      id: 'evt-gone-consent',
      time: '2026-11-24T09:30:00Z',
      data: {
        customer_id: 'C-gone',
        email: 'gone@example.com',
        brand: 'sd',
        channel: 'email',
        status: 'withdrawn',
        legal_basis: 'consent',
        captured_at: '2026-11-02T00:00:00Z',
        notice_version: 'v1',
      },
    };
    const withRules = (withoutGrant: string) =>
      preview.preview({
        destination: {
          ...destination,
          package: subscribing,
          settings: { ...destination.settings, withoutGrant },
        },
        rules: compileRules({
          mappings: {
            loyalty_tier: 'profile.?loyalty_tier.orValue("Member")',
            name: 'profile.?first_name.orValue("")',
          },
        }),
        event: consentEvent,
        personalData: 'shown',
      });

    const none = await withRules('none');
    expect(none.operations.map((operation) => operation.operation)).toEqual(['unsubscribe']);
    expect(none.operations[0]?.item).toEqual({
      customerId: 'C-gone',
      channel: 'email',
      email: 'gone@example.com',
      changedAt: '2026-11-02T00:00:00.000Z',
    });
    expect(none.withoutGrant).toEqual({
      customerId: 'C-gone',
      policy: 'none',
      consent: 'withdrawn',
      sent: 'none',
      leftOut: ['operation:upsertProfiles'],
      subscription: 'unsubscribed',
    });
    expect(none.notes).toContain(
      'without-grant policy none: email consent at brand sd is withdrawn — sent as none (left out: operation:upsertProfiles), subscription unsubscribed',
    );

    const full = await withRules('full');
    expect(full.operations.map((operation) => operation.operation)).toEqual([
      'upsertProfiles',
      'unsubscribe',
    ]);
    expect((full.operations[0]?.item as { attributes: unknown }).attributes).toEqual({
      loyalty_tier: 'Gold',
      name: 'Gone',
    });
    expect(full.withoutGrant).toMatchObject({ policy: 'full', sent: 'full', leftOut: [] });
  });

  it('refuses message-triggering operations without a grant, and says so', async () => {
    const result = await preview.preview({
      destination,
      rules: compileRules({ segments: [{ segment: 'all', when: 'true' }] }),
      event: pointsEvent('C-nogrant', 'nogrant@example.com'),
      personalData: 'shown',
    });
    expect(result.operations).toEqual([
      expect.objectContaining({
        operation: 'addToSegment',
        consent: {
          allowed: false,
          reason: 'no consent record (fail closed): member record only, not subscribed',
        },
      }),
    ]);
    expect(result.requests).toEqual([]);
    expect(result.notes).toContain(
      'consent: no grant for email at brand sd (no consent record (fail closed): member record only, not subscribed) — subscribe and addToSegment operations would be refused',
    );
  });

  it('returns a rule or plugin failing at run time as a note, not an error', async () => {
    const failing = (mappings: Record<string, string>) =>
      preview.preview({
        destination: { ...destination, plugins: [throwingPlugin] },
        rules: compileRules({ mappings }),
        event: pointsEvent('C-fail', 'fail@example.com'),
        personalData: 'shown',
      });
    const failures = (notes: string[]) =>
      notes.filter((note) => note.startsWith('rule ') || note.startsWith('plugin '));

    const division = await failing({ ratio: 'event.data.delta / 0' });
    expect(division.operations).toEqual([]);
    expect(division.requests).toEqual([]);
    expect(failures(division.notes)).toEqual([
      'rule mappings.ratio (1:1) `event.data.delta / 0` failed: division by zero — the rules produce nothing for this event',
      'plugin broken failed: plugin "broken": no tier table loaded — it produces nothing for this event',
    ]);

    const missing = await failing({ reason: 'event.data.reason' });
    expect(failures(missing.notes)[0]).toMatch(
      /^rule mappings\.reason \(1:\d+\) `event\.data\.reason` failed: .*reason.* — the rules produce nothing for this event$/,
    );
  });

  it('throws PreviewInputError with a pointer for an unknown type or invalid data', async () => {
    const invalid = { ...pointsEvent('C-bad', 'bad@example.com') };
    invalid.data = { ...invalid.data, new_balance: 'lots' as unknown as number };
    const error = await preview
      .preview({ destination, rules: tierRules, event: invalid, personalData: 'shown' })
      .catch((e) => e);
    expect(error).toBeInstanceOf(PreviewInputError);
    expect((error as PreviewInputError).path).toBe('/event/data/new_balance');

    const unknown = await preview
      .preview({
        destination,
        rules: tierRules,
        event: { ...invalid, type: 'points.changed' },
        personalData: 'shown',
      })
      .catch((e) => e);
    expect(unknown).toBeInstanceOf(PreviewInputError);
    expect((unknown as PreviewInputError).path).toBe('/event/type');
  });

  it('previews a stored event from the raw event log, and answers not found for an unknown one', async () => {
    const event = {
      specversion: '1.0',
      ...pointsEvent('C-stored', 'stored@example.com'),
      id: 'evt-stored',
    } as CatalogEvent;
    await new RawEventLog(store, vault).append([
      { sourceId: 'loyalty', brand: 'sd', receivedAt: '2026-11-24T09:31:00Z', event },
    ]);
    const before = await countRows(store);

    const result = await preview.preview({
      destination,
      rules: tierRules,
      event: { stored: { source: 'loyalty-platform', id: 'evt-stored' } },
      personalData: 'shown',
    });
    expect(result.operations.map((operation) => [operation.operation, operation.customerId])).toEqual([
      ['upsertProfiles', 'C-stored'],
    ]);
    expect(result.notes).toContain('stored event points.updated loyalty-platform/evt-stored');
    expect(await countRows(store)).toEqual(before);

    await expect(
      preview.preview({
        destination,
        rules: tierRules,
        event: { stored: { sourceId: 'loyalty', source: 'loyalty-platform', id: 'evt-missing' } },
        personalData: 'shown',
      }),
    ).rejects.toBeInstanceOf(PreviewEventNotFoundError);
  });
});
