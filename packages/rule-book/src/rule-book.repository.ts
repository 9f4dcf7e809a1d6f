import type { Store } from '@tessera/store';
import { compileRules, type CompiledRules, type TransformRules } from '@tessera/transform';

/** One saved version of a destination's rules. */
export interface SavedRules {
  destinationId: string;
  version: number;
  brand: string;
  rules: TransformRules;
  savedAt: Date;
  savedBy: string;
}

interface RuleRow {
  destination_id: string;
  version: number;
  brand: string;
  rules: TransformRules;
  saved_at: Date;
  saved_by: string;
}

const toSaved = (row: RuleRow): SavedRules => ({
  destinationId: row.destination_id,
  version: row.version,
  brand: row.brand,
  rules: row.rules,
  savedAt: row.saved_at,
  savedBy: row.saved_by,
});

const UNIQUE_VIOLATION = '23505';

/**
 * The rules marketers write, per brand destination, versioned in the store of record. A rule set is compiled
 * (parsed, type-checked, bounded) before anything is written: an invalid one throws its RuleSetError and
 * leaves the history as it was. Versions only grow; the highest is the one the pipeline runs.
 */
export class RuleBook {
  constructor(
    private readonly store: Store,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async save(
    destinationId: string,
    change: { brand: string; rules: TransformRules; savedBy: string },
  ): Promise<{ saved: SavedRules; compiled: CompiledRules }> {
    const compiled = compileRules(change.rules);
    // Two editors saving at once both read the same latest version; the primary key refuses the second
    // insert, which then takes the next number.
    for (let attempt = 0; ; attempt++) {
      try {
        const [row] = await this.store.query<RuleRow>(
          `INSERT INTO transform_rule_versions (destination_id, version, brand, rules, saved_at, saved_by)
           SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3::jsonb, $4, $5
             FROM transform_rule_versions WHERE destination_id = $1
           RETURNING destination_id, version, brand, rules, saved_at, saved_by`,
          [destinationId, change.brand, JSON.stringify(change.rules), this.now(), change.savedBy],
        );
        if (row === undefined) throw new Error('INSERT … RETURNING returned no row');
        return { saved: toSaved(row), compiled };
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code !== UNIQUE_VIOLATION || attempt >= 5) throw error;
      }
    }
  }

  /** The rules in force for a destination, if any were ever saved. */
  async current(destinationId: string): Promise<SavedRules | undefined> {
    const [row] = await this.store.query<RuleRow>(
      `SELECT destination_id, version, brand, rules, saved_at, saved_by FROM transform_rule_versions
        WHERE destination_id = $1 ORDER BY version DESC LIMIT 1`,
      [destinationId],
    );
    return row === undefined ? undefined : toSaved(row);
  }

  /** Every saved version, newest first. */
  async history(destinationId: string): Promise<SavedRules[]> {
    const rows = await this.store.query<RuleRow>(
      `SELECT destination_id, version, brand, rules, saved_at, saved_by FROM transform_rule_versions
        WHERE destination_id = $1 ORDER BY version DESC`,
      [destinationId],
    );
    return rows.map(toSaved);
  }
}
