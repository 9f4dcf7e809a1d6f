import type { AccessToken } from './destination-definition';
import { type Clock, systemClock } from './retry-policy';

/**
 * Where OAuth tokens live between requests. The pipeline backs it with Redis so that every worker shares one
 * token per destination (SFMC asks for one token request per ~20 minutes, not one per worker).
 */
export interface TokenCache {
  get(key: string): Promise<AccessToken | undefined>;
  set(key: string, token: AccessToken): Promise<void>;
  delete(key: string): Promise<void>;
}

/** A token is refreshed this long before it expires, so that no request leaves with a token about to lapse. */
export const TOKEN_EXPIRY_MARGIN_MS = 60_000;

/** True when `token` can still be sent at `nowMs`. */
export function isTokenUsable(token: AccessToken | undefined, nowMs: number): token is AccessToken {
  return token !== undefined && token.expiresAt - TOKEN_EXPIRY_MARGIN_MS > nowMs;
}

/** In-process token cache (one worker, tests). Expired tokens are never returned. */
export class MemoryTokenCache implements TokenCache {
  private readonly tokens = new Map<string, AccessToken>();

  constructor(private readonly clock: Pick<Clock, 'now'> = systemClock) {}

  async get(key: string): Promise<AccessToken | undefined> {
    const token = this.tokens.get(key);
    if (token !== undefined && token.expiresAt <= this.clock.now()) {
      this.tokens.delete(key);
      return undefined;
    }
    return token;
  }

  async set(key: string, token: AccessToken): Promise<void> {
    this.tokens.set(key, token);
  }

  async delete(key: string): Promise<void> {
    this.tokens.delete(key);
  }
}
