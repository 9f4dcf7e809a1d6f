import { catchConfigurationError } from './testing/catch-configuration-error';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMasterKey, MASTER_KEY_FILE, resolveMasterKey, resolvePreviousMasterKeys } from './master-key';
import { loadSettings } from './settings';

const KEY_MESSAGE = 'expected 32 bytes, base64 or hex (e.g. `openssl rand -base64 32`)';

describe('resolveMasterKey', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-key-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const settings = (env: Record<string, string> = {}) => loadSettings({ TESSERA_DATA_DIR: dir, ...env }, dir);

  it.each([
    ['base64', (key: Buffer) => key.toString('base64')],
    ['hex', (key: Buffer) => key.toString('hex')],
  ])('uses TESSERA_MASTER_KEY given in %s, and writes no file', (_encoding, encode) => {
    const key = randomBytes(32);
    expect(resolveMasterKey(settings({ TESSERA_MASTER_KEY: encode(key) }))).toEqual({
      key,
      generated: false,
    });
    expect(() => statSync(join(dir, MASTER_KEY_FILE))).toThrow(/ENOENT/);
  });

  it.each([
    ['16 bytes of base64', randomBytes(16).toString('base64')],
    ['16 bytes of hex', randomBytes(16).toString('hex')],
    ['33 bytes of base64', randomBytes(33).toString('base64')],
  ])('rejects a TESSERA_MASTER_KEY of %s', (_name, value) => {
    const error = catchConfigurationError(() => resolveMasterKey(settings({ TESSERA_MASTER_KEY: value })));
    expect(error.setting).toBe('TESSERA_MASTER_KEY');
    expect(error.message).toBe(`TESSERA_MASTER_KEY: ${KEY_MESSAGE}`);
  });

  it('generates a key in the data folder on the first start and reuses it after', () => {
    const first = resolveMasterKey(settings());
    const file = join(dir, MASTER_KEY_FILE);
    expect(first.generated).toBe(true);
    expect(first.file).toBe(file);
    expect(first.key).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(`${first.key.toString('base64')}\n`);

    expect(resolveMasterKey(settings())).toEqual({ key: first.key, generated: false, file });
  });

  it('names the key file when the stored key is damaged', () => {
    const file = join(dir, MASTER_KEY_FILE);
    writeFileSync(file, 'short\n');
    const error = catchConfigurationError(() => resolveMasterKey(settings()));
    expect(error.setting).toBe(file);
    expect(error.message).toBe(`${file}: ${KEY_MESSAGE}`);
  });
});

describe('decodeMasterKey', () => {
  it('reads 64 hex characters as hex, not base64', () => {
    const key = randomBytes(32);
    expect(decodeMasterKey(key.toString('hex').toUpperCase())).toEqual(key);
  });
});

describe('resolvePreviousMasterKeys', () => {
  const settings = (env: Record<string, string> = {}) =>
    loadSettings({ TESSERA_DATA_DIR: '/tmp/unused', ...env }, '/');

  it('is empty unless TESSERA_PREVIOUS_MASTER_KEYS lists keys', () => {
    expect(resolvePreviousMasterKeys(settings())).toEqual([]);
    expect(resolvePreviousMasterKeys(settings({ TESSERA_PREVIOUS_MASTER_KEYS: ' , ' }))).toEqual([]);
  });

  it('decodes each listed key, base64 or hex, in order', () => {
    const [older, oldest] = [randomBytes(32), randomBytes(32)];
    const env = { TESSERA_PREVIOUS_MASTER_KEYS: ` ${older.toString('base64')} ,${oldest.toString('hex')}` };
    expect(resolvePreviousMasterKeys(settings(env))).toEqual([older, oldest]);
  });

  it('names the setting when one of them is not a key', () => {
    const env = { TESSERA_PREVIOUS_MASTER_KEYS: `${randomBytes(32).toString('base64')},short` };
    const error = catchConfigurationError(() => resolvePreviousMasterKeys(settings(env)));
    expect(error.setting).toBe('TESSERA_PREVIOUS_MASTER_KEYS');
    expect(error.message).toBe(`TESSERA_PREVIOUS_MASTER_KEYS: ${KEY_MESSAGE}`);
  });
});
