import { randomBytes } from 'node:crypto';
import { AuditLog } from '@tessera/consent';
import { AllowedDestinationHosts, defineDestination } from '@tessera/destination-kit';
import type { WorkspaceDefinition } from '@tessera/runtime';
import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { PluginCatalog } from '@tessera/transform';
import { ControlPlaneError, WorkspaceCatalog } from '../src';

// A destination type of this test: a base URL, an API key (a secret) and a list id.
const relay = defineDestination<{ baseUrl: string; apiKey: string; listId: string }>({
  type: 'relay',
  name: 'Relay',
  hosts: ['relay.invalid'],
  settingsSchema: {
    type: 'object',
    properties: {
      baseUrl: { type: 'string', default: 'https://relay.invalid' },
      apiKey: { type: 'string', minLength: 8, 'x-secret': true },
      listId: { type: 'string', minLength: 1 },
    },
    required: ['apiKey', 'listId'],
    additionalProperties: false,
  },
  requestHeaders: (settings): Record<string, string> => ({ authorization: settings.apiKey }),
  testConnection: async () => undefined,
  operations: {
    upsertProfiles: { batchSize: 10, perform: async (items) => items.map(() => ({ status: 'ok' as const })) },
  },
});

const SECRET_A = `whsec_${randomBytes(24).toString('base64')}`;
const SECRET_B = `whsec_${randomBytes(24).toString('base64')}`;

const declared = (overrides: Partial<WorkspaceDefinition> = {}): WorkspaceDefinition => ({
  brands: [{ id: 'sd', name: 'Summit Sports', defaultCountry: 'GB' }],
  sources: [
    { id: 'sd-loyalty', brand: 'sd', secrets: [SECRET_A], typeMap: { points_earned: 'points.updated' } },
  ],
  destinations: [
    {
      id: 'sd-relay',
      brand: 'sd',
      type: 'relay',
      settings: { apiKey: 'relay-key-from-file', listId: 'L1' },
      mappings: { mappings: { tier: 'profile.?loyalty_tier.orValue("Member")' } },
    },
  ],
  ...overrides,
});

