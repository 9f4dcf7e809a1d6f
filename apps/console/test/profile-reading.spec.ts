import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AuditLog, type ConsentEntry, ConsentLedger } from '@tessera/consent';
import { IdentityGraph, MatchReview } from '@tessera/identity-graph';
import { PipelineWorker } from '@tessera/pipeline';
import { PiiVault } from '@tessera/store';
import { createTestRuntime, testWorkspace, type TestRuntime } from '@tessera/testing';
import { apiCaller, startConsoleApp } from './console-api-client';

// Issue 19 item 11 over the control-plane API (Fastify's inject, a real runtime): what a reader needs on a
// profile — consent with its provenance, deliveries paged with a cursor, their inbound origin — the review
// queue with names, and dead-letter texts whole for an admin; each masked per role; bad paging refused.

const ADMIN_KEY = 'tsk_admin-key-for-the-profile-reading-spec-0123456789';
const CURSOR_PATTERN = '^[0-9]{1,15}\\.[0-9]{1,18}$';

type Delivery = { itemKey: string; sourceId?: string; eventSource?: string; eventId?: string };

describe('what the profile API shows a reader', () => {
  let t: TestRuntime;
  let app: NestFastifyApplication;
  let graph: IdentityGraph;
  let vault: PiiVault;
  const keys: Record<'marketer' | 'operator' | 'auditor', string> = {
    marketer: '',
    operator: '',
    auditor: '',
  };

  beforeAll(async () => {
    t = await createTestRuntime(testWorkspace(), { TESSERA_ADMIN_KEY: ADMIN_KEY });
    app = await startConsoleApp(t.runtime);
    for (const role of ['marketer', 'operator', 'auditor'] as const) {
      const created = await call('POST', '/v1/api-keys', ADMIN_KEY, { name: `${role} key`, role });
      keys[role] = String(created.body['key']);
    }
    vault = new PiiVault(t.runtime.masterKeys);
    graph = new IdentityGraph({
      store: t.runtime.store,
      vault,
      brands: [{ id: 'sd', defaultCountry: 'GB' }],
    });
    await graph.resolveIdentities([
      {
        brand: 'sd',
        eventTime: new Date('2026-11-20T10:00:00Z'),
        eventSource: 'spec',
        eventId: 'p-1',
        identifiers: { customer_id: 'C11', email: 'ana@example.com' },
        traits: { first_name: 'Ana' },
      },
    ]);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const call = apiCaller(() => app);

  const audit = () => new AuditLog(t.runtime.store);
  const count = async (table: string) =>
    (await t.runtime.store.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]?.n ?? -1;

  describe('consent with its provenance', () => {
    beforeAll(async () => {
      const grant: ConsentEntry = {
        subject: { type: 'email', key: vault.blindIndex('email', 'ana@example.com'), customerId: 'C11' },
        scope: { brand: 'sd', channel: 'email', purpose: 'marketing' },
        decision: 'granted',
        legalBasis: 'consent',
        provenance: {
          source: 'loyalty',
          noticeVersion: 'privacy-2026-03',
          proofRef: 'doi-77 for ana@example.com',
          // As the ledger keeps a consent.changed proof: the IP as a blind index, the rest as sent.
          proof: {
            method: 'double_opt_in',
            form: 'footer signup, confirmed by ana@example.com',
            ip_index: vault.blindIndex('ip', '203.0.113.9'),
            user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
          },
          capturedAt: '2026-11-20T09:58:00.000Z',
          receivedAt: '2026-11-20T10:00:01.000Z',
          actor: 'source:loyalty',
        },
        dedupeKey: 'spec:grant:ana',
      };
      await new ConsentLedger(t.runtime.store).append([grant]);
    });

    it('shows an admin the deciding entry whole: source, actor, notice version, proof reference and proof', async () => {
      const admin = await call('GET', '/v1/profiles/customer_id%3AC11', ADMIN_KEY);
      expect(admin.status).toBe(200);
      expect(admin.body['consent']).toEqual([
        {
          brand: 'sd',
          subject: 'ana@example.com',
          channel: 'email',
          purpose: 'marketing',
          status: 'granted',
          legalBasis: 'consent',
          capturedAt: '2026-11-20T09:58:00.000Z',
          receivedAt: '2026-11-20T10:00:01.000Z',
          ledgerId: expect.any(Number),
          source: 'loyalty',
          actor: 'source:loyalty',
          noticeVersion: 'privacy-2026-03',
          proofRef: 'doi-77 for ana@example.com',
          proof: {
            method: 'double_opt_in',
            form: 'footer signup, confirmed by ana@example.com',
            ip_index: vault.blindIndex('ip', '203.0.113.9'),
            user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
          },
        },
      ]);
    });

    it('masks the personal parts of the proof for every role without pii.read, keeping the rest', async () => {
      for (const key of [keys.marketer, keys.auditor]) {
        const [entry] = (await call('GET', '/v1/profiles/customer_id%3AC11', key)).body['consent'] as Record<
          string,
          unknown
        >[];
        expect(entry).toMatchObject({
          subject: 'a***@example.com',
          source: 'loyalty',
          actor: 'source:loyalty',
          noticeVersion: 'privacy-2026-03',
          proof: { method: 'double_opt_in', ip_index: '***', user_agent: '***' },
        });
        const shown = JSON.stringify(entry);
        expect(shown).not.toContain('ana@example.com');
        expect(shown).not.toContain(vault.blindIndex('ip', '203.0.113.9'));
        expect(shown).not.toContain('Mozilla');
        expect(entry?.['proofRef']).toBe('doi-77 for [email]');
      }
    });
  });

  describe('deliveries, paged', () => {
    const page = (query: string, key = ADMIN_KEY) =>
      call('GET', `/v1/profiles/customer_id%3AC11/deliveries${query}`, key);

    beforeAll(async () => {
      const log = app.get(PipelineWorker).deliveryLog;
      const base = Date.parse('2026-11-20T11:00:00Z');
      await log.record(
        Array.from({ length: 44 }, (_, index) => ({
          sourceId: 'loyalty',
          eventSource: 'spec',
          eventId: `signup:ana@example.com:${index}`,
          brand: 'sd',
          customerId: 'C11',
          destinationId: 'sd-klaviyo',
          operation: 'upsertProfiles',
          itemKey: `item-${String(index).padStart(2, '0')}`,
          status: 'delivered' as const,
          attempts: 1,
          at: new Date(base + index * 1000),
        })),
      );
      // What an opt-out Braze reported caused at Klaviyo (the inbound sync's origin), the newest.
      await log.record([
        {
          sourceId: 'inbound:sd-braze',
          eventSource: 'esp:sd-braze',
          eventId: 'braze:email:unsubscribed:[email]:2026-11-20T12:00:00.000Z',
          brand: 'sd',
          customerId: 'C11',
          destinationId: 'sd-klaviyo',
          operation: 'unsubscribe',
          itemKey: 'item-inbound',
          status: 'delivered',
          attempts: 1,
          at: new Date('2026-11-20T12:00:05Z'),
        },
      ]);
    });

    it('shows the newest 20 on the profile with a cursor, and pages through all 45 with it, none twice', async () => {
      const profile = await call('GET', '/v1/profiles/customer_id%3AC11', ADMIN_KEY);
      const first = profile.body['deliveries'] as Delivery[];
      expect(first).toHaveLength(20);
      expect(first[0]).toMatchObject({
        itemKey: 'item-inbound',
        sourceId: 'inbound:sd-braze',
        eventSource: 'esp:sd-braze',
        eventId: 'braze:email:unsubscribed:[email]:2026-11-20T12:00:00.000Z',
      });
      expect(first[1]?.itemKey).toBe('item-43');
      const seen = first.map((delivery) => delivery.itemKey);
      let cursor = profile.body['deliveriesNextCursor'] as string | null;
      const sizes: number[] = [];
      while (cursor !== null) {
        const next = await page(`?limit=20&cursor=${encodeURIComponent(cursor)}`);
        expect(next.status).toBe(200);
        const deliveries = next.body['deliveries'] as Delivery[];
        sizes.push(deliveries.length);
        seen.push(...deliveries.map((delivery) => delivery.itemKey));
        cursor = next.body['nextCursor'] as string | null;
      }
      expect(sizes).toEqual([20, 5]);
      expect(new Set(seen).size).toBe(45);
      expect(seen.at(-1)).toBe('item-00');
      const all = await page('?limit=200');
      expect((all.body['deliveries'] as Delivery[]).map((delivery) => delivery.itemKey)).toEqual(seen);
      expect(all.body['nextCursor']).toBeNull();
      expect(((await page('')).body['deliveries'] as Delivery[]).length).toBe(20);
    });

    it('masks contact points in event keys for a role without pii.read', async () => {
      const marketer = await page('?limit=200', keys.marketer);
      expect(marketer.status).toBe(200);
      const deliveries = marketer.body['deliveries'] as Delivery[];
      expect(deliveries).toHaveLength(45);
      expect(JSON.stringify(deliveries)).not.toContain('ana@example.com');
      expect(deliveries[0]?.sourceId).toBe('inbound:sd-braze');
      expect(deliveries[1]?.eventId).toBe('signup:[email]:43');
    });

    it('refuses bad paging input with the exact error and writes nothing', async () => {
      const before = await Promise.all(['audit_log', 'delivery_log'].map(count));
      const refusals: [string, string][] = [
        ['?limit=201', '?/limit must be <= 200'],
        ['?limit=0', '?/limit must be >= 1'],
        ['?limit=ten', '?/limit must be integer'],
        ['?cursor=abc', `?/cursor must match pattern "${CURSOR_PATTERN}"`],
        ['?cursor=1.999999999999999999', '?/cursor is not a cursor this API gave'],
        ['?after=3', '?/after is not a known property'],
      ];
      for (const [query, message] of refusals) {
        expect({ query, answer: await page(query) }).toEqual({
          query,
          answer: { status: 400, body: expect.objectContaining({ error: 'bad_request', message }) },
        });
      }
      expect(await call('GET', '/v1/profiles/email%3Anobody%40example.com/deliveries', ADMIN_KEY)).toEqual({
        status: 404,
        body: { error: 'not_found', message: 'no profile for email:…' },
      });
      expect((await call('GET', '/v1/profiles/customer_id%3AC11/deliveries')).status).toBe(401);
      expect(await Promise.all(['audit_log', 'delivery_log'].map(count))).toEqual(before);
    });
  });

  describe('the review queue', () => {
    const seed = async (id: string, identifiers: Record<string, string>, traits: Record<string, unknown>) =>
      (
        await graph.resolveIdentities([
          {
            brand: 'sd',
            eventTime: new Date('2026-11-21T10:00:00Z'),
            eventSource: 'spec',
            eventId: id,
            identifiers,
            traits,
          },
        ])
      ).records[0]?.customerId ?? '';

    beforeAll(async () => {
      const eleanor = {
        first_name: 'Eleanor',
        last_name: 'Whitfield',
        address: { postcode: 'LS6 2AB' },
        date_of_birth: '1987-04-12',
      };
      await seed('r-1', { member_id: 'SD901' }, eleanor);
      const b = await seed(
        'r-2',
        { email: 'elenor.w@example.com' },
        { ...eleanor, first_name: 'Elenor', date_of_birth: undefined },
      );
      await new MatchReview(graph).findProbableMatches([b]);
    });

    it('names both profiles for an admin, audited; masks them for the other roles', async () => {
      const admin = await call('GET', '/v1/reviews', ADMIN_KEY);
      const [review] = admin.body['reviews'] as { id: number; customerIds: string[]; profiles: unknown[] }[];
      expect(review?.profiles).toEqual(
        expect.arrayContaining([
          { customerId: expect.any(String), firstName: 'Eleanor', lastName: 'Whitfield' },
          { customerId: expect.any(String), firstName: 'Elenor', lastName: 'Whitfield' },
        ]),
      );
      expect(review?.profiles.map((profile) => (profile as { customerId: string }).customerId)).toEqual(
        review?.customerIds,
      );
      const [entry] = await audit().query({ action: 'reviews.pii_read' });
      expect(entry?.detail).toMatchObject({ entity: 'reviews', id: 'pending', reviewIds: [review?.id] });
      expect(JSON.stringify(entry)).not.toContain('Whitfield');
      for (const key of [keys.operator, keys.auditor]) {
        const other = await call('GET', '/v1/reviews', key);
        const [masked] = other.body['reviews'] as { profiles: unknown[] }[];
        expect(masked?.profiles).toEqual(
          expect.arrayContaining([
            { customerId: expect.any(String), firstName: 'E***', lastName: 'W***' },
            { customerId: expect.any(String), firstName: 'E***', lastName: 'W***' },
          ]),
        );
        expect(JSON.stringify(other.body)).not.toMatch(/Eleanor|Elenor|Whitfield/);
      }
      expect(await audit().query({ action: 'reviews.pii_read' })).toHaveLength(1);
    });
  });

  describe('dead letters', () => {
    let id = 0;
    const longAnswer = `{"errors":[{"code":"invalid","detail":"${'x'.repeat(400)} bob@example.com"}]}`;

    beforeAll(async () => {
      [id] = (await app.get(PipelineWorker).deadLetters.add([
        {
          brand: 'sd',
          destinationId: 'sd-klaviyo',
          operation: 'upsertProfiles',
          itemKey: 'dl-1',
          item: { operation: { operation: 'upsertProfiles' }, itemKey: 'dl-1', customerId: 'C11' },
          customerId: 'C11',
          errorClass: 'rejected' as const,
          error: `Klaviyo refused the profile of bob@example.com: ${'the phone number is not valid; '.repeat(12)}`,
          espAnswer: longAnswer,
          attempts: 1,
        },
      ])) as [number];
    });

    it('shows an admin the stored texts whole (already redacted of contact points), the others a summary', async () => {
      const admin = (await call('GET', `/v1/dead-letters/${id}`, ADMIN_KEY)).body;
      expect(String(admin['error']).startsWith('Klaviyo refused the profile of [email]: the phone')).toBe(
        true,
      );
      expect(String(admin['error']).length).toBeGreaterThan(300);
      expect(admin['espAnswer']).toBe(longAnswer.replace('bob@example.com', '[email]'));
      const listed = (await call('GET', '/v1/dead-letters', ADMIN_KEY)).body['letters'] as Record<
        string,
        unknown
      >[];
      expect(listed.find((letter) => letter['id'] === id)?.['error']).toBe(admin['error']);
      for (const key of [keys.operator, keys.auditor]) {
        const shown = (await call('GET', `/v1/dead-letters/${id}`, key)).body;
        expect(String(shown['error'])).toHaveLength(200);
        expect(String(shown['error']).endsWith('…')).toBe(true);
        expect(String(shown['error'])).toBe(`${String(admin['error']).slice(0, 199)}…`);
        expect(String(shown['espAnswer'])).toHaveLength(200);
        const letters = (await call('GET', '/v1/dead-letters', key)).body['letters'] as Record<
          string,
          unknown
        >[];
        expect(letters.find((letter) => letter['id'] === id)?.['error']).toBe(shown['error']);
      }
      expect(
        JSON.stringify(await t.runtime.store.query('SELECT error, esp_answer FROM dead_letters')),
      ).not.toContain('bob@example.com');
    });
  });
});
