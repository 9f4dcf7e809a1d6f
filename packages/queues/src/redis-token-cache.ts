import type Redis from 'ioredis';
import type { KeyRing, SealedBox } from '@tessera/crypto';
import type { AccessToken, TokenCache } from '@tessera/destination-kit';

/** Key purpose of the ring that seals cached ESP tokens (a token is a credential: never stored in clear). */
export const TOKEN_CACHE_KEY_PURPOSE = 'destination-tokens';

/**
 * The token cache every worker shares: one OAuth token per destination instance in Redis, sealed with
 * AES-256-GCM, expiring with the token itself (PX), so a worker that starts finds the token its peers fetched.
 */
export class RedisTokenCache implements TokenCache {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly keyRing: KeyRing,
    private readonly now: () => number = Date.now,
  ) {}

  private key(key: string): string {
    return `${this.prefix}:token:${key}`;
  }

  async get(key: string): Promise<AccessToken | undefined> {
    const raw = await this.redis.get(this.key(key));
    if (raw === null) return undefined;
    try {
      const token = JSON.parse(
        this.keyRing.open(JSON.parse(raw) as SealedBox, key).toString('utf8'),
      ) as AccessToken;
      return token.expiresAt > this.now() ? token : undefined;
    } catch {
      // Sealed with a retired key or altered: treat as absent, the runner fetches a new token.
      return undefined;
    }
  }

  async set(key: string, token: AccessToken): Promise<void> {
    const ttlMs = Math.floor(token.expiresAt - this.now());
    if (ttlMs <= 0) return;
    const sealed = this.keyRing.seal(JSON.stringify(token), key);
    await this.redis.set(this.key(key), JSON.stringify(sealed), 'PX', ttlMs);
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(this.key(key));
  }
}
