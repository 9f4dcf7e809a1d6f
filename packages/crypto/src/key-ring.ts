import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/** AES-256-GCM output, base64 fields; `kid` names the key that sealed it so keys can rotate. */
export interface SealedBox {
  kid: string;
  iv: string;
  tag: string;
  data: string;
}

/** A sealed value whose plaintext is a `T` (a type tag only; the box itself is opaque). */
export type Sealed<T> = SealedBox & { readonly __sealed?: T };

export class UnknownKeyError extends Error {}

const NONCE_BYTES = 12;
// One CSPRNG read serves 1,024 nonces: a `randomBytes` call per seal cost more than the AES-GCM itself, and the
// pipeline seals every event and identifier. The nonces are as random; each is handed out once.
const NONCES_PER_READ = 1_024;
let nonces = Buffer.alloc(0);
let nextNonceAt = 0;

function freshNonce(): Buffer {
  if (nextNonceAt + NONCE_BYTES > nonces.length) {
    nonces = randomBytes(NONCE_BYTES * NONCES_PER_READ);
    nextNonceAt = 0;
  }
  const nonce = nonces.subarray(nextNonceAt, nextNonceAt + NONCE_BYTES);
  nextNonceAt += NONCE_BYTES;
  return nonce;
}

interface DerivedKey {
  kid: string;
  key: Buffer;
}

/**
 * Encrypts values at rest with keys derived (HKDF-SHA-256) from the master key for one purpose, so a key
 * for queue payloads never decrypts stored PII. The first master key seals; every listed key opens, which
 * is how a master key is rotated.
 */
export class KeyRing {
  private readonly current: DerivedKey;
  private readonly byKid: Map<string, DerivedKey>;

  constructor(masterKeys: Buffer[], purpose: string) {
    if (masterKeys.length === 0) throw new Error('KeyRing needs at least one master key');
    const derived = masterKeys.map((master) => {
      if (master.length !== 32) throw new Error('a master key is 32 bytes');
      const key = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `tessera:${purpose}`, 32));
      return { kid: createHash('sha256').update(key).digest('hex').slice(0, 12), key };
    });
    this.current = derived[0];
    this.byKid = new Map(derived.map((entry) => [entry.kid, entry]));
  }

  get kid(): string {
    return this.current.kid;
  }

  seal(plaintext: Buffer | string, associatedData?: string): SealedBox {
    const { iv, tag, data } = this.encrypt(plaintext, associatedData);
    return {
      kid: this.current.kid,
      iv: iv.toString('base64'),
      tag: tag.toString('base64'),
      data: data.toString('base64'),
    };
  }

  /** Seals into one buffer, nonce (12 bytes) then tag (16 bytes) then ciphertext: a column's compact form. */
  sealPacked(plaintext: Buffer | string, associatedData?: string): { kid: string; packed: Buffer } {
    const { iv, tag, data } = this.encrypt(plaintext, associatedData);
    return { kid: this.current.kid, packed: Buffer.concat([iv, tag, data]) };
  }

  private encrypt(
    plaintext: Buffer | string,
    associatedData?: string,
  ): { iv: Buffer; tag: Buffer; data: Buffer } {
    const iv = freshNonce();
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    if (associatedData !== undefined) cipher.setAAD(Buffer.from(associatedData));
    const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { iv, tag: cipher.getAuthTag(), data };
  }

  /** Decrypts and authenticates; throws when the box was altered or sealed with an unknown key. */
  open(box: SealedBox, associatedData?: string): Buffer {
    return this.decrypt(
      box.kid,
      Buffer.from(box.iv, 'base64'),
      Buffer.from(box.tag, 'base64'),
      Buffer.from(box.data, 'base64'),
      associatedData,
    );
  }

  /** Opens what `sealPacked` sealed. */
  openPacked(kid: string, packed: Buffer, associatedData?: string): Buffer {
    return this.decrypt(
      kid,
      packed.subarray(0, 12),
      packed.subarray(12, 28),
      packed.subarray(28),
      associatedData,
    );
  }

  private decrypt(kid: string, iv: Buffer, tag: Buffer, data: Buffer, associatedData?: string): Buffer {
    const entry = this.byKid.get(kid);
    if (entry === undefined) throw new UnknownKeyError(`no key with id ${kid} in this key ring`);
    const decipher = createDecipheriv('aes-256-gcm', entry.key, iv);
    if (associatedData !== undefined) decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(data), decipher.final()]);
  }

  sealJson<T>(value: T, associatedData?: string): Sealed<T> {
    return this.seal(JSON.stringify(value), associatedData);
  }

  openJson<T>(box: Sealed<T>, associatedData?: string): T {
    return JSON.parse(this.open(box, associatedData).toString('utf8')) as T;
  }
}
