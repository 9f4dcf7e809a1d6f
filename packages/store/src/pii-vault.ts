import { createHmac, hkdfSync } from 'node:crypto';
import { KeyRing } from '@tessera/crypto';

const BLIND_INDEX_HEX_LENGTH = 32;

/** An encrypted value as stored: base64 of iv ‖ tag ‖ ciphertext, and the id of the key that sealed it. */
export interface EncryptedValue {
  ciphertext: string;
  keyId: string;
}

/**
 * Protects PII at rest. Values are sealed with AES-256-GCM under a key derived from the master key (the key
 * id is stored beside each value, so a new master key seals while the old one still opens); lookups use a
 * blind index, HMAC-SHA-256 of the normalized value under a separate derived key, so equality can be
 * queried without the plaintext. The blind-index key derives from the oldest master key (last in the list)
 * so that rotating the encryption key moves no lookup; re-keying the index means re-indexing.
 */
export class PiiVault {
  private readonly ring: KeyRing;
  private readonly indexKey: Buffer;

  /** `masterKeys`: the current key first, older ones after it. */
  constructor(masterKeys: Buffer[]) {
    if (masterKeys.length === 0) throw new Error('PiiVault needs at least one master key');
    this.ring = new KeyRing(masterKeys, 'pii');
    this.indexKey = Buffer.from(
      hkdfSync('sha256', masterKeys[masterKeys.length - 1], Buffer.alloc(0), 'tessera:blind-index', 32),
    );
  }

  /**
   * The blind index of a normalized value; `kind` separates domains, so an email never equals a phone.
   * Truncated to 128 bits (32 hex characters): collisions stay out of reach (about 2^-64 even at billions
   * of values) while the indexes that hold these keys are half the size.
   */
  blindIndex(kind: string, normalizedValue: string): string {
    return createHmac('sha256', this.indexKey)
      .update(`${kind}\u0000${normalizedValue}`)
      .digest('hex')
      .slice(0, BLIND_INDEX_HEX_LENGTH);
  }

  /** Seals `value`; `context` (e.g. the column) is authenticated, so a value cannot be moved to another. */
  encrypt(value: string, context: string): EncryptedValue {
    const { kid, packed } = this.ring.sealPacked(value, context);
    return { ciphertext: packed.toString('base64'), keyId: kid };
  }

  decrypt(value: EncryptedValue, context: string): string {
    return this.ring
      .openPacked(value.keyId, Buffer.from(value.ciphertext, 'base64'), context)
      .toString('utf8');
  }
}
