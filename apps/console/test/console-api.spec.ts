import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AuditLog } from '@tessera/consent';
import { adoptStoredWorkspace } from '@tessera/destination-registry';
import { IdentityGraph, MatchReview } from '@tessera/identity-graph';
import { PipelineWorker } from '@tessera/pipeline';
import { PiiVault } from '@tessera/store';
import { createTestRuntime, testWorkspace, waitFor, type TestRuntime } from '@tessera/testing';
import { apiCaller, startConsoleApp } from './console-api-client';

// The control-plane API over Fastify's inject, on a real runtime: PGlite in a data folder, the real Redis,
// the pipeline's worker. Every route, its role checks, its exact errors, and what it wrote to the audit log.

const ADMIN_KEY = 'tsk_admin-key-for-the-console-api-spec-0123456789';
const KLAVIYO_KEY = 'pk_console_spec_0123456789abcdef';

describe('the control-plane API', () => {
  let t: TestRuntime;
  let app: NestFastifyApplication;
  const keys: Record<'marketer' | 'operator' | 'auditor', string> = {
    marketer: '',
    operator: '',
    auditor: '',
  };

  beforeAll(async () => {
    t = await createTestRuntime(
      testWorkspace({
        destinations: [
          {
            id: 'sd-klaviyo',
            brand: 'sd',
            type: 'klaviyo',
            // `full`: the previews below read the mapped attributes of a member without a consent record.
            settings: { apiKey: KLAVIYO_KEY, baseUrl: 'http://127.0.0.1:9/klaviyo', withoutGrant: 'full' },
          },
        ],
      }),
      { TESSERA_ADMIN_KEY: ADMIN_KEY },
    );
    t.runtime.workspace = await adoptStoredWorkspace(t.runtime);
    app = await startConsoleApp(t.runtime);
    for (const role of ['marketer', 'operator', 'auditor'] as const) {
      const created = await call('POST', '/v1/api-keys', ADMIN_KEY, { name: `${role} key`, role });
      expect(created.status).toBe(201);
      keys[role] = String(created.body['key']);
    }
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const call = apiCaller(() => app);

  const audit = () => new AuditLog(t.runtime.store);

  describe('authentication and roles', () => {
    it('answers 401 without a key, with an unknown key, and with a revoked key', async () => {
      expect(await call('GET', '/v1/session')).toEqual({
        status: 401,
        body: { error: 'unauthorized', message: 'missing API key: send "Authorization: Bearer <key>"' },
      });
      expect(await call('GET', '/v1/session', 'tsk_not-a-key-of-this-deployment-at-all-0000')).toEqual({
        status: 401,
        body: { error: 'unauthorized', message: 'unknown or revoked API key' },
      });
      const temporary = await call('POST', '/v1/api-keys', ADMIN_KEY, { name: 'temporary', role: 'auditor' });
      const id = String((temporary.body['apiKey'] as { id: string }).id);
      expect((await call('GET', '/v1/session', String(temporary.body['key']))).status).toBe(200);
      expect((await call('DELETE', `/v1/api-keys/${id}`, ADMIN_KEY)).body['revokedAt']).toEqual(
        expect.any(String),
      );
      expect((await call('GET', '/v1/session', String(temporary.body['key']))).status).toBe(401);
      const [entry] = await audit().query({ action: 'api-key.revoked' });
      expect(entry?.detail).toMatchObject({ entity: 'api-key', id, before: { revokedAt: null } });
    });

    it('tells each key its role and permissions', async () => {
      const marketer = await call('GET', '/v1/session', keys.marketer);
      expect(marketer.body).toMatchObject({ name: 'marketer key', role: 'marketer' });
      expect(marketer.body['permissions']).toEqual([
        'workspace.read',
        'destinations.toggle',
        'destinations.pause',
        'mappings.write',
        'mappings.preview',
        'profiles.read',
        'dashboard.read',
      ]);
      expect((await call('GET', '/v1/session', keys.auditor)).body['permissions']).toContain('audit.read');
    });

    it('answers 403 naming the role and the act, and runs nothing', async () => {
      expect(await call('GET', '/v1/api-keys', keys.marketer)).toEqual({
        status: 403,
        body: {
          error: 'forbidden',
          message: 'role marketer may not create, rotate and revoke secrets and API keys',
        },
      });
      expect(await call('POST', '/v1/dead-letters/replay', keys.marketer, { all: true })).toEqual({
        status: 403,
        body: { error: 'forbidden', message: 'role marketer may not replay or discard dead letters' },
      });
      expect(
        (await call('POST', '/v1/brands', keys.auditor, { id: 'x', name: 'X', defaultCountry: 'GB' })).status,
      ).toBe(403);
      expect((await call('GET', '/v1/audit', keys.operator)).body['message']).toBe(
        'role operator may not read the audit log',
      );
      expect((await call('GET', '/v1/brands', ADMIN_KEY)).body['brands']).toEqual([
        { id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' },
      ]);
    });

    it('lists API keys without their secrets, and never revokes the last admin key', async () => {
      const listed = await call('GET', '/v1/api-keys', ADMIN_KEY);
      expect(JSON.stringify(listed.body)).not.toContain(keys.marketer.slice(4));
      expect((listed.body['keys'] as { role: string }[]).map((key) => key.role)).toContain('admin');
      const refused = await call('DELETE', '/v1/api-keys/admin-from-environment', ADMIN_KEY);
      expect(refused).toEqual({
        status: 409,
        body: {
          error: 'conflict',
          message: 'API key "admin-from-environment" is the last admin key: create another admin key first',
        },
      });
      expect(await call('POST', '/v1/api-keys', ADMIN_KEY, { name: 'x', role: 'owner' })).toEqual({
        status: 400,
        body: {
          error: 'bad_request',
          message: '/role must be one of: admin, marketer, operator, auditor',
          errors: [{ path: '/role', message: 'must be one of: admin, marketer, operator, auditor' }],
        },
      });
    });
  });

  describe('workspace', () => {
    it('creates and changes brands, validating with the workspace file schema, audited before and after', async () => {
      expect(
        await call('POST', '/v1/brands', ADMIN_KEY, { id: 'fl', name: 'Flannels', defaultCountry: 'gb' }),
      ).toEqual({
        status: 400,
        body: {
          error: 'bad_request',
          message: '/defaultCountry must match pattern "^[A-Z]{2}$"',
          errors: [{ path: '/defaultCountry', message: 'must match pattern "^[A-Z]{2}$"' }],
        },
      });
      expect((await call('GET', '/v1/brands', ADMIN_KEY)).body['brands']).toHaveLength(1);
      const created = await call('POST', '/v1/brands', ADMIN_KEY, {
        id: 'fl',
        name: 'Flannels',
        defaultCountry: 'GB',
      });
      expect(created).toEqual({ status: 201, body: { id: 'fl', name: 'Flannels', defaultCountry: 'GB' } });
      expect(
        (await call('POST', '/v1/brands', ADMIN_KEY, { id: 'fl', name: 'Again', defaultCountry: 'GB' })).body,
      ).toEqual({
        error: 'conflict',
        message: 'brand "fl" already exists',
      });
      expect((await call('PATCH', '/v1/brands/fl', ADMIN_KEY, { defaultCountry: 'IE' })).body).toEqual({
        id: 'fl',
        name: 'Flannels',
        defaultCountry: 'IE',
      });
      expect((await call('PATCH', '/v1/brands/nope', ADMIN_KEY, { name: 'N' })).status).toBe(404);
      const [updated] = await audit().query({ action: 'brand.updated' });
      expect(updated?.actor).toBe('console:admin-from-environment');
      expect(updated?.detail).toEqual({
        entity: 'brand',
        id: 'fl',
        before: { name: 'Flannels', defaultCountry: 'GB' },
        after: { name: 'Flannels', defaultCountry: 'IE' },
      });
    });

    it('creates a source whose secret is shown once, rotates it with two valid, and revokes the old one', async () => {
      const created = await call('POST', '/v1/sources', ADMIN_KEY, {
        id: 'fl-pos',
        brand: 'fl',
        typeMap: { sale: 'transaction.created' },
      });
      expect(created.status).toBe(201);
      const secret = String(created.body['secret']);
      expect(secret).toMatch(/^whsec_/);
      const listed = await call('GET', '/v1/sources', keys.auditor);
      expect(JSON.stringify(listed.body)).not.toContain(secret.slice(6));
      const rotated = await call('POST', '/v1/sources/fl-pos/secrets', ADMIN_KEY, { graceHours: 1 });
      expect(rotated.status).toBe(201);
      const live = await t.runtime.store.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM workspace_source_secrets WHERE source_id = 'fl-pos' AND revoked_at IS NULL`,
      );
      expect(live[0]?.n).toBe(2);
      expect((await call('POST', '/v1/sources/fl-pos/secrets', ADMIN_KEY, {})).status).toBe(409);
      const old = (
        (rotated.body['source'] as { secrets: { id: string }[] }).secrets.find(
          (candidate) => candidate.id !== rotated.body['secretId'],
        ) ?? { id: '' }
      ).id;
      const revoked = await call('DELETE', `/v1/sources/fl-pos/secrets/${old}`, ADMIN_KEY);
      expect(
        (revoked.body['secrets'] as { id: string; revokedAt: string | null }[]).find((s) => s.id === old)
          ?.revokedAt,
      ).toEqual(expect.any(String));
      expect((await call('POST', '/v1/sources', keys.marketer, { id: 'x', brand: 'fl' })).status).toBe(403);
      expect(
        (
          await call('POST', '/v1/sources', ADMIN_KEY, {
            id: 'x',
            brand: 'fl',
            typeMap: { a: 'tessera.bogus' },
          })
        ).body,
      ).toEqual({
        error: 'bad_request',
        message: '/typeMap/a "tessera.bogus" is not an event type sources may send',
        errors: [{ path: '/typeMap/a', message: '"tessera.bogus" is not an event type sources may send' }],
      });
      const actions = (await audit().query({ limit: 50 })).map((entry) => entry.action);
      expect(actions).toEqual(
        expect.arrayContaining(['source.created', 'source.secret_rotated', 'source.secret_revoked']),
      );
      expect(JSON.stringify(await audit().query({ limit: 50 }))).not.toContain(secret.slice(6));
    });

    it('holds and releases a source for an operator', async () => {
      expect(
        (await call('POST', '/v1/sources/loyalty/hold', keys.operator, { reason: 'bad import' })).body,
      ).toMatchObject({
        id: 'loyalty',
        held: true,
        holdReason: 'bad import',
      });
      expect((await call('POST', '/v1/sources/loyalty/hold', keys.operator, {})).body['message']).toBe(
        '/reason is required',
      );
      expect((await call('POST', '/v1/sources/loyalty/release', keys.operator, {})).body).toMatchObject({
        held: false,
      });
      expect((await call('POST', '/v1/sources/loyalty/hold', keys.marketer, { reason: 'x' })).status).toBe(
        403,
      );
    });

    it('shows destinations with secrets as *** to every role, never the API key', async () => {
      for (const key of [ADMIN_KEY, keys.marketer, keys.operator, keys.auditor]) {
        const listed = await call('GET', '/v1/destinations', key);
        expect(listed.status).toBe(200);
        expect(JSON.stringify(listed.body)).not.toContain(KLAVIYO_KEY);
      }
      const one = await call('GET', '/v1/destinations/sd-klaviyo', keys.marketer);
      expect(one.body).toMatchObject({
        id: 'sd-klaviyo',
        brand: 'sd',
        type: 'klaviyo',
        state: 'enabled',
        deployed: true,
        settings: { apiKey: '***', baseUrl: 'http://127.0.0.1:9/klaviyo' },
        mappingsVersion: 0,
      });
      const types = await call('GET', '/v1/destination-types', keys.marketer);
      const klaviyo = (
        types.body['types'] as { type: string; selected: boolean; secretSettings: string[] }[]
      ).find((type) => type.type === 'klaviyo');
      expect(klaviyo).toMatchObject({ selected: true, secretSettings: ['apiKey', 'webhookSecret'] });
      expect((await call('GET', '/v1/destinations/nope', keys.marketer)).body).toEqual({
        error: 'not_found',
        message: 'unknown destination "nope"',
      });
    });

    it('creates a destination with its settings checked against its type, and keeps a secret on a patch', async () => {
      const bad = await call('POST', '/v1/destinations', ADMIN_KEY, {
        id: 'fl-klaviyo',
        brand: 'fl',
        type: 'klaviyo',
        settings: {},
      });
      expect(bad.status).toBe(400);
      expect(bad.body['errors']).toEqual([
        { path: '/settings/apiKey', message: "must have required property 'apiKey'" },
      ]);
      const created = await call('POST', '/v1/destinations', ADMIN_KEY, {
        id: 'fl-klaviyo',
        brand: 'fl',
        type: 'klaviyo',
        settings: { apiKey: 'pk_flannels_0123456789', baseUrl: 'http://127.0.0.1:9/klaviyo' },
        state: 'paused',
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ id: 'fl-klaviyo', state: 'paused', settings: { apiKey: '***' } });
      expect(
        (await call('PATCH', '/v1/destinations/fl-klaviyo', keys.marketer, { settings: { apiKey: 'pk_x' } }))
          .body,
      ).toEqual({
        error: 'forbidden',
        message: 'role marketer may not create or change brands, sources and destinations',
      });
      const patched = await call('PATCH', '/v1/destinations/fl-klaviyo', ADMIN_KEY, {
        settings: { apiKey: '***', baseUrl: 'http://127.0.0.1:10/klaviyo' },
      });
      expect(patched.body['settings']).toEqual({ apiKey: '***', baseUrl: 'http://127.0.0.1:10/klaviyo' });
      const stored = await t.runtime.store.query<{ settings_sealed: Uint8Array }>(
        `SELECT settings_sealed FROM workspace_destinations WHERE id = 'fl-klaviyo'`,
      );
      expect(Buffer.from(stored[0]?.settings_sealed ?? []).toString('latin1')).not.toContain('pk_flannels');
      const plugins = await call('PATCH', '/v1/destinations/fl-klaviyo', keys.marketer, {
        plugins: [{ name: 'tier-change', config: {} }],
      });
      expect(plugins.status).toBe(200);
      expect(plugins.body['plugins']).toEqual([{ name: 'tier-change', config: {} }]);
      expect(
        (await call('PATCH', '/v1/destinations/fl-klaviyo', keys.marketer, { plugins: [{ name: 'nope' }] }))
          .body['message'],
      ).toMatch(/^Destination "fl-klaviyo": unknown plugin "nope"; known: /);
      const [entry] = await audit().query({ action: 'destination.created' });
      expect(JSON.stringify(entry?.detail)).not.toContain('pk_flannels');
    });

    it('refuses an unknown withoutGrant policy with 400 and writes nothing; takes minimal, none or full', async () => {
      const before = await t.runtime.store.query<{ settings_sealed: Uint8Array }>(
        `SELECT settings_sealed FROM workspace_destinations WHERE id = 'fl-klaviyo'`,
      );
      const refused = await call('PATCH', '/v1/destinations/fl-klaviyo', ADMIN_KEY, {
        settings: { apiKey: '***', baseUrl: 'http://127.0.0.1:10/klaviyo', withoutGrant: 'everyone' },
      });
      expect(refused.status).toBe(400);
      expect(refused.body['errors']).toEqual([
        { path: '/settings/withoutGrant', message: 'must be equal to one of the allowed values' },
      ]);
      const after = await t.runtime.store.query<{ settings_sealed: Uint8Array }>(
        `SELECT settings_sealed FROM workspace_destinations WHERE id = 'fl-klaviyo'`,
      );
      expect(Buffer.from(after[0]?.settings_sealed ?? [])).toEqual(
        Buffer.from(before[0]?.settings_sealed ?? []),
      );
      expect(
        (await call('GET', '/v1/destinations/fl-klaviyo', ADMIN_KEY)).body['settings'],
      ).not.toHaveProperty('withoutGrant');
      const none = await call('PATCH', '/v1/destinations/fl-klaviyo', ADMIN_KEY, {
        settings: { apiKey: '***', baseUrl: 'http://127.0.0.1:10/klaviyo', withoutGrant: 'none' },
      });
      expect(none.status).toBe(200);
      expect(none.body['settings']).toMatchObject({ withoutGrant: 'none' });
    });

    it('flips a toggle for a marketer, lets an operator only pause and resume, and audits each change', async () => {
      expect(
        (
          await call('PUT', '/v1/destinations/sd-klaviyo/state', keys.marketer, {
            state: 'disabled',
            reason: 'campaign freeze',
          })
        ).body,
      ).toMatchObject({
        state: 'disabled',
        reason: 'campaign freeze',
        changedBy: expect.stringMatching(/^console:key_/),
      });
      expect(
        await call('PUT', '/v1/destinations/sd-klaviyo/state', keys.operator, { state: 'enabled' }),
      ).toEqual({
        status: 403,
        body: { error: 'forbidden', message: 'role operator may only pause and resume destinations' },
      });
      expect(
        (await call('PUT', '/v1/destinations/sd-klaviyo/state', keys.marketer, { state: 'enabled' })).body[
          'state'
        ],
      ).toBe('enabled');
      expect(
        (await call('PUT', '/v1/destinations/sd-klaviyo/state', keys.operator, { state: 'paused' })).body[
          'state'
        ],
      ).toBe('paused');
      expect(
        (await call('PUT', '/v1/destinations/sd-klaviyo/state', keys.operator, { state: 'enabled' })).body[
          'state'
        ],
      ).toBe('enabled');
      expect(
        (await call('PUT', '/v1/destinations/sd-klaviyo/state', keys.marketer, { state: 'off' })).body[
          'message'
        ],
      ).toBe('/state must be one of: enabled, paused, disabled');
      const entries = await audit().query({ action: 'destination.disabled' });
      expect(entries[0]?.detail).toMatchObject({
        entity: 'destination',
        id: 'sd-klaviyo',
        before: { state: 'enabled' },
        after: { state: 'disabled', reason: 'campaign freeze' },
      });
      const worker = app.get(PipelineWorker);
      await worker.refreshStates();
      expect(worker.directory.stateOf('sd-klaviyo')).toBe('enabled');
    });

    it('validates mappings with a JSON Pointer and the position, saves versions, and keeps the history', async () => {
      expect((await call('GET', '/v1/destinations/sd-klaviyo/mappings', keys.auditor)).body).toEqual({
        version: 0,
        rules: {},
        savedAt: null,
        savedBy: null,
      });
      const draft = { mappings: { first_name: 'profile.first_nme' } };
      const checked = await call('POST', '/v1/destinations/sd-klaviyo/mappings/validate', keys.marketer, {
        rules: draft,
      });
      expect(checked.status).toBe(200);
      expect(checked.body['valid']).toBe(false);
      const [problem] = checked.body['errors'] as { path: string; expression: string; message: string }[];
      expect(problem).toMatchObject({ path: '/mappings/first_name', expression: 'profile.first_nme' });
      expect(problem?.message).toMatch(/^1:\d+: .*first_nme/);
      const refused = await call('PUT', '/v1/destinations/sd-klaviyo/mappings', keys.marketer, {
        rules: draft,
      });
      expect(refused.status).toBe(422);
      expect(refused.body['error']).toBe('invalid_rules');
      expect(refused.body['message']).toMatch(/^the rules do not compile: \/mappings\/first_name: 1:\d+: /);
      expect(
        (await call('GET', '/v1/destinations/sd-klaviyo/mappings/history', keys.marketer)).body['versions'],
      ).toEqual([]);
      const rules = { mappings: { first_name: 'profile.?first_name.orValue("")' } };
      expect(
        (await call('POST', '/v1/destinations/sd-klaviyo/mappings/validate', keys.marketer, { rules })).body,
      ).toEqual({
        valid: true,
        errors: [],
      });
      const saved = await call('PUT', '/v1/destinations/sd-klaviyo/mappings', keys.marketer, { rules });
      expect(saved.body).toMatchObject({
        version: 1,
        rules,
        savedBy: expect.stringMatching(/^console:key_/),
      });
      expect(
        (await call('PUT', '/v1/destinations/sd-klaviyo/mappings', keys.operator, { rules })).status,
      ).toBe(403);
      const [entry] = await audit().query({ action: 'mappings.saved' });
      expect(entry?.detail).toEqual({
        entity: 'destination',
        id: 'sd-klaviyo',
        before: null,
        after: { version: 1, rules },
      });
      expect((await call('GET', '/v1/plugins', keys.marketer)).body['plugins']).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: 'tier-change' })]),
      );
    });
  });

  describe('the mapping preview', () => {
    const sample = {
      type: 'points.updated',
      data: {
        customer_id: 'C500',
        email: 'preview@example.com',
        delta: 10,
        new_balance: 510,
        reason: 'purchase',
      },
    };

    it('shows the operations and the exact request a draft would make, masking contact points for a marketer', async () => {
      const rules = { mappings: { loyalty_points: 'profile.?points_balance.orValue(0)' } };
      const marketer = await call('POST', '/v1/preview', keys.marketer, {
        destinationId: 'sd-klaviyo',
        event: sample,
        rules,
      });
      expect(marketer.status).toBe(200);
      const [request] = marketer.body['requests'] as {
        method: string;
        url: string;
        headers: Record<string, string>;
        body: unknown;
      }[];
      expect(request?.method).toBe('POST');
      expect(request?.url).toBe('http://127.0.0.1:9/klaviyo/api/profile-import');
      expect(request?.headers['authorization']).toBe('***');
      expect(JSON.stringify(request?.body)).toContain('"loyalty_points":510');
      expect(JSON.stringify(marketer.body)).not.toContain('preview@example.com');
      expect(
        (marketer.body['operations'] as { operation: string }[]).map((operation) => operation.operation),
      ).toContain('upsertProfiles');
      const admin = await call('POST', '/v1/preview', ADMIN_KEY, {
        destinationId: 'sd-klaviyo',
        event: sample,
        rules,
      });
      expect(JSON.stringify(admin.body)).toContain('preview@example.com');
    });

    it('refuses a draft that does not compile (422) and an event the catalog refuses (400), writing nothing', async () => {
      const before = await t.runtime.store.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM identity_identifiers',
      );
      const refused = await call('POST', '/v1/preview', keys.marketer, {
        destinationId: 'sd-klaviyo',
        event: sample,
        rules: { mappings: { tier: '"Gold" +' } },
      });
      expect(refused.status).toBe(422);
      expect((refused.body['errors'] as { path: string }[])[0]?.path).toBe('/mappings/tier');
      const invalid = await call('POST', '/v1/preview', keys.marketer, {
        destinationId: 'sd-klaviyo',
        event: { type: 'points.updated', data: { customer_id: 'C1', delta: 'ten' } },
      });
      expect(invalid.status).toBe(400);
      expect((invalid.body['errors'] as { path: string }[]).map((issue) => issue.path)).toContain(
        '/event/data/delta',
      );
      expect(
        (await call('POST', '/v1/preview', keys.operator, { destinationId: 'sd-klaviyo', event: sample }))
          .status,
      ).toBe(403);
      const after = await t.runtime.store.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM identity_identifiers',
      );
      expect(after[0]?.n).toBe(before[0]?.n);
      expect(await call('GET', '/v1/events/recent?brand=sd', keys.marketer)).toEqual({
        status: 200,
        body: { events: [] },
      });
    });

    // A member's real data, in a real stored event: what a role without pii.read must never get, whole or in part.
    describe('of a stored event, for a role without access to personal data', () => {
      const BEA = {
        email: 'beatriz.okafor@wharfmail.co.uk',
        phone: '+447946081357',
        firstName: 'Beatriz',
        lastName: 'Okafor',
        line1: '27 Tannery Row',
        city: 'Keswick',
        postcode: 'CA12 5JX',
      };
      const FRAGMENTS = [
        'beatriz',
        'okafor',
        'wharfmail',
        'Tannery',
        'Keswick',
        'CA12',
        '5JX',
        '+447946',
        '7946081357',
        '081357',
      ];
      const stored = { sourceId: 'loyalty', source: 'crm', id: 'evt-bea-profile' };
      const probing = {
        mappings: {
          email_parts: 'profile.email.split("@")',
          phone_digits: 'event.data.phone.split("")',
          initial: 'event.data.first_name.substring(0, 1)',
          surname: 'profile.last_name.split("")',
          street: 'event.data.address.line1.split(" ")',
          first_name: 'profile.first_name',
          address: 'profile.address',
          phone: 'profile.phone',
        },
      };
      const leaked = (value: unknown) => {
        const text = JSON.stringify(value).toLowerCase();
        return FRAGMENTS.filter((fragment) => text.includes(fragment.toLowerCase()));
      };

      beforeAll(async () => {
        const graph = new IdentityGraph({
          store: t.runtime.store,
          vault: new PiiVault(t.runtime.masterKeys),
          brands: [{ id: 'sd', defaultCountry: 'GB' }],
        });
        const address = { line1: BEA.line1, city: BEA.city, postcode: BEA.postcode, country: 'GB' };
        await graph.resolveIdentities([
          {
            brand: 'sd',
            eventTime: new Date('2026-11-20T10:00:00Z'),
            eventSource: stored.source,
            eventId: stored.id,
            identifiers: { customer_id: 'C600', email: BEA.email, phone: BEA.phone },
            traits: { first_name: BEA.firstName, last_name: BEA.lastName, address },
          },
        ]);
        const log = app.get(PipelineWorker).rawLog;
        await log.append([
          {
            sourceId: stored.sourceId,
            brand: 'sd',
            receivedAt: '2026-11-20T10:00:01Z',
            event: {
              specversion: '1.0',
              id: stored.id,
              source: stored.source,
              type: 'profile.updated',
              time: '2026-11-20T10:00:00Z',
              data: {
                customer_id: 'C600',
                email: BEA.email,
                phone: '07946 081357',
                first_name: BEA.firstName,
                last_name: BEA.lastName,
                address,
              },
            },
          },
        ]);
        await t.runtime.store.transaction((tx) =>
          log.markResolved(
            [
              {
                key: { sourceId: stored.sourceId, eventSource: stored.source, eventId: stored.id },
                customerId: 'C600',
              },
            ],
            tx,
          ),
        );
      });

      it('lists it for the picker, audited', async () => {
        const listed = await call('GET', '/v1/events/recent?brand=sd&limit=5', keys.marketer);
        expect(listed).toEqual({
          status: 200,
          body: {
            events: [
              { ...stored, type: 'profile.updated', brand: 'sd', receivedAt: '2026-11-20T10:00:01.000Z' },
            ],
          },
        });
        const [entry] = await audit().query({ action: 'events.recent_listed' });
        expect(entry).toMatchObject({
          actor: expect.stringMatching(/^console:/),
          detail: {
            entity: 'raw-events',
            id: 'sd',
            before: null,
            after: null,
            limit: 5,
            listed: 1,
            personalData: 'masked',
          },
        });
        expect(entry?.actor).not.toBe('console:admin-from-environment');
      });

      it('previews it on a masked event and profile: Klaviyo takes the placeholders, no piece of the member comes out', async () => {
        const marketer = await call('POST', '/v1/preview', keys.marketer, {
          destinationId: 'sd-klaviyo',
          recentEvent: stored,
          rules: probing,
        });
        expect(marketer.status).toBe(200);
        expect(leaked(marketer.body)).toEqual([]);
        expect(marketer.body).toMatchObject({ personalData: 'masked', customerId: 'C600' });
        const [operation] = marketer.body['operations'] as {
          item: { email: string; attributes: Record<string, unknown> };
        }[];
        const placeholder = /^masked-[0-9a-f]{8}@example\.net$/;
        expect(operation?.item.email).toMatch(placeholder);
        expect(operation?.item.attributes).toMatchObject({
          email_parts: operation?.item.email.split('@'),
          phone_digits: '+12025550100'.split(''),
          initial: '•',
          surname: ['•', '•', '•'],
          street: ['•••'],
        });
        // Klaviyo's emulator validated the request (E.164 phone, email shape) and accepted it.
        const [request] = marketer.body['requests'] as {
          body: { data: { attributes: Record<string, unknown> } };
        }[];
        expect(request?.body.data.attributes).toMatchObject({
          external_id: 'C600',
          email: operation?.item.email,
          phone_number: '+12025550100',
          first_name: '•••',
          location: { address1: '•••', city: '•••', zip: '•••', country: 'GB' },
        });
        expect(
          (marketer.body['notes'] as string[]).filter((note) =>
            /emulator|would be rejected|would be retried|no request built/.test(note),
          ),
        ).toEqual([]);

        const admin = await call('POST', '/v1/preview', ADMIN_KEY, {
          destinationId: 'sd-klaviyo',
          recentEvent: stored,
          rules: probing,
        });
        expect(admin.body).toMatchObject({ personalData: 'shown', customerId: 'C600' });
        expect(
          (admin.body['operations'] as { item: { attributes: unknown } }[])[0]?.item.attributes,
        ).toMatchObject({
          email_parts: ['beatriz.okafor', 'wharfmail.co.uk'],
          initial: 'B',
        });
      });

      it('audits every preview: who, which destination and event, whether personal data was shown; never the data', async () => {
        const entries = await audit().query({ action: 'mappings.previewed', customerId: 'C600' });
        expect(
          entries.map((entry) => [entry.actor === 'console:admin-from-environment', entry.detail]),
        ).toEqual([
          [
            true,
            {
              entity: 'destination',
              id: 'sd-klaviyo',
              before: null,
              after: null,
              event: { stored },
              rules: 'draft',
              personalData: 'shown',
            },
          ],
          [
            false,
            {
              entity: 'destination',
              id: 'sd-klaviyo',
              before: null,
              after: null,
              event: { stored },
              rules: 'draft',
              personalData: 'masked',
            },
          ],
        ]);
        expect(leaked(await audit().query({ limit: 1_000 }))).toEqual([]);
        // A sample is audited by its type alone: what the caller typed is not kept.
        await call('POST', '/v1/preview', keys.marketer, { destinationId: 'sd-klaviyo', event: sample });
        const [latest] = await audit().query({ action: 'mappings.previewed' });
        expect(latest?.detail).toMatchObject({
          event: { sample: 'points.updated' },
          rules: 'saved',
          personalData: 'masked',
        });
        expect(JSON.stringify(latest)).not.toContain('preview@example.com');
      });
    });
  });

  describe('profiles', () => {
    beforeAll(async () => {
      const graph = new IdentityGraph({
        store: t.runtime.store,
        vault: new PiiVault(t.runtime.masterKeys),
        brands: [{ id: 'sd', defaultCountry: 'GB' }],
      });
      await graph.resolveIdentities([
        {
          brand: 'sd',
          eventTime: new Date('2026-11-20T10:00:00Z'),
          eventSource: 'spec',
          eventId: 'p-1',
          identifiers: { customer_id: 'C77', email: 'ana@example.com', member_id: 'SD123' },
          traits: { first_name: 'Ana' },
        },
      ]);
    });

    it('finds a profile by any identifier; raw PII only for an admin', async () => {
      const admin = await call('GET', `/v1/profiles/${encodeURIComponent('member.sd:SD123')}`, ADMIN_KEY);
      expect(admin.status).toBe(200);
      expect(admin.body['customerId']).toBe('C77');
      expect(admin.body['identifiers']).toEqual(
        expect.arrayContaining([expect.objectContaining({ type: 'email', value: 'ana@example.com' })]),
      );
      const marketer = await call(
        'GET',
        `/v1/profiles/${encodeURIComponent('email:Ana@Example.com')}`,
        keys.marketer,
      );
      expect(marketer.body['customerId']).toBe('C77');
      expect(JSON.stringify(marketer.body)).not.toContain('ana@example.com');
      expect(marketer.body).toHaveProperty('consent');
      expect(marketer.body).toHaveProperty('deliveries');
      expect(await call('GET', '/v1/profiles/email%3Anobody%40example.com', keys.marketer)).toEqual({
        status: 404,
        body: { error: 'not_found', message: 'no profile for email:…' },
      });
      expect((await call('GET', '/v1/profiles/fax%3A123', keys.marketer)).body['message']).toMatch(
        /^unknown identifier type "fax"/,
      );
      expect((await audit().query({ action: 'profile.pii_read' }))[0]?.customerId).toBe('C77');
    });
  });

  describe('reviews, merges and unmerges', () => {
    const eleanor = {
      first_name: 'Eleanor',
      last_name: 'Whitfield',
      address: { postcode: 'LS6 2AB' },
      date_of_birth: '1987-04-12',
    };
    let graph: IdentityGraph;
    const seed = async (id: string, identifiers: Record<string, string>, traits: Record<string, unknown>) => {
      const result = await graph.resolveIdentities([
        {
          brand: 'sd',
          eventTime: new Date('2026-11-21T10:00:00Z'),
          eventSource: 'spec',
          eventId: id,
          identifiers,
          traits,
        },
      ]);
      return result.records[0]?.customerId ?? '';
    };

    beforeAll(() => {
      graph = new IdentityGraph({
        store: t.runtime.store,
        vault: new PiiVault(t.runtime.masterKeys),
        brands: [{ id: 'sd', defaultCountry: 'GB' }],
      });
    });

    it('rejects a probable merge, then approves another, each once and audited', async () => {
      const a = await seed('r-1', { member_id: 'SD901' }, eleanor);
      const b = await seed(
        'r-2',
        { email: 'elenor.w@example.com' },
        { ...eleanor, first_name: 'Elenor', date_of_birth: undefined },
      );
      const c = await seed('r-3', { customer_id: 'C903' }, { ...eleanor, last_name: 'Whitfeld' });
      const review = new MatchReview(graph);
      await review.findProbableMatches([b, c]);
      const pending = (await call('GET', '/v1/reviews', keys.auditor)).body['reviews'] as {
        id: number;
        customerIds: string[];
      }[];
      expect(pending.length).toBeGreaterThanOrEqual(2);
      const [first, second] = pending;
      expect(
        (await call('POST', `/v1/reviews/${first?.id}/reject`, ADMIN_KEY, { reason: 'different people' }))
          .body,
      ).toMatchObject({
        status: 'rejected',
      });
      expect(await call('POST', `/v1/reviews/${first?.id}/approve`, ADMIN_KEY, {})).toEqual({
        status: 409,
        body: {
          error: 'conflict',
          message: `review ${first?.id} was already rejected by console:admin-from-environment`,
        },
      });
      expect((await call('POST', `/v1/reviews/${second?.id}/approve`, ADMIN_KEY, {})).body['status']).toBe(
        'approved',
      );
      const [low, high] = second?.customerIds ?? [];
      const survivors = await Promise.all(
        [low, high].map(
          async (id) => (await call('GET', `/v1/profiles/customer_id%3A${id}`, ADMIN_KEY)).body['customerId'],
        ),
      );
      expect(survivors[0]).toBe(survivors[1]);
      expect((await call('GET', '/v1/reviews?status=approved', keys.auditor)).body['reviews']).toHaveLength(
        1,
      );
      const actions = (await audit().query({ limit: 200 })).map((entry) => entry.action);
      expect(actions).toEqual(expect.arrayContaining(['review.rejected', 'review.approved']));
      expect([a, b, c].every((id) => id !== '')).toBe(true);
    });

    it('merges two profiles by hand and reverses it by its lineage id, for an admin only', async () => {
      const left = await seed('m-1', { customer_id: 'C801', email: 'left@example.com' }, {});
      const right = await seed('m-2', { email: 'right@example.com' }, {});
      expect(
        (
          await call('POST', '/v1/profiles/merge', keys.marketer, {
            from: 'email:right@example.com',
            into: 'customer_id:C801',
            reason: 'x',
          })
        ).status,
      ).toBe(403);
      expect(
        await call('POST', '/v1/profiles/merge', ADMIN_KEY, {
          from: 'email:nobody@example.com',
          into: 'customer_id:C801',
          reason: 'x',
        }),
      ).toEqual({
        status: 404,
        body: { error: 'not_found', message: 'no profile for email:…' },
      });
      const merged = await call('POST', '/v1/profiles/merge', ADMIN_KEY, {
        from: 'email:right@example.com',
        into: 'customer_id:C801',
        reason: 'same person, confirmed by phone',
      });
      expect(merged.status).toBe(200);
      expect(merged.body['customerId']).toBe(left);
      const profile = await call('GET', '/v1/profiles/email%3Aright%40example.com', ADMIN_KEY);
      expect(profile.body['customerId']).toBe(left);
      const lineage = profile.body['lineage'] as { id: number; kind: string; loser: string }[];
      const merge = lineage.find((entry) => entry.kind === 'merge' && entry.loser === right);
      expect(merge).toBeDefined();
      const split = await call('POST', '/v1/profiles/unmerge', ADMIN_KEY, {
        lineageId: merge?.id,
        reason: 'merged by mistake',
      });
      expect(split.status).toBe(200);
      expect(split.body['splits']).toHaveLength(1);
      expect(
        (await call('GET', '/v1/profiles/email%3Aright%40example.com', ADMIN_KEY)).body['customerId'],
      ).not.toBe(left);
      const actions = (await audit().query({ limit: 200 })).map((entry) => entry.action);
      expect(actions).toEqual(expect.arrayContaining(['profile.merged', 'profile.unmerged']));
    });
  });

  describe('operations', () => {
    let letterIds: number[] = [];

    beforeAll(async () => {
      const worker = app.get(PipelineWorker);
      letterIds = await worker.deadLetters.add(
        ['a', 'b', 'c'].map((key) => ({
          brand: 'sd',
          destinationId: 'sd-klaviyo',
          operation: 'upsertProfiles',
          itemKey: `item-${key}`,
          item: { operation: { operation: 'upsertProfiles' }, itemKey: `item-${key}`, customerId: 'C77' },
          customerId: 'C77',
          errorClass: 'rejected' as const,
          error: `refused ${key}@example.com`,
          attempts: 1,
        })),
      );
    });

    it('lists, counts and shows dead letters with contact points masked; a marketer may not', async () => {
      const listed = await call(
        'GET',
        '/v1/dead-letters?destination=sd-klaviyo&errorClass=rejected',
        keys.operator,
      );
      expect((listed.body['letters'] as { id: number }[]).map((letter) => letter.id)).toEqual(letterIds);
      expect(JSON.stringify(listed.body)).not.toContain('a@example.com');
      expect((await call('GET', '/v1/dead-letters/counts', keys.auditor)).body['counts']).toEqual([
        { destinationId: 'sd-klaviyo', letters: 3 },
      ]);
      expect((await call('GET', `/v1/dead-letters/${letterIds[0]}`, keys.operator)).body).toMatchObject({
        id: letterIds[0],
        errorClass: 'rejected',
      });
      expect((await call('GET', '/v1/dead-letters/99999', keys.operator)).body).toEqual({
        error: 'not_found',
        message: 'no dead letter 99999',
      });
      expect((await call('GET', '/v1/dead-letters?limit=5000', keys.operator)).body['message']).toBe(
        '?/limit must be <= 1000',
      );
      expect((await call('GET', '/v1/dead-letters', keys.marketer)).status).toBe(403);
    });

    it('replays and discards letters for an operator, each once, audited', async () => {
      const [first, second, third] = letterIds;
      const replayed = await call('POST', '/v1/dead-letters/replay', keys.operator, { ids: [first] });
      expect(replayed.body).toMatchObject({ replayed: 1, alreadyDelivered: 0, notWaiting: [] });
      const discarded = await call('POST', '/v1/dead-letters/discard', keys.operator, {
        ids: [second, first],
        reason: 'test data',
      });
      expect(discarded.body).toEqual({ discarded: [second], notWaiting: [first] });
      const again = await call('POST', '/v1/dead-letters/replay', keys.operator, { ids: [second] });
      expect(again.body).toMatchObject({ replayed: 0, notWaiting: [{ id: second }] });
      expect((await call('GET', '/v1/dead-letters', keys.operator)).body['letters']).toEqual([
        expect.objectContaining({ id: third }),
      ]);
      expect(
        (await call('POST', '/v1/dead-letters/discard', keys.operator, { ids: [third] })).body['message'],
      ).toBe('/reason is required');
      const actions = (await audit().query({ limit: 100 })).map((entry) => entry.action);
      expect(actions).toEqual(expect.arrayContaining(['dead_letters.replayed', 'dead_letters.discarded']));
    });

    it('lists the review queue and refuses a decision on an unknown pair', async () => {
      const pending = await call('GET', '/v1/reviews', keys.operator);
      expect(pending.status).toBe(200);
      expect(
        (pending.body['reviews'] as { status: string }[]).every((review) => review.status === 'pending'),
      ).toBe(true);
      expect(await call('POST', '/v1/reviews/999/approve', ADMIN_KEY, {})).toEqual({
        status: 404,
        body: { error: 'not_found', message: 'no review 999' },
      });
      expect((await call('POST', '/v1/reviews/999/approve', keys.operator, {})).status).toBe(403);
    });

    it('opens an access request, follows it to completion and downloads its export', async () => {
      expect((await call('POST', '/v1/dsr', ADMIN_KEY, { type: 'access' })).status).toBe(400);
      const opened = await call('POST', '/v1/dsr', ADMIN_KEY, { type: 'access', email: 'ana@example.com' });
      expect(opened.status).toBe(201);
      const id = String(opened.body['id']);
      expect(opened.body['customerIds']).toEqual(['C77']);
      const [audited] = await audit().query({ action: 'dsr.opened' });
      expect(audited?.detail).toMatchObject({
        entity: 'dsr',
        id,
        before: null,
        after: { type: 'access', customerIds: ['C77'] },
      });
      expect(JSON.stringify(audited)).not.toContain('ana@example.com');
      const done = await waitFor(
        async () => (await call('GET', `/v1/dsr/${id}`, keys.auditor)).body,
        (request) => request['status'] === 'completed',
        'the access request to complete',
      );
      expect(done['destinations']).toEqual([]);
      const exported = await app.inject({
        method: 'GET',
        url: `/v1/dsr/${id}/export`,
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      expect(exported.statusCode).toBe(200);
      expect(exported.headers['content-disposition']).toMatch(/^attachment; filename=".+\.json"$/);
      expect(JSON.parse(exported.body)).toMatchObject({ requestId: id, subject: { customerIds: ['C77'] } });
      expect((await call('GET', `/v1/dsr/${id}/export`, keys.auditor)).status).toBe(403);
      expect((await call('GET', '/v1/dsr', keys.operator)).body['requests']).toEqual([
        expect.objectContaining({ id }),
      ]);
      expect(await call('GET', '/v1/dsr/nope', keys.auditor)).toEqual({
        status: 404,
        body: { error: 'not_found', message: 'no DSR request nope' },
      });
    }, 30_000);

    it('filters the audit log by actor and action for an auditor', async () => {
      const entries = await call(
        'GET',
        '/v1/audit?actor=console%3Aadmin-from-environment&action=brand.created',
        keys.auditor,
      );
      expect(entries.body['entries']).toEqual([
        expect.objectContaining({ action: 'brand.created', detail: expect.objectContaining({ id: 'fl' }) }),
      ]);
    });

    it('shows the deployment and the dashboard figures', async () => {
      const deployment = await call('GET', '/v1/deployment', keys.auditor);
      expect(deployment.body['selectedDestinations']).toEqual(['klaviyo', 'braze', 'mailchimp', 'sfmc']);
      expect(deployment.body['queues']).toEqual(expect.arrayContaining(['route', 'deliver-sd-klaviyo']));
      const figures = await call('GET', '/v1/dashboard', keys.marketer);
      expect(figures.status).toBe(200);
      expect(figures.body).toMatchObject({
        eventsPerSecond: 0,
        deadLetters: 1,
        failuresByClass: { validation: 0, auth: 0, retryable: 0, rejected: 3 },
        conflictingConsentProfiles: 0,
      });
      // Profiles holding a member id: C77's (linked to its group customer id) and SD901's (its pair with C903 was
      // not the review approved, so it holds no group customer id).
      expect(figures.body['accountLinkRate']).toBe(0.5);
      expect(figures.body['queueDepths']).toEqual(
        expect.arrayContaining([expect.objectContaining({ queue: 'route' })]),
      );
    });

    it('streams the figures as server-sent events, taking the key from the query', async () => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const address = app.getHttpServer().address() as { port: number };
      const controller = new AbortController();
      const response = await fetch(
        `http://127.0.0.1:${address.port}/v1/dashboard/stream?key=${keys.marketer}`,
        {
          signal: controller.signal,
        },
      );
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/event-stream');
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
      expect(text).toMatch(/^event: figures\ndata: \{"at":/);
      controller.abort();
      const unauthorised = await fetch(`http://127.0.0.1:${address.port}/v1/dashboard?key=${keys.marketer}`);
      expect(unauthorised.status).toBe(401);
    });
  });

  describe('the documents and pages it serves', () => {
    it('serves the OpenAPI document with every route, the docs page, and keeps Bull Board behind a key', async () => {
      const document = await app.inject({ method: 'GET', url: '/docs/openapi.json' });
      const paths = (
        JSON.parse(document.body) as { paths: Record<string, Record<string, { 'x-permissions': string[] }>> }
      ).paths;
      expect(paths['/v1/destinations/{id}/state']?.['put']?.['x-permissions']).toEqual([
        'destinations.toggle',
        'destinations.pause',
      ]);
      expect(Object.keys(paths).length).toBeGreaterThanOrEqual(25);
      const committed = JSON.parse(readFileSync(join(__dirname, '..', 'openapi.json'), 'utf8')) as {
        paths: unknown;
      };
      expect(committed.paths).toEqual(paths);
      expect((await app.inject({ method: 'GET', url: '/docs' })).body).toContain('swagger-ui-bundle.js');
      expect((await app.inject({ method: 'GET', url: '/queues' })).statusCode).toBe(401);
      const basic = (key: string) => `Basic ${Buffer.from(`ops:${key}`).toString('base64')}`;
      expect(
        (
          await app.inject({
            method: 'GET',
            url: '/queues',
            headers: { authorization: basic(keys.marketer) },
          })
        ).statusCode,
      ).toBe(403);
      expect(
        (
          await app.inject({
            method: 'GET',
            url: '/queues',
            headers: { authorization: basic(keys.operator) },
          })
        ).statusCode,
      ).toBe(200);
    });
  });
});
