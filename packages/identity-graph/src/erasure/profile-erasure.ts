import { randomBytes } from 'node:crypto';
import type { SqlExecutor } from '@tessera/store';
import type { IdentifierType } from '../identifiers';

/** The quarantine reason of an erased identifier: a tombstone that links nothing and belongs to no one. */
export const ERASED_REASON = 'erased';

/** What an erasure did, in counts (no PII: customer ids and blind indexes only). */
export interface ErasureReport {
  /** The profile erased (the active one the given id resolved to). */
  customerId: string;
  /** It and every profile ever merged into it. */
  customerIds: string[];
  /** Identifiers turned into tombstones (quarantined `erased`, moved to a customer id of their own). */
  identifiersTombstoned: number;
  /** Sealed identifier values deleted (emails, phone numbers). */
  sealedValuesDeleted: number;
  /** Profile rows deleted (traits and sealed PII traits with them). */
  profilesErased: number;
  matchKeysDeleted: number;
  reviewPairsDeleted: number;
  linkTokensDeleted: number;
  /** Active edges touching the erased identifiers, stamped retracted (the log keeps ids only). */
  edgesRetracted: number;
  /** The erased contact points' blind indexes: what the suppression list and the consent ledger key. */
  contactPoints: Array<{ type: 'email' | 'phone'; lookupKey: string }>;
  erasedAt: Date;
}

/**
 * The profile and every profile merged into it, transitively (merge chains are short; capped at 64), and the ids
 * that identifiers joining them would have had alone (a join's lineage row names one as `loser`; a group
 * customer id is its own): every id that names the person.
 */
export async function profileFamily(executor: SqlExecutor, customerId: string): Promise<string[]> {
  const rows = await executor.query<{ customer_id: string }>(
    `WITH RECURSIVE family(customer_id, depth) AS (
       SELECT customer_id, 0 FROM identity_profiles WHERE customer_id = $1
       UNION ALL
       SELECT p.customer_id, f.depth + 1 FROM identity_profiles p
         JOIN family f ON p.merged_into = f.customer_id WHERE f.depth < 64)
     SELECT customer_id FROM family
     UNION
     SELECT l.loser FROM identity_lineage l
      WHERE l.kind = 'join' AND l.reverted_by IS NULL
        AND l.winner IN (SELECT customer_id FROM family UNION SELECT $1)`,
    [customerId],
  );
  const family = new Set(rows.map((row) => row.customer_id));
  family.add(customerId);
  return [customerId, ...[...family].filter((id) => id !== customerId).sort()];
}

/**
 * Erases a profile inside the caller's transaction (which must hold the graph's write lock). For the
 * profile and every profile merged into it:
 * - identifiers keep only a blind index (those keyed by their value — customer ids, member ids, cards, devices —
 *   are re-keyed by one) and lose their sealed value, and become tombstones: quarantined
 *   `erased` (so none of their edges count in any later recompute) and each moved to a fresh customer id of
 *   its own, so an event carrying the same email, phone or member id later resolves to that empty tombstone
 *   and never to the erased profile (nor, through it, to anything it was linked with);
 * - the active edges around them are retracted (the log keeps identifier ids and event ids, no PII);
 * - the profile rows (traits, sealed names, address, date of birth), match keys, review pairs (their
 *   comparisons are derived from PII) and link tokens are deleted.
 * Lineage rows stay: they hold customer ids, not PII. Returns undefined when there is nothing to erase.
 */
export async function eraseProfileIn(
  tx: SqlExecutor,
  customerId: string,
  input: {
    actor: string;
    reason: string;
    now: Date;
    /** The blind-index key an identifier keyed by its value keeps as a tombstone (`IdentifierKeys.tombstoneKey`). */
    tombstoneKey: (type: IdentifierType, lookupKey: string) => string | undefined;
  },
): Promise<ErasureReport | undefined> {
  const customerIds = await profileFamily(tx, customerId);
  const identifiers = await tx.query<{
    id: number;
    type: string;
    lookup_key: string;
    sealed: boolean;
  }>(
    `SELECT id, type, lookup_key, value_ciphertext IS NOT NULL AS sealed FROM identity_identifiers
      WHERE customer_id = ANY($1::text[]) ORDER BY id`,
    [customerIds],
  );
  const [profiles] = await tx.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM identity_profiles WHERE customer_id = ANY($1::text[])',
    [customerIds],
  );
  if (identifiers.length === 0 && profiles.count === 0) return undefined;

  const ids = identifiers.map((row) => row.id);
  if (ids.length > 0) {
    await tx.query(
      `UPDATE identity_identifiers AS i
          SET value_ciphertext = NULL, value_key_id = NULL, quarantined_reason = $4, erased_at = $5,
              customer_id = v.tombstone, own_customer_id = v.tombstone, lookup_key = v.lookup_key
         FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v(id, tombstone, lookup_key)
        WHERE i.id = v.id`,
      [
        ids,
        ids.map(() => `cus_${randomBytes(13).toString('hex')}`),
        identifiers.map(
          (row) => input.tombstoneKey(row.type as IdentifierType, row.lookup_key) ?? row.lookup_key,
        ),
        ERASED_REASON,
        input.now,
      ],
    );
  }
  const retracted = await tx.query<{ id: number }>(
    `UPDATE identity_edges SET retracted_at = $2, retraction_reason = $3
      WHERE retracted_at IS NULL AND (low_identifier = ANY($1::bigint[]) OR high_identifier = ANY($1::bigint[]))
      RETURNING id`,
    [ids, input.now, `erasure by ${input.actor}: ${input.reason}`],
  );
  const deleted = async (sql: string, params: unknown[]) => (await tx.query(sql, params)).length;
  const matchKeysDeleted = await deleted(
    'DELETE FROM identity_match_keys WHERE customer_id = ANY($1::text[]) RETURNING customer_id',
    [customerIds],
  );
  const reviewPairsDeleted = await deleted(
    `DELETE FROM identity_review_pairs
      WHERE low_customer_id = ANY($1::text[]) OR high_customer_id = ANY($1::text[]) RETURNING id`,
    [customerIds],
  );
  const linkTokensDeleted = await deleted(
    `DELETE FROM identity_link_tokens
      WHERE customer_id = ANY($1::text[]) OR identifier_id = ANY($2::bigint[]) RETURNING token_hash`,
    [customerIds, ids],
  );
  const profilesErased = await deleted(
    'DELETE FROM identity_profiles WHERE customer_id = ANY($1::text[]) RETURNING customer_id',
    [customerIds],
  );
  return {
    customerId,
    customerIds,
    identifiersTombstoned: identifiers.length,
    sealedValuesDeleted: identifiers.filter((row) => row.sealed).length,
    profilesErased,
    matchKeysDeleted,
    reviewPairsDeleted,
    linkTokensDeleted,
    edgesRetracted: retracted.length,
    contactPoints: identifiers.flatMap((row) =>
      row.type === 'email' || row.type === 'phone'
        ? [{ type: row.type as 'email' | 'phone', lookupKey: row.lookup_key }]
        : [],
    ),
    erasedAt: input.now,
  };
}
