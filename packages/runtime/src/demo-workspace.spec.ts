import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEMO_CREDENTIALS_FILE,
  DEMO_GROUP_SOURCE_ID,
  DEMO_SPORTS_SOURCE_ID,
  ensureDemoWorkspace,
  newWebhookSecret,
  type DemoCredentials,
} from './demo-workspace';
import { parseWorkspace } from './workspace-file';

describe('newWebhookSecret', () => {
  it('makes a whsec_ secret of 32 random bytes', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(secret);
  });
});

describe('ensureDemoWorkspace', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-demo-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates two brands of one group, a source each, credentials readable by the owner only', () => {
    const { workspace, file, created } = ensureDemoWorkspace(dir, { port: 8080 });
    expect(created).toBe(true);
    expect(file).toBe(join(dir, DEMO_CREDENTIALS_FILE));
    expect(statSync(file).mode & 0o777).toBe(0o600);

    expect(workspace.brands).toEqual([
      { id: 'northwind', name: 'Northwind Rewards', defaultCountry: 'GB' },
      { id: 'summit-sports', name: 'Summit Sports', defaultCountry: 'GB' },
    ]);
    expect(workspace.sources.map(({ id, brand }) => ({ id, brand }))).toEqual([
      { id: DEMO_GROUP_SOURCE_ID, brand: 'northwind' },
      { id: DEMO_SPORTS_SOURCE_ID, brand: 'summit-sports' },
    ]);
    expect(workspace.sources[0]?.typeMap).toEqual({
      points_earned: 'points.updated',
      tier_upgraded: 'tier.changed',
      member_updated: 'profile.updated',
    });
    const [group, sports] = workspace.sources.map((source) => source.secrets);
    expect(group).toEqual([expect.stringMatching(/^whsec_/)]);
    expect(sports).toEqual([expect.stringMatching(/^whsec_/)]);
    expect(group).not.toEqual(sports);

    const stored = JSON.parse(readFileSync(file, 'utf8')) as DemoCredentials;
    expect(stored.note).toMatch(/Keep this file private/);
    expect(stored.sources.map((source) => source.secret)).toEqual([group?.[0], sports?.[0]]);
  });

  it('declares the four ESPs on this process’s sandbox, each brand two of them', () => {
    const { workspace, destinationsNote } = ensureDemoWorkspace(dir, { port: 18123 });
    expect(destinationsNote).toBeUndefined();
    expect(workspace.destinations.map(({ id, brand, type }) => ({ id, brand, type }))).toEqual([
      { id: 'northwind-klaviyo', brand: 'northwind', type: 'klaviyo' },
      { id: 'northwind-sfmc', brand: 'northwind', type: 'sfmc' },
      { id: 'summit-sports-braze', brand: 'summit-sports', type: 'braze' },
      { id: 'summit-sports-mailchimp', brand: 'summit-sports', type: 'mailchimp' },
    ]);
    for (const destination of workspace.destinations) {
      const settings = destination['settings'] as Record<string, unknown>;
      const root = `http://127.0.0.1:18123/sandbox/${String(destination['type'])}`;
      expect(settings['baseUrl']).toBe(root);
      if (destination['type'] === 'sfmc') {
        expect(settings).toMatchObject({
          authBaseUrl: root,
          soapBaseUrl: root,
          dataExtensionKey: 'TesseraProfiles',
        });
      }
      expect(destination['mappings']).toMatchObject({ mappings: { loyalty_tier: expect.any(String) } });
    }
  });

  it('reaches the sandbox on the interface the process listens on', () => {
    const settingsOf = (host: string) =>
      ensureDemoWorkspace(dir, { port: 9000, host }).workspace.destinations.map(
        (destination) => (destination['settings'] as { baseUrl: string }).baseUrl,
      )[0];
    expect(settingsOf('0.0.0.0')).toBe('http://127.0.0.1:9000/sandbox/klaviyo');
    expect(settingsOf('10.1.2.3')).toBe('http://10.1.2.3:9000/sandbox/klaviyo');
    expect(settingsOf('fd00::1')).toBe('http://[fd00::1]:9000/sandbox/klaviyo');
  });

  it('has no destinations on PORT=0, and says why', () => {
    const { workspace, destinationsNote } = ensureDemoWorkspace(dir, { port: 0 });
    expect(workspace.destinations).toEqual([]);
    expect(workspace.sources).toHaveLength(2);
    expect(destinationsNote).toMatch(/PORT=0/);
  });

  it('declares only the destination types this deployment runs', () => {
    const { workspace, destinationsNote } = ensureDemoWorkspace(dir, {
      port: 8080,
      destinationTypes: ['braze', 'sfmc'],
    });
    expect(workspace.destinations.map((destination) => destination['type'])).toEqual(['sfmc', 'braze']);
    expect(destinationsNote).toMatch(/northwind-klaviyo \(klaviyo\), summit-sports-mailchimp \(mailchimp\)/);
  });

  it('creates a workspace the workspace checks accept', () => {
    const { workspace, file } = ensureDemoWorkspace(dir, { port: 8080 });
    expect(parseWorkspace(workspace, file)).toEqual(workspace);
  });

  it('reuses the credentials on later calls, without rewriting the file', () => {
    const first = ensureDemoWorkspace(dir, { port: 8080 });
    const text = readFileSync(first.file, 'utf8');
    const second = ensureDemoWorkspace(dir, { port: 8080 });
    expect(second.created).toBe(false);
    expect(second.file).toBe(first.file);
    expect(second.workspace).toEqual(first.workspace);
    expect(readFileSync(first.file, 'utf8')).toBe(text);
  });

  it('upgrades a one-brand demo file, keeping the demo-loyalty secret', () => {
    const secret = newWebhookSecret();
    const file = join(dir, DEMO_CREDENTIALS_FILE);
    writeFileSync(
      file,
      JSON.stringify({
        note: 'old',
        createdAt: '2026-01-01T00:00:00.000Z',
        brand: { id: 'demo', name: 'Demo Brand', defaultCountry: 'GB' },
        sources: [{ id: 'demo-loyalty', brand: 'demo', secret, typeMap: {} }],
      }),
      { mode: 0o600 },
    );
    const { workspace, created } = ensureDemoWorkspace(dir, { port: 8080 });
    expect(created).toBe(false);
    expect(workspace.sources[0]).toMatchObject({ id: 'demo-loyalty', brand: 'northwind', secrets: [secret] });
    expect(workspace.sources[1]?.id).toBe(DEMO_SPORTS_SOURCE_ID);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as DemoCredentials;
    expect(stored.createdAt).toBe('2026-01-01T00:00:00.000Z');
    expect(ensureDemoWorkspace(dir, { port: 8080 }).workspace).toEqual(workspace);
  });
});
