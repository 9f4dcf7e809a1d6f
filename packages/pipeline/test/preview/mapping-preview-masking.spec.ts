import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { ConsentGate, ConsentLedger, StoreConsentStateReader } from '@tessera/consent';
import { CaptureEmulator, type DestinationPackage } from '@tessera/destination-kit';
import type { CatalogEvent } from '@tessera/events';
import { IdentityGraph } from '@tessera/identity-graph';
import { openScratchStore, PiiVault, STORE_DRIVERS, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { compileRules } from '@tessera/transform';
import { MappingPreview, RawEventLog, type PreviewDestination } from '../../src';
import { echoDestination } from '../support/echo-destination';

const echo: DestinationPackage = {
  definition: echoDestination(100),
  createEmulator: () => new CaptureEmulator(),
};

/** A member's real personal data: none of it, nor any piece of it, may reach a caller without `pii.read`. */
const ANA = {
  customerId: 'C-ana',
  email: 'ana.lopez@quarrymail.co.uk',
  phone: '+447946081357',
  firstName: 'Anabela',
  lastName: 'Ferreira',
  line1: '14 Quarry Lane',
  city: 'Harrogate',
  postcode: 'HG1 2AB',
};
const FRAGMENTS = [
  'ana.lopez',
  'quarrymail',
  'Anabela',
  'Ferreira',
  'Quarry',
  'Harrogate',
  'HG1',
  '2AB',
  '+447946',
  '7946081357',
  '081357',
];

/** Rules written to pull personal data out piece by piece. */
const PROBING_RULES = compileRules({
  mappings: {
    email_parts: 'profile.email.split("@")',
    event_email_parts: 'event.data.email.split("@")',
    phone_digits: 'event.data.phone.split("")',
    profile_phone: 'profile.phone.substring(1)',
    initial: 'event.data.first_name.substring(0, 1)',
    surname_letters: 'profile.last_name.split("")',
    street: 'event.data.address.line1.split(" ")',
    city: 'profile.address.city',
    postcode: 'event.data.address.postcode.substring(0, 3)',
    country: 'profile.address.country',
    subject: 'event.subject',
    tier: 'profile.?loyalty_tier.orValue("Member")',
  },
  segments: [{ segment: 'vip', when: 'profile.?loyalty_tier.orValue("") == "Gold"' }],
});

const storedEvent: CatalogEvent = {
  specversion: '1.0',
  id: 'evt-ana-profile',
  source: 'crm',
  type: 'profile.updated',
  time: '2026-11-24T09:30:00Z',
  subject: ANA.email,
  data: {
    customer_id: ANA.customerId,
    email: ANA.email,
    phone: '07946 081357',
    first_name: ANA.firstName,
    last_name: ANA.lastName,
    address: { line1: ANA.line1, city: ANA.city, postcode: ANA.postcode, country: 'GB' },
  },
};

// A stored member and a stored event that names them, previewed by a caller who may not see personal data:
// the rules run on a masked event and profile, so nothing of the person can come out, whatever they compute.
describe.each(STORE_DRIVERS)('MappingPreview without access to personal data, on %s', (driver) => {
  let store: Store;
  let redis: Redis;
  let prefix: string;
  let vault: PiiVault;
  let gate: ConsentGate;
  let preview: MappingPreview;
  const destination: PreviewDestination = {
    id: 'sd-echo',
    brand: 'sd',
    type: 'echo',
    package: echo,
    settings: { apiKey: 'echo-secret-key', baseUrl: 'http://127.0.0.1:9/echo' },
    plugins: [],
  };

  beforeAll(async () => {
    store = await openScratchStore(driver);
    redis = new Redis(TEST_REDIS_URL);
    prefix = uniqueRedisPrefix();
    vault = new PiiVault([randomBytes(32)]);
    const graph = new IdentityGraph({ store, vault, brands: [{ id: 'sd', defaultCountry: 'GB' }] });
    await graph.resolveIdentities([
      {
        brand: 'sd',
        eventTime: new Date('2026-11-20T09:00:00Z'),
        eventSource: 'crm',
        eventId: 'evt-ana-seed',
        identifiers: { customer_id: ANA.customerId, email: ANA.email, phone: ANA.phone },
        traits: {
          loyalty_tier: 'Gold',
          first_name: ANA.firstName,
          last_name: ANA.lastName,
          address: { line1: ANA.line1, city: ANA.city, postcode: ANA.postcode, country: 'GB' },
        },
      },
    ]);
    const log = new RawEventLog(store, vault);
    await log.append([
      { sourceId: 'crm', brand: 'sd', receivedAt: '2026-11-24T09:31:00Z', event: storedEvent },
    ]);
    await store.transaction((tx) =>
      log.markResolved(
        [
          {
            key: { sourceId: 'crm', eventSource: 'crm', eventId: storedEvent.id },
            customerId: ANA.customerId,
          },
        ],
        tx,
      ),
    );
    const entry = {
      subject: { type: 'email' as const, key: vault.blindIndex('email', ANA.email) },
      scope: { brand: 'sd', channel: 'email' as const, purpose: 'marketing' },
      decision: 'granted' as const,
      legalBasis: 'consent' as const,
      provenance: {
        source: 'crm',
        capturedAt: '2026-11-01T00:00:00Z',
        receivedAt: '2026-11-01T00:00:01Z',
        actor: 'source:crm',
      },
      dedupeKey: 'event:test:ana',
    };
    await new ConsentLedger(store).append([entry]);
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
  }, 30_000);

  afterAll(async () => {
    await gate.close();
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
    await store.close();
  });

  it('evaluates the rules on a masked stored event and profile: placeholders of the same shape, no piece of the person', async () => {
    const result = await preview.preview({
      destination,
      rules: PROBING_RULES,
      event: { stored: { source: 'crm', id: storedEvent.id } },
      personalData: 'masked',
    });

    expect(result.personalData).toBe('masked');
    expect(result.customerId).toBe(ANA.customerId);
    const [upsert] = result.operations;
    const masked = /^masked-[0-9a-f]{8}@example\.net$/;
    const item = upsert?.item as { email: string; attributes: Record<string, unknown> };
    expect(item.email).toMatch(masked);
    const [local, domain] = item.attributes['email_parts'] as string[];
    expect(`${local}@${domain}`).toBe(item.email);
    // The same address in the event and in the profile: the same placeholder.
    expect(item.attributes['event_email_parts']).toEqual(item.attributes['email_parts']);
    expect(item.attributes).toMatchObject({
      phone_digits: '+12025550100'.split(''),
      profile_phone: '12025550100',
      initial: '•',
      surname_letters: ['•', '•', '•'],
      street: ['•••'],
      city: '•••',
      postcode: '•••',
      country: 'GB',
      subject: '•••',
      tier: 'Gold',
    });
    // Consent is still judged on the real contact point (its blind index): the grant holds.
    expect(result.operations.map((operation) => [operation.operation, operation.consent.allowed])).toEqual([
      ['upsertProfiles', true],
      ['addToSegment', true],
    ]);
    expect(result.requests).toHaveLength(1);
    const body = JSON.stringify(result).toLowerCase();
    for (const fragment of FRAGMENTS)
      expect([fragment, body.includes(fragment.toLowerCase())]).toEqual([fragment, false]);
  });

  it('masks the stored member behind a sample that names them', async () => {
    const result = await preview.preview({
      destination,
      rules: PROBING_RULES,
      event: {
        type: 'points.updated',
        source: 'console-preview',
        id: 'probe',
        data: { email: ANA.email, phone: ANA.phone, delta: 1, new_balance: 2 },
      },
      personalData: 'masked',
    });
    expect(result.customerId).toBe(ANA.customerId);
    // The sample carries no name or address: those rules fail, on the sample; the profile's come masked.
    const text = JSON.stringify(result).toLowerCase();
    for (const fragment of FRAGMENTS)
      expect([fragment, text.includes(fragment.toLowerCase())]).toEqual([fragment, false]);
    const profileOnly = compileRules({
      mappings: { name: 'profile.first_name + " " + profile.last_name', email: 'profile.email' },
    });
    const names = await preview.preview({
      destination,
      rules: profileOnly,
      event: {
        type: 'points.updated',
        source: 'console-preview',
        id: 'probe',
        data: { email: ANA.email, delta: 1, new_balance: 2 },
      },
      personalData: 'masked',
    });
    expect((names.operations[0]?.item as { attributes: unknown }).attributes).toEqual({
      name: '••• •••',
      email: expect.stringMatching(/^masked-[0-9a-f]{8}@example\.net$/),
    });
  });

  it('masks contact points that reach the output through fields the catalog leaves in clear', async () => {
    const result = await preview.preview({
      destination,
      rules: compileRules({ mappings: { why: 'event.data.reason' } }),
      event: {
        type: 'points.updated',
        source: 'console-preview',
        id: 'free-text',
        data: { customer_id: ANA.customerId, delta: 1, new_balance: 2, reason: `asked by ${ANA.email}` },
      },
      personalData: 'masked',
    });
    expect((result.operations[0]?.item as { attributes: unknown }).attributes).toEqual({
      why: 'asked by [email]',
    });
    expect(JSON.stringify(result)).not.toContain(ANA.email);
  });

  it('shows the real values to a caller who may see them', async () => {
    const result = await preview.preview({
      destination,
      rules: PROBING_RULES,
      event: { stored: { source: 'crm', id: storedEvent.id } },
      personalData: 'shown',
    });
    expect(result.personalData).toBe('shown');
    expect((result.operations[0]?.item as { attributes: unknown }).attributes).toMatchObject({
      email_parts: ['ana.lopez', 'quarrymail.co.uk'],
      initial: 'A',
      city: ANA.city,
      subject: ANA.email,
    });
  });
});
