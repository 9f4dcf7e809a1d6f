import { catchConfigurationError } from './testing/catch-configuration-error';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newWebhookSecret } from './demo-workspace';
import {
  loadWorkspaceFile,
  mergeWorkspaces,
  parseWorkspace,
  type BrandDefinition,
  type SourceDefinition,
  type WorkspaceDefinition,
} from './workspace-file';

const FILE = '/etc/tessera/workspace.json';
const SECRET_PATTERN = 'must match pattern "^whsec_[A-Za-z0-9+/]+={0,2}$"';

const brand = (id: string, name = `Brand ${id}`): BrandDefinition => ({ id, name, defaultCountry: 'GB' });

const source = (id: string, overrides: Partial<SourceDefinition> = {}): SourceDefinition => ({
  id,
  brand: 'sports-direct',
  secrets: [newWebhookSecret()],
  ...overrides,
});

const workspace = (): WorkspaceDefinition => ({
  brands: [brand('sports-direct'), brand('flannels')],
  sources: [
    source('loyalty', {
      typeMap: { points_earned: 'points.updated', tier_upgraded: 'tier.changed' },
      rateLimit: 200,
    }),
    source('flannels-pos', { brand: 'flannels', secrets: [newWebhookSecret(), newWebhookSecret()] }),
  ],
  destinations: [{ id: 'braze-sd', kind: 'braze', brand: 'sports-direct' }],
});

describe('parseWorkspace', () => {
  it('accepts a valid workspace as declared', () => {
    const declared = workspace();
    expect(parseWorkspace(JSON.parse(JSON.stringify(declared)) as unknown, FILE)).toEqual(declared);
  });

  it('fills missing lists with empty ones', () => {
    expect(parseWorkspace({}, FILE)).toEqual({ brands: [], sources: [], destinations: [] });
  });

  describe('rejects a bad workspace, naming the file and the JSON Pointer', () => {
    const withSource = (overrides: Partial<SourceDefinition>): WorkspaceDefinition => ({
      ...workspace(),
      sources: [source('loyalty', overrides)],
    });
    const cases: Array<[string, unknown, string]> = [
      ['a source of an unknown brand', withSource({ brand: 'x' }), 'at /sources/0/brand: unknown brand "x"'],
      [
        'a brand declared twice',
        {
          ...workspace(),
          brands: [brand('sports-direct'), brand('flannels'), brand('sports-direct', 'Again')],
        },
        'at /brands/2/id: brand "sports-direct" is declared twice',
      ],
      [
        'a source declared twice',
        { ...workspace(), sources: [source('loyalty'), source('pos'), source('loyalty')] },
        'at /sources/2/id: source "loyalty" is declared twice',
      ],
      [
        'a secret without the whsec_ prefix',
        withSource({ secrets: [randomBytes(32).toString('base64')] }),
        `at /sources/0/secrets/0: ${SECRET_PATTERN}`,
      ],
      [
        'a secret of 12 bytes',
        withSource({ secrets: [newWebhookSecret(), `whsec_${randomBytes(12).toString('base64')}`] }),
        'at /sources/0/secrets/1: a secret must carry at least 16 random bytes',
      ],
      [
        'a typeMap key with / and ~ (escaped in the pointer)',
        withSource({ typeMap: { 'a/b~c': 'nope' } }),
        'at /sources/0/typeMap/a~1b~0c: "nope" is not an event type sources may send',
      ],
      [
        'three secrets',
        withSource({ secrets: [newWebhookSecret(), newWebhookSecret(), newWebhookSecret()] }),
        'at /sources/0/secrets: must NOT have more than 2 items',
      ],
      ['no secrets', withSource({ secrets: [] }), 'at /sources/0/secrets: must NOT have fewer than 1 items'],
      [
        'a typeMap target that is not a catalog type',
        withSource({ typeMap: { points_earned: 'points.earned' } }),
        'at /sources/0/typeMap/points_earned: "points.earned" is not an event type sources may send',
      ],
      [
        'a typeMap target only Tessera emits',
        withSource({ typeMap: { unmerge: 'membership.split' } }),
        'at /sources/0/typeMap/unmerge: "membership.split" is not an event type sources may send',
      ],
      [
        'an unknown top-level key',
        { ...workspace(), webhooks: [] },
        'at /webhooks: must NOT have additional properties',
      ],
      [
        'an unknown key on a brand',
        { ...workspace(), brands: [{ ...brand('sports-direct'), colour: 'red' }] },
        'at /brands/0/colour: must NOT have additional properties',
      ],
      [
        'a brand id that is not a slug',
        { ...workspace(), brands: [brand('Sports Direct')] },
        'at /brands/0/id: must match pattern "^[a-z0-9][a-z0-9-]{0,62}$"',
      ],
      ['a rate limit of zero', withSource({ rateLimit: 0 }), 'at /sources/0/rateLimit: must be >= 1'],
    ];

    it.each(cases)('%s', (_name, document, detail) => {
      const error = catchConfigurationError(() =>
        parseWorkspace(JSON.parse(JSON.stringify(document)) as unknown, FILE),
      );
      expect(error.setting).toBe('TESSERA_WORKSPACE_FILE');
      expect(error.message).toBe(`TESSERA_WORKSPACE_FILE: ${FILE} ${detail}`);
    });

    it('a document that is not an object (no pointer)', () => {
      expect(catchConfigurationError(() => parseWorkspace([], FILE)).message).toBe(
        `TESSERA_WORKSPACE_FILE: ${FILE}: must be object`,
      );
    });
  });
});

