const BLIND_INDEX = /^[0-9a-f]{32}$/;

/**
 * True when `key` has the shape of a PiiVault blind index (32 lowercase hex characters). The ledger and the
 * suppression list refuse anything else, so a plaintext contact point can never be written as a key.
 */
export function isBlindIndex(key: string): boolean {
  return BLIND_INDEX.test(key);
}