// Medium tier: the real PostgreSQL on loopback and PGlite.
describe.each(STORE_DRIVERS)('WorkspaceCatalog on %s', (driver) => {
  let store: Store;
  let catalog: WorkspaceCatalog;
  let audit: AuditLog;
  let clock: Date;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    clock = new Date('2026-11-24T09:00:00Z');
    audit = new AuditLog(store, { now: () => clock });
    catalog = new WorkspaceCatalog({
      store,
      masterKeys: [randomBytes(32)],
      audit,
      destinationTypes: [relay],
      selectedTypes: ['relay'],
      plugins: new PluginCatalog([]),
      now: () => clock,
    });
  });

  afterEach(() => store.close());

  it('applies the declared workspace once, loads it back, and changes nothing on a second start', async () => {
    const first = await catalog.applyDeclared(declared());
    expect(first.changes).toEqual([
      'brand sd',
      'source sd-loyalty',
      'secret of source sd-loyalty',
      'destination sd-relay',
      'mappings of destination sd-relay',
    ]);
    const fingerprint = await catalog.fingerprint();
    expect(await catalog.applyDeclared(declared())).toEqual({ changes: [] });
    expect(await catalog.fingerprint()).toBe(fingerprint);
    expect(await catalog.load()).toEqual({
      brands: [{ id: 'sd', name: 'Summit Sports', defaultCountry: 'GB' }],
      sources: [
        { id: 'sd-loyalty', brand: 'sd', secrets: [SECRET_A], typeMap: { points_earned: 'points.updated' } },
      ],
      destinations: [
        {
          id: 'sd-relay',
          brand: 'sd',
          type: 'relay',
          settings: { apiKey: 'relay-key-from-file', listId: 'L1' },
          plugins: [],
          state: 'enabled',
          mappings: { mappings: { tier: 'profile.?loyalty_tier.orValue("Member")' } },
        },
      ],
    });
  });

  it('seals signing secrets and destination settings: neither is readable in the store', async () => {
    await catalog.applyDeclared(declared());
    const secrets = await store.query<{ sealed: Uint8Array }>('SELECT sealed FROM workspace_source_secrets');
    const settings = await store.query<{ settings_sealed: Uint8Array }>(
      'SELECT settings_sealed FROM workspace_destinations',
    );
    expect(secrets).toHaveLength(1);
    expect(Buffer.from(secrets[0]?.sealed ?? []).toString('latin1')).not.toContain(SECRET_A.slice(6, 20));
    expect(Buffer.from(settings[0]?.settings_sealed ?? []).toString('latin1')).not.toContain('relay-key');
  });

  it('keeps a console edit across restarts until the file itself changes', async () => {
    await catalog.applyDeclared(declared());
    await catalog.updateDestination('sd-relay', { settings: { listId: 'L2', apiKey: '***' } }, 'console:ana');
    await catalog.saveRules('sd-relay', { mappings: { tier: '"Gold"' } }, 'console:ana');
    expect(await catalog.applyDeclared(declared())).toEqual({ changes: [] });
    expect((await catalog.destination('sd-relay'))?.settings).toEqual({
      apiKey: 'relay-key-from-file',
      listId: 'L2',
    });
    expect((await catalog.currentRules('sd-relay'))?.rules).toEqual({ mappings: { tier: '"Gold"' } });

    const edited = declared();
    edited.destinations = [
      { ...(edited.destinations[0] ?? {}), settings: { apiKey: 'rotated-key-1', listId: 'L3' } },
    ];
    expect((await catalog.applyDeclared(edited)).changes).toEqual(['destination sd-relay']);
    expect((await catalog.destination('sd-relay'))?.settings).toEqual({
      apiKey: 'rotated-key-1',
      listId: 'L3',
    });
    expect((await catalog.currentRules('sd-relay'))?.version).toBe(2);
  });

  it('rotates a secret with both valid during the grace period, then only the new one', async () => {
    await catalog.applyDeclared(declared());
    clock = new Date('2026-11-24T09:30:00Z');
    const rotated = await catalog.rotateSecret('sd-loyalty', 2, 'console:ops');
    expect(rotated.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(rotated.previousExpiresAt).toEqual(new Date('2026-11-24T11:30:00Z'));
    expect((await catalog.liveSecrets()).get('sd-loyalty')).toEqual([rotated.secret, SECRET_A]);

    const third = await catalog.rotateSecret('sd-loyalty', 2, 'console:ops').catch((error: unknown) => error);
    expect(third).toBeInstanceOf(ControlPlaneError);
    expect((third as ControlPlaneError).kind).toBe('conflict');
    expect((third as ControlPlaneError).message).toMatch(
      /already rotating \(two live secrets\): revoke sec_/,
    );

    clock = new Date('2026-11-24T11:30:01Z');
    expect((await catalog.liveSecrets()).get('sd-loyalty')).toEqual([rotated.secret]);
    const last = await catalog
      .revokeSecret('sd-loyalty', rotated.secretId, 'console:ops')
      .catch((error: unknown) => error);
    expect((last as ControlPlaneError).kind).toBe('conflict');
    expect((last as ControlPlaneError).message).toBe(
      `secret "${rotated.secretId}" is the last live secret of source "sd-loyalty": rotate first, then revoke it`,
    );
    const entries = await audit.query({ action: 'source.secret_rotated' });
    expect(entries).toHaveLength(1);
    expect(entries[0]?.actor).toBe('console:ops');
    expect(JSON.stringify(entries[0]?.detail)).not.toContain(rotated.secret.slice(6));
  });

  it('revokes a secret at once, and a file that drops its secret revokes it at the next start', async () => {
    await catalog.applyDeclared(declared());
    const rotated = await catalog.rotateSecret('sd-loyalty', 24, 'console:ops');
    const old = (await catalog.source('sd-loyalty'))?.secrets.find(
      (secret) => secret.id !== rotated.secretId,
    );
    await catalog.revokeSecret('sd-loyalty', old?.id ?? '', 'console:ops');
    expect((await catalog.liveSecrets()).get('sd-loyalty')).toEqual([rotated.secret]);

    const swapped = declared({
      sources: [
        { id: 'sd-loyalty', brand: 'sd', secrets: [SECRET_B], typeMap: { points_earned: 'points.updated' } },
      ],
    });
    await catalog.applyDeclared(swapped);
    expect(new Set((await catalog.liveSecrets()).get('sd-loyalty'))).toEqual(
      new Set([rotated.secret, SECRET_B]),
    );
  });

  it('refuses invalid destinations with a pointer at the setting, and writes nothing', async () => {
    await catalog.applyDeclared(declared({ destinations: [] }));
    const before = await catalog.fingerprint();
    const bad = await catalog
      .createDestination(
        { id: 'sd-relay-2', brand: 'sd', type: 'relay', settings: { apiKey: 'short' } },
        'console:ana',
      )
      .catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(ControlPlaneError);
    expect((bad as ControlPlaneError).kind).toBe('invalid');
    expect((bad as ControlPlaneError).issues.map((issue) => issue.path).sort()).toEqual([
      '/settings/apiKey',
      '/settings/listId',
    ]);
    const unknownType = await catalog
      .createDestination({ id: 'sd-x', brand: 'sd', type: 'carrier-pigeon', settings: {} }, 'console:ana')
      .catch((error: unknown) => error);
    expect((unknownType as ControlPlaneError).message).toBe('unknown destination type "carrier-pigeon"');
    const unknownPlugin = await catalog
      .createDestination(
        {
          id: 'sd-relay-3',
          brand: 'sd',
          type: 'relay',
          settings: { apiKey: 'long-enough', listId: 'L' },
          plugins: [{ name: 'nope' }],
        },
        'console:ana',
      )
      .catch((error: unknown) => error);
    expect((unknownPlugin as ControlPlaneError).message).toBe(
      'Destination "sd-relay-3": unknown plugin "nope"; known: (none)',
    );
    expect(await catalog.fingerprint()).toBe(before);
    expect(await catalog.destinations()).toEqual([]);
    expect(await audit.query({ action: 'destination.created' })).toEqual([]);
  });

  it('refuses a base URL the ESP does not have when saved (create or update), unless the deployment allows it', async () => {
    await catalog.applyDeclared(declared());
    const before = await catalog.fingerprint();
    const refused = async (saving: Promise<unknown>, setting: string, message: string) => {
      const error = await saving.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ControlPlaneError);
      expect([(error as ControlPlaneError).kind, (error as ControlPlaneError).message]).toEqual([
        'invalid',
        `invalid relay settings: /settings/${setting} ${message}`,
      ]);
      expect((error as ControlPlaneError).issues).toEqual([{ path: `/settings/${setting}`, message }]);
    };
    const loopback =
      "127.0.0.1 is a loopback address, not one of Relay's hosts (relay.invalid); TESSERA_ALLOWED_DESTINATION_HOSTS can allow it";
    await refused(
      catalog.createDestination(
        {
          id: 'sd-relay-2',
          brand: 'sd',
          type: 'relay',
          settings: { apiKey: 'long-enough', listId: 'L', baseUrl: 'http://0x7f000001:8080/admin' },
        },
        'console:ana',
      ),
      'baseUrl',
      loopback,
    );
    await refused(
      catalog.updateDestination('sd-relay', { settings: { baseUrl: 'http://[::1]/' } }, 'console:ana'),
      'baseUrl',
      "::1 is a loopback address, not one of Relay's hosts (relay.invalid); TESSERA_ALLOWED_DESTINATION_HOSTS can allow it",
    );
    await refused(
      catalog.updateDestination('sd-relay', { settings: { baseUrl: 'http://relay.invalid' } }, 'console:ana'),
      'baseUrl',
      'relay.invalid is called over https only (got http:); TESSERA_ALLOWED_DESTINATION_HOSTS can allow it',
    );
    // Nothing was written: the stored destination and the audit trail are as they were.
    expect(await catalog.fingerprint()).toBe(before);
    expect((await catalog.destination('sd-relay'))?.settings).toEqual({
      apiKey: 'relay-key-from-file',
      listId: 'L1',
    });
    expect(await audit.query({ action: 'destination.updated' })).toEqual([]);

    const allowing = new WorkspaceCatalog({
      store,
      masterKeys: [randomBytes(32)],
      audit,
      destinationTypes: [relay],
      selectedTypes: ['relay'],
      plugins: new PluginCatalog([]),
      allowedHosts: new AllowedDestinationHosts(['127.0.0.1:8080']),
      now: () => clock,
    });
    const created = await allowing.createDestination(
      {
        id: 'sd-relay-2',
        brand: 'sd',
        type: 'relay',
        settings: { apiKey: 'long-enough', listId: 'L', baseUrl: 'http://0x7f000001:8080/admin' },
      },
      'console:ana',
    );
    expect(created.settings['baseUrl']).toBe('http://0x7f000001:8080/admin');
  });

  it('creates a destination and audits it with its secrets as ***', async () => {
    await catalog.applyDeclared(declared({ destinations: [] }));
    const created = await catalog.createDestination(
      { id: 'sd-relay', brand: 'sd', type: 'relay', settings: { apiKey: 'console-key-1', listId: 'L9' } },
      'console:ana',
    );
    expect(catalog.displayedSettings(created)).toEqual({ apiKey: '***', listId: 'L9' });
    const [entry] = await audit.query({ action: 'destination.created' });
    expect(entry?.detail).toEqual({
      entity: 'destination',
      id: 'sd-relay',
      before: null,
      after: {
        brand: 'sd',
        type: 'relay',
        state: 'enabled',
        settings: { apiKey: '***', listId: 'L9' },
        plugins: [],
      },
    });
    const again = await catalog
      .createDestination(
        { id: 'sd-relay', brand: 'sd', type: 'relay', settings: { apiKey: 'console-key-1', listId: 'L9' } },
        'console:ana',
      )
      .catch((error: unknown) => error);
    expect((again as ControlPlaneError).kind).toBe('conflict');
  });

  it('refuses rules that do not compile with a JSON Pointer and the position, and keeps the last version', async () => {
    await catalog.applyDeclared(declared());
    const refused = await catalog
      .saveRules('sd-relay', { mappings: { first_name: 'profile.first_nme +' } }, 'console:ana')
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ControlPlaneError);
    expect((refused as ControlPlaneError).kind).toBe('invalid_rules');
    const [issue] = (refused as ControlPlaneError).issues;
    expect(issue?.path).toBe('/mappings/first_name');
    expect(issue?.expression).toBe('profile.first_nme +');
    expect(issue?.message).toMatch(/^1:\d+: /);
    expect((await catalog.currentRules('sd-relay'))?.version).toBe(1);
    expect(await audit.query({ action: 'mappings.saved' })).toEqual([]);
  });
});
