import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { ConsentGate, ConsentLedger, StoreConsentStateReader, type ConsentEntry } from '@tessera/consent';
import { klaviyoPackage } from '@tessera/destination-klaviyo';
import { mailchimpPackage } from '@tessera/destination-mailchimp';
import { sfmcPackage } from '@tessera/destination-sfmc';
import type { CatalogEvent } from '@tessera/events';
import { IdentityGraph } from '@tessera/identity-graph';
import { MappingPreview, RawEventLog, type PreviewDestination } from '@tessera/pipeline';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { compileRules } from '@tessera/transform';

const API_KEY = 'pk_preview_secret_0123456789';

const pointsUpdated = (customerId: string, email: string) => ({
  type: 'points.updated',
  source: 'loyalty-platform',
  id: `evt-${customerId}`,
  time: '2026-11-24T09:30:00Z',
  data: { customer_id: customerId, email, delta: 50, new_balance: 1_250 },
});

const countRows = (store: Store) =>
  store.query<Record<string, number>>(
    `SELECT (SELECT count(*)::int FROM identity_identifiers) AS identifiers,
            (SELECT count(*)::int FROM identity_profiles) AS profiles,
            (SELECT count(*)::int FROM raw_events) AS raw_events,
            (SELECT count(*)::int FROM delivery_log) AS delivery_log,
            (SELECT count(*)::int FROM audit_log) AS audit_log`,
  );

