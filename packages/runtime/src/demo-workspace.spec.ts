import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEMO_CREDENTIALS_FILE,
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

  it('creates the demo credentials on the first call, readable by the owner only', () => {
    const { workspace, file, created } = ensureDemoWorkspace(dir);
    expect(created).toBe(true);
    expect(file).toBe(join(dir, DEMO_CREDENTIALS_FILE));
    expect(statSync(file).mode & 0o777).toBe(0o600);

    expect(workspace.brands).toEqual([{ id: 'demo', name: 'Demo Brand', defaultCountry: 'GB' }]);
    expect(workspace.destinations).toEqual([]);
    expect(workspace.sources).toHaveLength(1);
    const [source] = workspace.sources;
    expect(source).toMatchObject({
      id: 'demo-loyalty',
      brand: 'demo',
      typeMap: {
        points_earned: 'points.updated',
        tier_upgraded: 'tier.changed',
        member_updated: 'profile.updated',
      },
    });
    expect(source.secrets).toHaveLength(1);
    expect(source.secrets[0]).toMatch(/^whsec_/);

    const stored = JSON.parse(readFileSync(file, 'utf8')) as DemoCredentials;
    expect(stored.sources[0].secret).toBe(source.secrets[0]);
  });

  it('creates a workspace the workspace checks accept', () => {
    const { workspace, file } = ensureDemoWorkspace(dir);
    expect(parseWorkspace(workspace, file)).toEqual(workspace);
  });

  it('reuses the credentials on later calls', () => {
    const first = ensureDemoWorkspace(dir);
    const second = ensureDemoWorkspace(dir);
    expect(second.created).toBe(false);
    expect(second.file).toBe(first.file);
    expect(second.workspace).toEqual(first.workspace);
    expect(second.workspace.sources[0].secrets[0]).toBe(first.workspace.sources[0].secrets[0]);
  });
});
