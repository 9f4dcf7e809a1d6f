import { createHash, randomBytes } from 'node:crypto';
import type { SqlExecutor } from '@tessera/store';
import { IdentityNotFoundError, type IdentityGraph } from '../identity-graph';
import { parseProfileReference, ProfileReferenceError } from '../profile-reference';
import type { MergeNotice } from '../resolution/component-recompute';
import { identifierContext, type IdentifierRow } from '../resolution/graph-repository';
import { entryOf } from '../resolution/entry-of';

/** What the member receives to prove they own the legacy account. */
export interface LinkTokenMessage {
  /** The legacy account's email, decrypted. */
  to: string;
  /** The group account that asked for the link. */
  customerId: string;
  /** The legacy account, as the member named it (e.g. `member.sports-direct:SD123`). */
  legacyReference: string;
  token: string;
  expiresAt: Date;
}

/** Delivers link tokens: an email provider in production. */
export interface LinkTokenSender {
  sendLinkToken(message: LinkTokenMessage): Promise<void>;
}

export type LinkTokenErrorCode =
  'unknown_token' | 'expired' | 'already_used' | 'wrong_account' | 'no_email' | 'not_found';

export class LinkTokenError extends Error {
  constructor(
    readonly code: LinkTokenErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LinkTokenError';
  }
}

export interface AccountLinkingOptions {
  /** How long a token stays valid; 30 minutes by default. */
  ttlMs?: number;
}

export const DEFAULT_LINK_TOKEN_TTL_MS = 30 * 60_000;
export const LINK_RULE = 'link: member-proven account link';

/** Only the token's SHA-256 is stored, so a database leak cannot be replayed as links. */
export const linkTokenHash = (token: string): string =>
  createHash('sha256').update(token, 'utf8').digest('hex');

/** The edge's consent reference: enough of the hash to find the token row, none of the token. */
export const linkConsentReference = (tokenHash: string): string => `link-token:${tokenHash.slice(0, 12)}`;

interface LinkTokenRow {
  customer_id: string;
  identifier_id: number;
  expires_at: Date;
  consumed_at: Date | null;
}

/**
 * Lets a member logged into the group account link a legacy brand account: a one-time token goes to the
 * legacy account's email, and presenting it while logged in proves the member holds both accounts. The
 * proof becomes a 'link' edge, which the graph ranks above inferred ones.
 */
export class AccountLinking {
  private readonly ttlMs: number;

  constructor(
    private readonly graph: IdentityGraph,
    private readonly sender: LinkTokenSender,
    options: AccountLinkingOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_LINK_TOKEN_TTL_MS;
    if (!Number.isFinite(this.ttlMs) || this.ttlMs <= 0)
      throw new RangeError('ttlMs must be a positive number');
  }

  /** Sends a link token for the legacy account (`member.sports-direct:SD123`) to that account's email. */
  async issueLinkToken(input: { customerId: string; legacy: string }): Promise<{ expiresAt: Date }> {
    const legacyReference = parseProfileReference(input.legacy);
    const token = randomBytes(32).toString('base64url');
    const tokenHash = linkTokenHash(token);
    const issuedAt = this.graph.now();
    const expiresAt = new Date(issuedAt.getTime() + this.ttlMs);
    // Issuing changes no profile, so it does not queue behind the graph's writer.
    const to = await this.graph.store.transaction(async (tx) => {
      await this.groupAccountIdentifier(tx, input.customerId);
      const legacy = await this.graph.findIdentifier(tx, legacyReference);
      if (legacy === undefined) throw new LinkTokenError('not_found', `no account ${input.legacy}`);
      const email = await this.contactEmail(tx, legacy.customerId);
      if (email === undefined) {
        throw new LinkTokenError('no_email', `${input.legacy} has no email address to send a link token to`);
      }
      await tx.query(
        `INSERT INTO identity_link_tokens (token_hash, customer_id, identifier_id, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5)`,
        [tokenHash, input.customerId, legacy.id, expiresAt, issuedAt],
      );
      return email;
    });
    // Sent after the commit: a member must never hold a token the database does not know.
    try {
      await this.sender.sendLinkToken({
        to,
        customerId: input.customerId,
        legacyReference: input.legacy,
        token,
        expiresAt,
      });
    } catch (error) {
      // Withdraw the undelivered token; the delivery failure is the error worth reporting.
      await this.graph.store
        .query('DELETE FROM identity_link_tokens WHERE token_hash = $1', [tokenHash])
        .catch(() => undefined);
      throw error;
    }
    return { expiresAt };
  }