// The console's mapping preview for a Klaviyo destination, in process on the real store (both drivers) and
// Redis: Klaviyo's own request builders run against its emulator; nothing reaches the configured host.
describe.each(STORE_DRIVERS)('Mapping preview (Klaviyo, SFMC) on %s', (driver) => {
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

  const klaviyo = (settings: Record<string, unknown> = {}): PreviewDestination => ({
    id: 'sd-klaviyo',
    brand: 'sd',
    type: 'klaviyo',
    package: klaviyoPackage,
    settings: { apiKey: API_KEY, listIds: { VIP: 'LstVip' }, ...settings },
    plugins: [],
  });

  beforeAll(async () => {
    store = await openScratchStore(driver);
    redis = new Redis(TEST_REDIS_URL);
    prefix = uniqueRedisPrefix();
    vault = new PiiVault([randomBytes(32)]);
    graph = new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] });
    gate = new ConsentGate({ reader: new StoreConsentStateReader(store), redis, prefix });
    await gate.start();
    preview = new MappingPreview({
      graph,
      gate,
      store,
      vault,
      brandOf: (brand) => ({ id: brand, name: 'Sports Direct', defaultCountry: 'GB' }),
    });
    hitsAtConfiguredHost = 0;
    configuredHost = createServer((_request, response) => {
      hitsAtConfiguredHost += 1;
      response.writeHead(500).end();
    });
    await new Promise<void>((resolve) => configuredHost.listen(0, '127.0.0.1', resolve));
    configuredUrl = `http://127.0.0.1:${(configuredHost.address() as AddressInfo).port}`;

    // A member with a stored profile, written by the graph's own write path.
    await graph.resolveIdentities([
      {
        brand: 'sd',
        eventTime: new Date('2026-11-20T09:00:00Z'),
        eventSource: 'loyalty-platform',
        eventId: 'evt-seed',
        identifiers: { customer_id: 'C123', email: 'ana@example.com' },
        traits: { loyalty_tier: 'Gold', points_balance: 1_200 },
      },
    ]);
  }, 30_000);

  afterAll(async () => {
    await new Promise((resolve) => configuredHost.close(resolve));
    await gate.close();
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
    await store.close();
  });

  it("maps a points.updated sample onto the stored profile: the upsert and Klaviyo's profile-import request, its key masked", async () => {
    // `full`: this member has no consent record, and the default policy (minimal) would leave the tier out.
    const result = await preview.preview({
      destination: klaviyo({ withoutGrant: 'full' }),
      rules: compileRules({ mappings: { loyalty_tier: 'profile.?loyalty_tier.orValue("Member")' } }),
      event: pointsUpdated('C123', 'ana@example.com'),
      personalData: 'shown',
    });

    expect(result.operations).toEqual([
      {
        operation: 'upsertProfiles',
        customerId: 'C123',
        item: {
          customerId: 'C123',
          version: 2,
          email: 'ana@example.com',
          attributes: { loyalty_tier: 'Gold' },
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
        url: 'https://a.klaviyo.com/api/profile-import',
        headers: expect.objectContaining({
          authorization: '***',
          revision: expect.any(String),
          'content-type': 'application/vnd.api+json',
        }),
        body: {
          data: {
            type: 'profile',
            attributes: {
              external_id: 'C123',
              email: 'ana@example.com',
              properties: { loyalty_tier: 'Gold' },
            },
          },
        },
      },
    ]);
    expect(JSON.stringify(result)).not.toContain(API_KEY);
    expect(result.notes).toEqual(
      expect.arrayContaining([
        'profile of customer C123 as stored (version 1), with the event applied (version 2)',
        'consent: no grant for email at brand sd (no consent record (fail closed): member record only, not subscribed) — subscribe and addToSegment operations would be refused',
      ]),
    );
    // By default the same member is sent as identifiers only, and the preview says what was left out.
    const minimal = await preview.preview({
      destination: klaviyo(),
      rules: compileRules({ mappings: { loyalty_tier: 'profile.?loyalty_tier.orValue("Member")' } }),
      event: pointsUpdated('C123', 'ana@example.com'),
      personalData: 'shown',
    });
    expect(minimal.requests.map((request) => request.body)).toEqual([
      {
        data: {
          type: 'profile',
          attributes: { external_id: 'C123', email: 'ana@example.com' },
        },
      },
    ]);
    expect(minimal.withoutGrant).toMatchObject({
      policy: 'minimal',
      consent: 'no_record',
      sent: 'minimal',
      leftOut: ['loyalty_tier'],
      subscription: 'never_subscribed',
    });
  });

  it('sends nothing to the configured base URL and writes nothing: the emulator answers, the URLs name the configured host', async () => {
    const before = await countRows(store);
    const result = await preview.preview({
      destination: klaviyo({ baseUrl: configuredUrl }),
      rules: compileRules({ mappings: { points: 'profile.?points_balance.orValue(0)' } }),
      event: pointsUpdated('C777', 'new-member@example.com'),
      personalData: 'shown',
    });
    expect(result.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      `POST ${configuredUrl}/api/profile-import`,
    ]);
    expect(result.notes).toContain(
      'no stored profile: built from the event alone (customer C777, the id the identity graph would give it)',
    );
    expect(hitsAtConfiguredHost).toBe(0);
    expect(await countRows(store)).toEqual(before);
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
  });

  it('refuses the list add without a grant and sends it with one', async () => {
    const rules = compileRules({
      mappings: { loyalty_tier: 'profile.?loyalty_tier.orValue("Member")' },
      segments: [{ segment: 'VIP', when: 'profile.?loyalty_tier.orValue("") == "Gold"' }],
    });
    const refused = await preview.preview({
      destination: klaviyo(),
      rules,
      event: pointsUpdated('C123', 'ana@example.com'),
      personalData: 'shown',
    });
    expect(refused.operations.map((operation) => [operation.operation, operation.consent.allowed])).toEqual([
      ['upsertProfiles', true],
      ['addToSegment', false],
    ]);
    expect(refused.requests.map((request) => request.url)).toEqual([
      'https://a.klaviyo.com/api/profile-import',
    ]);

    const entry: ConsentEntry = {
      subject: { type: 'email', key: vault.blindIndex('email', 'ana@example.com') },
      scope: { brand: 'sd', channel: 'email', purpose: 'marketing' },
      decision: 'granted',
      legalBasis: 'consent',
      provenance: {
        source: 'loyalty',
        capturedAt: '2026-11-01T00:00:00Z',
        receivedAt: '2026-11-01T00:00:01Z',
        actor: 'source:loyalty',
      },
      dedupeKey: 'event:test:ana',
    };
    await new ConsentLedger(store).append([entry]);
    await gate.invalidate([entry.subject.key], 'sd');

    const allowed = await preview.preview({
      destination: klaviyo(),
      rules,
      event: pointsUpdated('C123', 'ana@example.com'),
      personalData: 'shown',
    });
    // The grant also subscribes her, stamped with the consent's time.
    expect(allowed.operations.map((operation) => [operation.operation, operation.consent])).toEqual([
      ['upsertProfiles', { allowed: true, reason: 'granted (consent)' }],
      ['addToSegment', { allowed: true, reason: 'granted (consent)' }],
      ['subscribe', { allowed: true, reason: 'granted (consent)' }],
    ]);
    const subscribeJob = allowed.requests.find((request) =>
      request.url.endsWith('/profile-subscription-bulk-create-jobs'),
    );
    expect(JSON.stringify(subscribeJob?.body)).toContain('"consented_at":"2026-11-01T00:00:00.000Z"');
    expect(allowed.requests.map((request) => `${request.method} ${request.url}`)).toContain(
      'POST https://a.klaviyo.com/api/lists/LstVip/relationships/profiles',
    );
    expect(allowed.notes).toContain('consent: email at brand sd: granted (consent)');
  });

  it('previews an SFMC destination on an emulator holding the tenant its settings imply (token, then the row)', async () => {
    const result = await preview.preview({
      destination: {
        id: 'sd-sfmc',
        brand: 'sd',
        type: 'sfmc',
        package: sfmcPackage,
        settings: {
          subdomain: 'mc-preview-tenant',
          clientId: 'preview-client',
          clientSecret: 'preview-client-secret',
          dataExtensionKey: 'Members',
          fieldMapping: { loyalty_tier: 'Tier' },
        },
        plugins: [],
      },
      rules: compileRules({ mappings: { loyalty_tier: 'profile.?loyalty_tier.orValue("Member")' } }),
      event: pointsUpdated('C123', 'ana@example.com'),
      personalData: 'shown',
    });
    expect(result.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      'POST https://mc-preview-tenant.auth.marketingcloudapis.com/v2/token',
      'POST https://mc-preview-tenant.rest.marketingcloudapis.com/hub/v1/dataevents/key:Members/rowset',
      // Ana's grant (recorded by the test before) makes her subscribed: the All Subscribers status over SOAP.
      'POST https://mc-preview-tenant.soap.marketingcloudapis.com/Service.asmx',
    ]);
    expect(result.requests[1]?.body).toEqual([
      { keys: { TesseraId: 'C123' }, values: { EmailAddress: 'ana@example.com', Tier: 'Gold' } },
    ]);
    expect(result.notes.filter((note) => /failed at/.test(note))).toEqual([]);
    expect(JSON.stringify(result)).not.toContain('preview-client-secret');
  });

  it('previews a stored event already resolved on the profile it was routed with, without applying it twice', async () => {
    const log = new RawEventLog(store, vault);
    const event = { specversion: '1.0', ...pointsUpdated('C123', 'ana@example.com'), id: 'evt-real' };
    const key = { sourceId: 'loyalty', eventSource: 'loyalty-platform', eventId: 'evt-real' };
    await log.append([
      { sourceId: 'loyalty', brand: 'sd', receivedAt: '2026-11-24T09:31:00Z', event: event as CatalogEvent },
    ]);
    await store.transaction((tx) => log.markResolved([{ key, customerId: 'C123' }], tx));

    const result = await preview.preview({
      destination: klaviyo(),
      rules: compileRules({ mappings: { points: 'profile.?points_balance.orValue(0)' } }),
      event: { stored: { source: 'loyalty-platform', id: 'evt-real' } },
      personalData: 'shown',
    });
    expect(result.operations[0]?.item).toMatchObject({ customerId: 'C123', version: 1 });
    expect(result.notes).toContain(
      'profile of customer C123 as stored (version 1): the event was applied to it when it was resolved',
    );
  });

  it('previews on placeholders a strict ESP takes for a caller without PII access: Mailchimp accepts the masked member, nothing of the member comes back', async () => {
    const email = 'dora.quint@larchpost.com';
    await graph.resolveIdentities([
      {
        brand: 'sd',
        eventTime: new Date('2026-11-20T09:00:00Z'),
        eventSource: 'crm',
        eventId: 'evt-masked-seed',
        identifiers: { customer_id: 'C-masked', email, phone: '+447946081357' },
        traits: {
          first_name: 'Dorothea',
          last_name: 'Quint',
          address: {
            line1: '9 Larch Walk',
            city: 'Whitby',
            region: 'Yorks',
            postcode: 'YO21 3PU',
            country: 'GB',
          },
        },
      },
    ]);
    const result = await preview.preview({
      destination: {
        id: 'sd-mailchimp',
        brand: 'sd',
        type: 'mailchimp',
        package: mailchimpPackage,
        settings: {
          apiKey: '0123456789abcdef0123456789abcdef-us21',
          listId: 'members',
          baseUrl: 'https://us21.api.mailchimp.com',
        },
        plugins: [],
      },
      rules: compileRules({
        mappings: {
          first_name: 'profile.first_name',
          last_name: 'profile.last_name',
          address: 'profile.address',
          domain: 'profile.email.split("@")[1]',
        },
      }),
      event: pointsUpdated('C-masked', email),
      personalData: 'masked',
    });

    expect(result.personalData).toBe('masked');
    expect(result.requests.length).toBeGreaterThan(0);
    // Mailchimp calls reserved top-level domains fake and wants a complete address: the placeholders pass.
    expect(result.notes.filter((note) => /emulator|would be rejected|would be retried/.test(note))).toEqual(
      [],
    );
    const text = JSON.stringify(result);
    expect(text).toMatch(/masked-[0-9a-f]{8}@example\.net/);
    for (const fragment of [
      'dora',
      'quint',
      'larchpost',
      'Dorothea',
      'Larch',
      'Whitby',
      'Yorks',
      'YO21',
      '7946081357',
    ]) {
      expect([fragment, text.toLowerCase().includes(fragment.toLowerCase())]).toEqual([fragment, false]);
    }
  });
});
