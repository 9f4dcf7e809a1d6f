import type { SqlExecutor } from '@tessera/store';

/**
 * The blind-index domain of erased customer ids: the same keyed hash the pipeline keeps as their tombstone
 * (`erased_customers`), so the records that stay name the person by their tombstone, never by their id.
 */
export const ERASED_CUSTOMER_INDEX = 'erased-customer';

/** Replaces whole-token occurrences of each id in every string of a JSON value (ids inside longer ids stay). */
function replaceIds(value: unknown, pseudonyms: ReadonlyMap<string, string>, pattern: RegExp): unknown {
  if (typeof value === 'string') return value.replace(pattern, (id) => pseudonyms.get(id) ?? id);
  if (Array.isArray(value)) return value.map((entry) => replaceIds(entry, pseudonyms, pattern));
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(
      Object.entries(value).map(([key, entry]) => [key, replaceIds(entry, pseudonyms, pattern)]),
    );
  return value;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * When an erasure completes, the records kept for accountability — the audit log, the consent ledger (proof of
 * what was consented, keyed by contact point), DSR requests and their destinations' answers, the identity graph's
 * merge lineage and announcements — stop naming the person's customer ids: each becomes `erased_<keyed hash>`, the tombstone's own key. Whoever holds an id and the
 * master key can still ask whether it was erased, and when; nothing reads it back. Returns the rows changed.
 */
export async function pseudonymizeErasedCustomers(
  tx: SqlExecutor,
  pseudonyms: ReadonlyMap<string, string>,
): Promise<number> {
  if (pseudonyms.size === 0) return 0;
  const ids = [...pseudonyms.keys()];
  const replacements = [...pseudonyms.values()];
  const pattern = new RegExp(
    `(?<![\\w-])(?:${ids
      .sort((a, b) => b.length - a.length)
      .map(escape)
      .join('|')})(?![\\w-])`,
    'g',
  );
  let changed = 0;
  for (const table of ['audit_log', 'consent_ledger'] as const) {
    const rows = await tx.query(
      `UPDATE ${table} AS t SET customer_id = v.pseudonym
         FROM unnest($1::text[], $2::text[]) AS v(id, pseudonym)
        WHERE t.customer_id = v.id RETURNING t.id`,
      [ids, replacements],
    );
    changed += rows.length;
  }
  const likes = ids.map((id) => `%${id.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  const details = await tx.query<{ id: number; detail: unknown }>(
    'SELECT id, detail FROM audit_log WHERE detail::text LIKE ANY ($1::text[])',
    [likes],
  );
  for (const row of details) {
    const detail = replaceIds(row.detail, pseudonyms, pattern);
    if (JSON.stringify(detail) === JSON.stringify(row.detail)) continue;
    await tx.query('UPDATE audit_log SET detail = $2::jsonb WHERE id = $1', [row.id, JSON.stringify(detail)]);
    changed += 1;
  }
  const requests = await tx.query<{ id: string; customer_ids: string[]; detail: unknown }>(
    `SELECT id, customer_ids, detail FROM dsr_requests
      WHERE customer_ids && $1::text[] OR detail::text LIKE ANY ($2::text[])`,
    [ids, likes],
  );
  for (const row of requests) {
    await tx.query('UPDATE dsr_requests SET customer_ids = $2::text[], detail = $3::jsonb WHERE id = $1', [
      row.id,
      row.customer_ids.map((id) => pseudonyms.get(id) ?? id),
      JSON.stringify(replaceIds(row.detail, pseudonyms, pattern)),
    ]);
    changed += 1;
  }
  // The identity graph's history: merges and splits keep their shape, under the tombstone keys. Announcements not
  // yet published are dropped (an ESP must not be asked to merge an erased person); published ones are renamed.
  for (const column of ['winner', 'loser'] as const) {
    const rows = await tx.query(
      `UPDATE identity_lineage AS l SET ${column} = v.pseudonym
         FROM unnest($1::text[], $2::text[]) AS v(id, pseudonym)
        WHERE l.${column} = v.id RETURNING l.id`,
      [ids, replacements],
    );
    changed += rows.length;
  }
  const announced = await tx.query<{ id: number; data: unknown; published: boolean }>(
    `SELECT id, data, published_at IS NOT NULL AS published FROM identity_outbox
      WHERE data::text LIKE ANY ($1::text[])`,
    [likes],
  );
  for (const row of announced) {
    if (row.published)
      await tx.query('UPDATE identity_outbox SET data = $2::jsonb WHERE id = $1', [
        row.id,
        JSON.stringify(replaceIds(row.data, pseudonyms, pattern)),
      ]);
    else await tx.query('DELETE FROM identity_outbox WHERE id = $1', [row.id]);
    changed += 1;
  }
  const answers = await tx.query<{ request_id: string; destination_id: string; detail: string }>(
    'SELECT request_id, destination_id, detail FROM dsr_destination_results WHERE detail LIKE ANY ($1::text[])',
    [likes],
  );
  for (const row of answers) {
    await tx.query(
      'UPDATE dsr_destination_results SET detail = $3 WHERE request_id = $1 AND destination_id = $2',
      [row.request_id, row.destination_id, row.detail.replace(pattern, (id) => pseudonyms.get(id) ?? id)],
    );
    changed += 1;
  }
  return changed;
}
