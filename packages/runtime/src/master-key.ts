import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError, type Settings } from './settings';

export const MASTER_KEY_FILE = 'master.key';

export function decodeMasterKey(value: string, setting = 'TESSERA_MASTER_KEY'): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (key.length !== 32) {
    throw new ConfigurationError(
      setting,
      'expected 32 bytes, base64 or hex (e.g. `openssl rand -base64 32`)',
    );
  }
  return key;
}

/**
 * The previous master keys (TESSERA_PREVIOUS_MASTER_KEYS), decoded: a rotation lists the old key there and
 * the new one in TESSERA_MASTER_KEY, so values sealed before still open while new ones use the new key.
 */
export function resolvePreviousMasterKeys(settings: Settings): Buffer[] {
  return settings.previousMasterKeys.map((value) => decodeMasterKey(value, 'TESSERA_PREVIOUS_MASTER_KEYS'));
}

/**
 * The key that encrypts secrets and PII at rest. Production must pass it in; elsewhere one is generated
 * on the first start and kept in the data folder (mode 0600), so restarts can still read what was written.
 */
export function resolveMasterKey(settings: Settings): { key: Buffer; generated: boolean; file?: string } {
  if (settings.masterKey !== undefined) return { key: decodeMasterKey(settings.masterKey), generated: false };
  const file = join(settings.dataDir, MASTER_KEY_FILE);
  if (existsSync(file)) {
    return { key: decodeMasterKey(readFileSync(file, 'utf8').trim(), file), generated: false, file };
  }
  writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return { key: decodeMasterKey(readFileSync(file, 'utf8').trim(), file), generated: true, file };
}
