import type { SqlExecutor } from '@tessera/store';

/**
 * The customer ids whose events make up a profile's history: its own, and every profile merged into it (and
 * into those) by a merge that still stands, following lineage. A reversed merge (`unmerge`) takes the merged
 * profile's history away again. Events keep the id they resolved to; this is how they follow the person.
 */
export async function historyCustomerIds(executor: SqlExecutor, customerId: string): Promise<string[]> {
  const rows = await executor.query<{ customer_id: string }>(
    `WITH RECURSIVE history (customer_id, depth) AS (
       SELECT $1::text, 0
       UNION
       SELECT l.loser, h.depth + 1 FROM identity_lineage l JOIN history h ON l.winner = h.customer_id
        WHERE l.kind = 'merge' AND l.reverted_by IS NULL AND h.depth < 64)
     SELECT DISTINCT customer_id FROM history`,
    [customerId],
  );
  return rows.map((row) => row.customer_id).sort();
}
