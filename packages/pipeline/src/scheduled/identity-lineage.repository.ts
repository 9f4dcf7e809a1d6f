import type { Store } from '@tessera/store';

/** What the lineage says of one merge: the kinds of the edges that made it, and whether it was reversed. */
export interface MergeRecord {
  edgeKinds: string[];
  reverted: boolean;
}

/**
 * Reads the identity graph's lineage for the lineage publisher, set-based (one statement per question for a
 * whole page of outbox events): how each merge was made, where each profile lives now, and which merged-away
 * profiles were members; and, for the deliver stage, whether merges about to be sent still stand.
 */
export class IdentityLineageReader {
  constructor(private readonly store: Store) {}

  /** The merges with these lineage ids (splits and unknown ids are left out). */
  async merges(lineageIds: readonly number[]): Promise<Map<number, MergeRecord>> {
    const found = new Map<number, MergeRecord>();
    if (lineageIds.length === 0) return found;
    const rows = await this.store.query<{ id: number; reverted_by: number | null; edge_kinds: string[] }>(
      `SELECT l.id, l.reverted_by,
              COALESCE(array_agg(DISTINCT e.kind) FILTER (WHERE e.kind IS NOT NULL), '{}') AS edge_kinds
         FROM identity_lineage l LEFT JOIN identity_edges e ON e.id = ANY (l.edge_ids)
        WHERE l.id = ANY ($1::bigint[]) AND l.kind = 'merge'
        GROUP BY l.id, l.reverted_by`,
      [[...new Set(lineageIds)]],
    );
    for (const row of rows)
      found.set(Number(row.id), { edgeKinds: row.edge_kinds, reverted: row.reverted_by !== null });
    return found;
  }

  /**
   * The active profile each id lives in now, following later merges (`merged_into`); an active id maps to
   * itself, an unknown or erased one is left out.
   */
  async survivors(customerIds: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (customerIds.length === 0) return found;
    const rows = await this.store.query<{ start: string; customer_id: string }>(
      `WITH RECURSIVE chain (start, customer_id, merged_into, depth) AS (
         SELECT customer_id, customer_id, merged_into, 0 FROM identity_profiles
          WHERE customer_id = ANY ($1::text[])
         UNION ALL
         SELECT c.start, p.customer_id, p.merged_into, c.depth + 1
           FROM identity_profiles p JOIN chain c ON p.customer_id = c.merged_into
          WHERE c.depth < 64)
       SELECT start, customer_id FROM chain WHERE merged_into IS NULL`,
      [[...new Set(customerIds)]],
    );
    for (const row of rows) found.set(row.start, row.customer_id);
    return found;
  }

  /**
   * Whether each merge still stands, in one statement: the merged-away profile's canonical identifier (the one
   * whose own id is `mergedCustomerId`) still lives in the survivor's current profile (following later merges),
   * and that profile is not the merged-away one come back. Not `merged_into` alone: an unmerge leaves the
   * retired profile pointing at the survivor and moves its identifiers to a new (or its own, reactivated) id.
   */
  async mergesStanding(
    merges: readonly { customerId: string; mergedCustomerId: string }[],
  ): Promise<boolean[]> {
    if (merges.length === 0) return [];
    const rows = await this.store.query<{ survivor: string; merged: string }>(
      `WITH RECURSIVE chain (start, customer_id, merged_into, depth) AS (
         SELECT customer_id, customer_id, merged_into, 0 FROM identity_profiles
          WHERE customer_id = ANY ($1::text[])
         UNION ALL
         SELECT c.start, p.customer_id, p.merged_into, c.depth + 1
           FROM identity_profiles p JOIN chain c ON p.customer_id = c.merged_into
          WHERE c.depth < 64),
       pairs (survivor, merged) AS (SELECT DISTINCT * FROM unnest($1::text[], $2::text[]))
       SELECT pairs.survivor, pairs.merged FROM pairs
         JOIN chain ON chain.start = pairs.survivor AND chain.merged_into IS NULL
        WHERE chain.customer_id <> pairs.merged
          AND EXISTS (SELECT 1 FROM identity_identifiers i
                       WHERE i.customer_id = chain.customer_id AND i.own_customer_id = pairs.merged)`,
      [merges.map((merge) => merge.customerId), merges.map((merge) => merge.mergedCustomerId)],
    );
    const standing = new Set(rows.map((row) => JSON.stringify([row.survivor, row.merged])));
    return merges.map((merge) => standing.has(JSON.stringify([merge.customerId, merge.mergedCustomerId])));
  }

  /**
   * Which merged-away profiles were members, given where their identifiers live now. A profile's id is its
   * canonical identifier's own id, and the canonical identifier is an anchor (customer id, member id, card)
   * whenever the profile holds one: so the profile was a member exactly when that identifier is an anchor.
   * Returns member (true) or guest (false) per merged-away id; ids whose identifier is gone are left out.
   */
  async wereMembers(
    mergedAway: readonly { customerId: string; survivor: string }[],
  ): Promise<Map<string, boolean>> {
    const found = new Map<string, boolean>();
    if (mergedAway.length === 0) return found;
    // By the survivors' ids: the indexed column (own_customer_id has no index of its own).
    const rows = await this.store.query<{ own_customer_id: string; member: boolean }>(
      `SELECT own_customer_id, bool_or(is_anchor) AS member FROM identity_identifiers
        WHERE customer_id = ANY ($1::text[]) AND own_customer_id = ANY ($2::text[])
        GROUP BY own_customer_id`,
      [
        [...new Set(mergedAway.map((entry) => entry.survivor))],
        [...new Set(mergedAway.map((entry) => entry.customerId))],
      ],
    );
    for (const row of rows) found.set(row.own_customer_id, row.member);
    return found;
  }
}