  /**
   * Links the legacy account to the group account `customerId` (the member presenting the token must be
   * logged in as it). Single use; a link the graph refuses throws `IdentityChangeRefusedError` and leaves
   * the token unused.
   */
  async consumeLinkToken(input: {
    customerId: string;
    token: string;
  }): Promise<{ customerId: string; merges: MergeNotice[] }> {
    const tokenHash = linkTokenHash(input.token);
    return this.graph.write(async (tx) => {
      const [row] = await tx.query<LinkTokenRow>(
        `SELECT customer_id, identifier_id, expires_at, consumed_at FROM identity_link_tokens
          WHERE token_hash = $1 FOR UPDATE`,
        [tokenHash],
      );
      if (row === undefined) throw new LinkTokenError('unknown_token', 'unknown link token');
      if (row.customer_id !== input.customerId) {
        throw new LinkTokenError('wrong_account', 'this link token was issued to another account');
      }
      if (row.consumed_at !== null)
        throw new LinkTokenError('already_used', 'this link token was already used');
      const now = this.graph.now();
      if (row.expires_at.getTime() <= now.getTime()) {
        throw new LinkTokenError('expired', 'this link token has expired; ask for a new one');
      }
      const group = await this.groupAccountIdentifier(tx, input.customerId);
      const actor = `member:${input.customerId}`;
      const result = await this.graph.connect(
        tx,
        [
          {
            a: group.id,
            b: row.identifier_id,
            kind: 'link',
            eventTime: now,
            actor,
            consentReference: linkConsentReference(tokenHash),
          },
        ],
        { rule: LINK_RULE, actor },
        [[group.id, row.identifier_id]],
      );
      await tx.query('UPDATE identity_link_tokens SET consumed_at = $2 WHERE token_hash = $1', [
        tokenHash,
        now,
      ]);
      return { customerId: entryOf(result.customerIdOf, row.identifier_id), merges: result.merges };
    });
  }

  /**
   * The identifier the link hangs on: the group customer id itself when it is one, so the proof stays with
   * that account even if its profile is later merged or split; otherwise the profile's canonical identifier.
   */
  private async groupAccountIdentifier(tx: SqlExecutor, customerId: string): Promise<IdentifierRow> {
    let own: IdentifierRow | undefined;
    try {
      own = await this.graph.findIdentifier(tx, { type: 'customer_id', scope: '', value: customerId });
    } catch (error) {
      if (!(error instanceof ProfileReferenceError)) throw error;
      throw new IdentityNotFoundError(`no group account ${customerId}`);
    }
    if (own !== undefined) return own;
    try {
      return await this.graph.canonicalIdentifier(tx, customerId);
    } catch (error) {
      if (error instanceof IdentityNotFoundError)
        throw new IdentityNotFoundError(`no group account ${customerId}`);
      throw error;
    }
  }

  /** The profile's most recently seen usable email (a quarantined, shared one reaches the wrong person). */
  private async contactEmail(tx: SqlExecutor, customerId: string): Promise<string | undefined> {
    const [row] = await tx.query<{ value_ciphertext: string; value_key_id: string | null }>(
      `SELECT value_ciphertext, value_key_id FROM identity_identifiers
        WHERE customer_id = $1 AND type = 'email' AND quarantined_reason IS NULL AND value_ciphertext IS NOT NULL
        ORDER BY last_seen_at DESC, id DESC LIMIT 1`,
      [customerId],
    );
    if (row === undefined) return undefined;
    return this.graph.vault.decrypt(
      { ciphertext: row.value_ciphertext, keyId: row.value_key_id ?? '' },
      identifierContext('email'),
    );
  }
}
