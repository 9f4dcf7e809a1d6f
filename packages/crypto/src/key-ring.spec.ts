import { randomBytes } from 'node:crypto';
import { KeyRing, UnknownKeyError } from './key-ring';

describe('KeyRing', () => {
  const master = randomBytes(32);

  it('round-trips a value and leaves no plaintext in the box', () => {
    const ring = new KeyRing([master], 'queue-payload');
    const box = ring.sealJson({ email: 'ana@example.com' });
    expect(JSON.stringify(box)).not.toContain('ana@example.com');
    expect(ring.openJson(box)).toEqual({ email: 'ana@example.com' });
  });

  it('never reuses a nonce, across the refills of its pool of random nonces', () => {
    const ring = new KeyRing([master], 'queue-payload');
    const ivs = Array.from({ length: 5_000 }, () => ring.seal('same plaintext').iv);
    expect(new Set(ivs).size).toBe(5_000);
    expect(ivs.every((iv) => Buffer.from(iv, 'base64').length === 12)).toBe(true);
    // Every box still opens: the nonce travels with it.
    expect(ring.open(ring.seal('after refills')).toString()).toBe('after refills');
  });

  it('packs nonce, tag and ciphertext into one buffer that opens only whole and with its context', () => {
    const ring = new KeyRing([master], 'pii');
    const { kid, packed } = ring.sealPacked('ana@example.com', 'column.email');
    expect(packed.length).toBe(12 + 16 + 'ana@example.com'.length);
    expect(ring.openPacked(kid, packed, 'column.email').toString()).toBe('ana@example.com');
    const tampered = Buffer.from(packed);
    tampered[tampered.length - 1] ^= 1;
    expect(() => ring.openPacked(kid, tampered, 'column.email')).toThrow();
    expect(() => ring.openPacked(kid, packed, 'column.phone')).toThrow();
    expect(() => ring.openPacked('nope', packed, 'column.email')).toThrow(UnknownKeyError);
  });

  it('refuses a tampered box and the wrong associated data', () => {
    const ring = new KeyRing([master], 'queue-payload');
    const box = ring.seal('hello', 'job-1');
    const data = Buffer.from(box.data, 'base64');
    data[0] ^= 1;
    expect(() => ring.open({ ...box, data: data.toString('base64') }, 'job-1')).toThrow();
    expect(() => ring.open(box, 'job-2')).toThrow();
    expect(ring.open(box, 'job-1').toString()).toBe('hello');
  });

  it('derives a separate key per purpose', () => {
    const box = new KeyRing([master], 'queue-payload').seal('x');
    expect(() => new KeyRing([master], 'pii').open(box)).toThrow(UnknownKeyError);
  });

  it('opens boxes sealed with a previous master key after rotation, and seals with the new one', () => {
    const next = randomBytes(32);
    const old = new KeyRing([master], 'queue-payload');
    const rotated = new KeyRing([next, master], 'queue-payload');
    const box = old.seal('before rotation');
    expect(rotated.open(box).toString()).toBe('before rotation');
    expect(rotated.seal('after').kid).toBe(rotated.kid);
    expect(rotated.kid).not.toBe(old.kid);
    expect(() => new KeyRing([next], 'queue-payload').open(box)).toThrow(UnknownKeyError);
  });
});
