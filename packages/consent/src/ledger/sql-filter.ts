/**
 * A WHERE clause from optional filters, numbered from `$1`: `[['customer_id =', id], ['at >=', from]]` with
 * undefined values left out. The column expressions are the caller's constants, never input.
 */
export function sqlFilter(filters: readonly (readonly [string, unknown])[]): {
  where: string;
  params: unknown[];
} {
  const params: unknown[] = [];
  const conditions: string[] = [];
  for (const [expression, value] of filters) {
    if (value === undefined) continue;
    params.push(value);
    conditions.push(`${expression} $${params.length}`);
  }
  return { where: conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`, params };
}