describe('loadWorkspaceFile', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-workspace-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads and checks a workspace file', () => {
    const file = join(dir, 'workspace.json');
    const declared = workspace();
    writeFileSync(file, JSON.stringify(declared, null, 2));
    expect(loadWorkspaceFile(file)).toEqual(declared);
  });

  it('names the file in a shape error', () => {
    const file = join(dir, 'workspace.json');
    writeFileSync(file, JSON.stringify({ sources: [source('loyalty')] }));
    expect(catchConfigurationError(() => loadWorkspaceFile(file)).message).toBe(
      `TESSERA_WORKSPACE_FILE: ${file} at /sources/0/brand: unknown brand "sports-direct"`,
    );
  });

  it('reports a missing file', () => {
    const file = join(dir, 'missing.json');
    const error = catchConfigurationError(() => loadWorkspaceFile(file));
    expect(error.setting).toBe('TESSERA_WORKSPACE_FILE');
    expect(error.message).toBe(`TESSERA_WORKSPACE_FILE: cannot read ${file} (ENOENT)`);
  });

  it('reports a file that is not JSON', () => {
    const file = join(dir, 'workspace.json');
    writeFileSync(file, '{ "brands": [ }');
    const error = catchConfigurationError(() => loadWorkspaceFile(file));
    expect(error.setting).toBe('TESSERA_WORKSPACE_FILE');
    expect(error.message).toMatch(new RegExp(`^TESSERA_WORKSPACE_FILE: ${file} is not valid JSON: .+`));
  });
});

describe('mergeWorkspaces', () => {
  it('lets a later layer replace brands and sources with the same id and keeps the others', () => {
    const base = workspace();
    const overlay: WorkspaceDefinition = {
      brands: [brand('flannels', 'Flannels London'), brand('evans')],
      sources: [source('loyalty', { rateLimit: 50 })],
      destinations: [{ id: 'klaviyo-fl', kind: 'klaviyo', brand: 'flannels' }],
    };
    expect(mergeWorkspaces(base, overlay)).toEqual({
      brands: [brand('sports-direct'), brand('flannels', 'Flannels London'), brand('evans')],
      sources: [overlay.sources[0], base.sources[1]],
      destinations: [...base.destinations, ...overlay.destinations],
    });
  });

  it('returns an empty workspace for no layers', () => {
    expect(mergeWorkspaces()).toEqual({ brands: [], sources: [], destinations: [] });
  });
});
