import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { UnknownKeyError } from '@tessera/crypto';
import { PiiVault } from './pii-vault';

// Small tier: pure crypto, no database.

/** The blind-index key as the vault derives it, computed independently here. */
const hkdfBlindIndexKey = (master: Buffer) =>
  Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'tessera:blind-index', 32));

describe('PiiVault', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const email = 'ana.silva+loyalty@example.com';

  it('needs a 32-byte master key', () => {
    expect(() => new PiiVault([])).toThrow('PiiVault needs at least one master key');
    expect(() => new PiiVault([randomBytes(16)])).toThrow('a master key is 32 bytes');
  });

  it('round-trips a value', () => {
    const vault = new PiiVault([oldKey]);
    for (const value of [email, '', 'Zoë Ñúñez — 東京 ✓', 'x'.repeat(10_000)]) {
      expect(vault.decrypt(vault.encrypt(value, 'identifier.email'), 'identifier.email')).toBe(value);
    }
  });

  it('seals with a fresh IV each time and never carries the plaintext', () => {
    const vault = new PiiVault([oldKey]);
    const first = vault.encrypt(email, 'identifier.email');
    const second = vault.encrypt(email, 'identifier.email');
    expect(first.ciphertext).not.toBe(second.ciphertext);
    expect(first.keyId).toBe(second.keyId);
    const packed = Buffer.from(first.ciphertext, 'base64');
    const packedAgain = Buffer.from(second.ciphertext, 'base64');
    // iv (12) ‖ tag (16) ‖ ciphertext (as long as the plaintext)
    expect(packed.length).toBe(12 + 16 + Buffer.byteLength(email));
    expect(packed.subarray(0, 12).equals(packedAgain.subarray(0, 12))).toBe(false);
    for (const sealed of [first, second]) {
      expect(sealed.ciphertext).not.toContain(email);
      expect(sealed.ciphertext).not.toContain('ana.silva');
      const bytes = Buffer.from(sealed.ciphertext, 'base64');
      expect(bytes.includes(Buffer.from(email))).toBe(false);
      expect(bytes.includes(Buffer.from('example.com'))).toBe(false);
      expect(bytes.toString('latin1')).not.toContain('ana');
    }
  });

  it('refuses the wrong context', () => {
    const vault = new PiiVault([oldKey]);
    const sealed = vault.encrypt(email, 'identifier.email');
    expect(() => vault.decrypt(sealed, 'identifier.phone')).toThrow();
    expect(() => vault.decrypt(sealed, '')).toThrow();
    expect(vault.decrypt(sealed, 'identifier.email')).toBe(email);
  });

  it('refuses a tampered iv, tag or ciphertext', () => {
    const vault = new PiiVault([oldKey]);
    const sealed = vault.encrypt(email, 'identifier.email');
    for (const offset of [0, 11, 12, 27, 28, 12 + 16 + Buffer.byteLength(email) - 1]) {
      const bytes = Buffer.from(sealed.ciphertext, 'base64');
      bytes[offset] ^= 0x01;
      expect(() =>
        vault.decrypt({ ...sealed, ciphertext: bytes.toString('base64') }, 'identifier.email'),
      ).toThrow();
    }
    const truncated = Buffer.from(sealed.ciphertext, 'base64').subarray(0, 40).toString('base64');
    expect(() => vault.decrypt({ ...sealed, ciphertext: truncated }, 'identifier.email')).toThrow();
  });

  it('rotates keys: the old key still opens, the new key seals', () => {
    const before = new PiiVault([oldKey]);
    const rotated = new PiiVault([newKey, oldKey]);
    const sealedBefore = before.encrypt(email, 'identifier.email');
    expect(rotated.decrypt(sealedBefore, 'identifier.email')).toBe(email);

    const sealedAfter = rotated.encrypt(email, 'identifier.email');
    expect(sealedAfter.keyId).not.toBe(sealedBefore.keyId);
    expect(sealedAfter.keyId).toBe(new PiiVault([newKey]).encrypt('x', 'c').keyId);
    expect(new PiiVault([newKey]).decrypt(sealedAfter, 'identifier.email')).toBe(email);
    // A vault that does not hold the new key cannot open what it sealed.
    expect(() => before.decrypt(sealedAfter, 'identifier.email')).toThrow(UnknownKeyError);
  });

  it('throws on an unknown key id', () => {
    const vault = new PiiVault([oldKey]);
    const sealed = vault.encrypt(email, 'identifier.email');
    expect(() => vault.decrypt({ ...sealed, keyId: '000000000000' }, 'identifier.email')).toThrow(
      new UnknownKeyError('no key with id 000000000000 in this key ring'),
    );
    expect(() => new PiiVault([newKey]).decrypt(sealed, 'identifier.email')).toThrow(UnknownKeyError);
  });

  describe('blind index', () => {
    it('is deterministic HMAC-SHA-256 hex truncated to 128 bits, separated by kind and by key', () => {
      const vault = new PiiVault([oldKey]);
      const index = vault.blindIndex('email', email);
      const full = createHmac('sha256', hkdfBlindIndexKey(oldKey))
        .update(`email\u0000${email}`)
        .digest('hex');
      expect(index).toBe(full.slice(0, 32));
      expect(vault.blindIndex('email', email)).toBe(index);
      expect(new PiiVault([oldKey]).blindIndex('email', email)).toBe(index);
      expect(index).not.toContain(email);
      expect(vault.blindIndex('phone', email)).not.toBe(index);
      expect(vault.blindIndex('email', 'bob@example.com')).not.toBe(index);
      expect(new PiiVault([newKey]).blindIndex('email', email)).not.toBe(index);
    });

    it('stays the same after a rotation, since its key derives from the oldest master key', () => {
      const index = new PiiVault([oldKey]).blindIndex('email', email);
      expect(new PiiVault([newKey, oldKey]).blindIndex('email', email)).toBe(index);
      const third = randomBytes(32);
      expect(new PiiVault([third, newKey, oldKey]).blindIndex('phone', '+351912345678')).toBe(
        new PiiVault([oldKey]).blindIndex('phone', '+351912345678'),
      );
      // The limit: dropping the oldest key moves every index (re-indexing needed).
      expect(new PiiVault([newKey]).blindIndex('email', email)).not.toBe(index);
    });
  });
});
