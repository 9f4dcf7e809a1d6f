import type { Store } from '@tessera/store';

/*
 * Which brands a profile belongs to, as far as the store can tell — one rule, in its two SQL forms:
 * - a member id in the brand's scope (`member_id` with a brand, or an entry of `source_ids`), which lasts;
 * - an event through one of the brand's sources still in the raw event log;
 * - a delivery to one of the brand's destinations still in the delivery log.
 * A group-wide customer id names no brand by itself, so the logs fill in for members known only by it.
 */

/** SQL condition: the profile whose id is the column `customer` belongs to the brand in parameter `brand`. */
export function belongsToBrandSql(customer: string, brand: string): string {
  return `(EXISTS (SELECT 1 FROM identity_identifiers bi
                    WHERE bi.customer_id = ${customer} AND bi.type = 'member' AND bi.scope = ${brand})
        OR EXISTS (SELECT 1 FROM raw_events br WHERE br.customer_id = ${customer} AND br.brand = ${brand})
        OR EXISTS (SELECT 1 FROM delivery_log bd WHERE bd.customer_id = ${customer} AND bd.brand = ${brand}))`;
}

export class CustomerBrands {
  constructor(private readonly store: Store) {}

  /** The brands of each given profile id (ids with none are left out), in one statement. */
  async brandsOf(customerIds: readonly string[]): Promise<Map<string, Set<string>>> {
    const found = new Map<string, Set<string>>();
    const ids = [...new Set(customerIds)];
    if (ids.length === 0) return found;
    const rows = await this.store.query<{ customer_id: string; brand: string }>(
      `SELECT customer_id, scope AS brand FROM identity_identifiers
        WHERE customer_id = ANY ($1::text[]) AND type = 'member' AND scope <> ''
       UNION
       SELECT customer_id, brand FROM raw_events WHERE customer_id = ANY ($1::text[])
       UNION
       SELECT customer_id, brand FROM delivery_log WHERE customer_id = ANY ($1::text[]) AND brand <> ''`,
      [ids],
    );
    for (const row of rows) {
      const brands = found.get(row.customer_id) ?? new Set<string>();
      brands.add(row.brand);
      found.set(row.customer_id, brands);
    }
    return found;
  }
}
