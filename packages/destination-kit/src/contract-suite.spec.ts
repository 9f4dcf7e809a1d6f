import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planSpecSuite } from './contract-suite';
import { specsAvailable, specsDir } from './openapi-contract';

describe('planSpecSuite', () => {
  const saved = process.env['TESSERA_SPECS_DIR'];
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'tessera-specs-'));
    mkdirSync(join(root, 'klaviyo'));
    process.env['TESSERA_SPECS_DIR'] = root;
  });

  afterEach(() => {
    if (saved === undefined) delete process.env['TESSERA_SPECS_DIR'];
    else process.env['TESSERA_SPECS_DIR'] = saved;
    rmSync(root, { recursive: true, force: true });
  });

  it('reads the folder from TESSERA_SPECS_DIR', () => {
    expect(specsDir()).toBe(root);
    expect(specsAvailable('klaviyo')).toBe(true);
    expect(specsAvailable('iterable')).toBe(false);
  });

  it('defaults to <repo root>/../shared/specs', () => {
    delete process.env['TESSERA_SPECS_DIR'];
    expect(specsDir()).toBe(join(__dirname, '..', '..', '..', '..', 'shared', 'specs'));
  });

  it('runs the suite when the ESP folder exists, CI or not', () => {
    expect(planSpecSuite('klaviyo', true)).toEqual({ kind: 'run', dir: join(root, 'klaviyo') });
    expect(planSpecSuite('klaviyo', false)).toEqual({ kind: 'run', dir: join(root, 'klaviyo') });
  });

  it('fails on CI when the ESP folder is missing', () => {
    expect(planSpecSuite('braze', true)).toEqual({
      kind: 'fail',
      dir: join(root, 'braze'),
      message: `spec folder ${join(root, 'braze')} is missing: set TESSERA_SPECS_DIR`,
    });
  });

  it('prints one notice and stays green off CI when the ESP folder is missing', () => {
    expect(planSpecSuite('braze', false)).toEqual({
      kind: 'absent',
      dir: join(root, 'braze'),
      notice: `braze specs not found at ${join(root, 'braze')}; contract tests not run\n`,
    });
  });
});
