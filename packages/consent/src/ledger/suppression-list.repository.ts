import { type ConsentChangeListener, notifyConsentChange } from './consent-ledger.repository';
import type { Store } from '@tessera/store';
import type { SubjectType } from '../consent-contract';
import { isBlindIndex } from './blind-index';

/** Suppresses a contact point for every brand. */
export const ALL_BRANDS = '*';

export interface SuppressionInput {
  subjectType: SubjectType;
  /** PiiVault.blindIndex of the normalized contact point; never the plaintext. */
  subjectKey: string;
  /** A brand id, or `*` for every brand. */
  brand: string;
  /** Why (e.g. `hard_bounce`, `spam_complaint`, `erasure`); must hold no plaintext PII. */
  reason: string;
}

export interface Suppression extends SuppressionInput {
  suppressedAt: Date;
}

export interface SuppressionListFilter {
  brand?: string;
  subjectType?: SubjectType;
  subjectKeys?: string[];
  /** Default 1,000. */
  limit?: number;
}

interface SuppressionRow {
  subject_key: string;
  brand: string;
  subject_type: SubjectType;
  reason: string;
  suppressed_at: Date;
}

const SUBJECT_TYPES: readonly string[] = ['email', 'phone', 'device'];

/**
 * Contact points nothing may be sent to (but suppression and deletion calls), keyed by blind index so the
 * list survives erasure: hash, reason and time only.
 */
export class SuppressionList {
  private readonly now: () => Date;
  private readonly onChange?: ConsentChangeListener;

  /** `onChange`: e.g. `(keys, brand) => gate.invalidate(keys, brand)` (brand `*` reaches every brand). */
  constructor(
    private readonly store: Store,
    options: { now?: () => Date; onChange?: ConsentChangeListener } = {},
  ) {
    this.now = options.now ?? (() => new Date());
    if (options.onChange !== undefined) this.onChange = options.onChange;
  }

  /**
   * Suppresses contact points (one statement). Idempotent: an existing suppression keeps its first time and
   * reason. Returns how many were new. Throws, writing nothing, when a key is not a blind index.
   */
  async suppress(items: readonly SuppressionInput[]): Promise<number> {
    if (items.length === 0) return 0;
    for (const item of items) {
      if (!isBlindIndex(item.subjectKey)) {
        throw new Error('SuppressionList.suppress: a subject key is not a blind index (32 hex characters)');
      }
      if (!SUBJECT_TYPES.includes(item.subjectType)) {
        throw new Error(`SuppressionList.suppress: unknown subject type ${JSON.stringify(item.subjectType)}`);
      }
      if (item.brand.trim() === '' || item.reason.trim() === '') {
        throw new Error('SuppressionList.suppress: every item needs a brand (or "*") and a reason');
      }
    }
    const rows = await this.store.query<{ subject_key: string }>(
      `INSERT INTO suppression_list (subject_key, brand, subject_type, reason, suppressed_at)
       SELECT DISTINCT ON (v.subject_key, v.brand) v.subject_key, v.brand, v.subject_type, v.reason, $5::timestamptz
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY
           AS v(subject_key, brand, subject_type, reason, n)
        ORDER BY v.subject_key, v.brand, v.n
       ON CONFLICT (subject_key, brand) DO NOTHING
       RETURNING subject_key`,
      [
        items.map((item) => item.subjectKey),
        items.map((item) => item.brand),
        items.map((item) => item.subjectType),
        items.map((item) => item.reason),
        this.now(),
      ],
    );
    if (rows.length > 0) {
      await notifyConsentChange(
        this.onChange,
        items.map((item) => ({ subjectKey: item.subjectKey, brand: item.brand })),
      );
    }
    return rows.length;
  }

  /** Lifts one suppression (a brand's, or `*`); true when there was one. */
  async lift(subjectKey: string, brand: string): Promise<boolean> {
    const rows = await this.store.query<{ subject_key: string }>(
      'DELETE FROM suppression_list WHERE subject_key = $1 AND brand = $2 RETURNING subject_key',
      [subjectKey, brand],
    );
    if (rows.length > 0) await notifyConsentChange(this.onChange, [{ subjectKey, brand }]);
    return rows.length > 0;
  }

  /**
   * The member registered again with `brand` (a consent grant captured at `at`) after an erasure suppressed the
   * contact point: the erasure's suppression ends for that brand only. An all-brand one becomes one per other
   * brand of `brands` (keeping its time), so no grant the person gave another brand before the erasure counts
   * again. Suppressions for other reasons (bounces, complaints) and erasures after `at` stay. True when lifted.
   */
  async endErasure(subjectKey: string, brand: string, at: Date, brands: readonly string[]): Promise<boolean> {
    const rows = await this.store.query<{ brand: string }>(
      `WITH gone AS (
         DELETE FROM suppression_list
          WHERE subject_key = $1 AND brand IN ($2, '${ALL_BRANDS}') AND reason = 'erasure' AND suppressed_at < $3
         RETURNING brand, subject_type, suppressed_at),
       kept AS (
         INSERT INTO suppression_list (subject_key, brand, subject_type, reason, suppressed_at)
         SELECT $1, b, g.subject_type, 'erasure', g.suppressed_at
           FROM gone g CROSS JOIN unnest($4::text[]) AS b
          WHERE g.brand = '${ALL_BRANDS}' AND b <> $2
         ON CONFLICT (subject_key, brand) DO NOTHING)
       SELECT brand FROM gone`,
      [subjectKey, brand, at, [...new Set(brands)]],
    );
    if (rows.length > 0) await notifyConsentChange(this.onChange, [{ subjectKey, brand: ALL_BRANDS }]);
    return rows.length > 0;
  }

  /** The keys among `subjectKeys` suppressed for `brand`, by that brand's suppression or an all-brand one. */
  async isSuppressed(subjectKeys: readonly string[], brand: string): Promise<Set<string>> {
    if (subjectKeys.length === 0) return new Set();
    const rows = await this.store.query<{ subject_key: string }>(
      `SELECT DISTINCT subject_key FROM suppression_list
        WHERE subject_key = ANY($1::text[]) AND brand IN ($2, '${ALL_BRANDS}')`,
      [[...new Set(subjectKeys)], brand],
    );
    return new Set(rows.map((row) => row.subject_key));
  }

  /** Suppressions, oldest first. `brand` matches that brand's rows only (pass `*` for the all-brand ones). */
  async list(filter: SuppressionListFilter = {}): Promise<Suppression[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (filter.brand !== undefined) {
      params.push(filter.brand);
      conditions.push(`brand = $${params.length}`);
    }
    if (filter.subjectType !== undefined) {
      params.push(filter.subjectType);
      conditions.push(`subject_type = $${params.length}`);
    }
    if (filter.subjectKeys !== undefined) {
      params.push(filter.subjectKeys);
      conditions.push(`subject_key = ANY($${params.length}::text[])`);
    }
    params.push(Math.max(0, Math.floor(filter.limit ?? 1_000)));
    const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
    const rows = await this.store.query<SuppressionRow>(
      `SELECT subject_key, brand, subject_type, reason, suppressed_at FROM suppression_list ${where}
        ORDER BY suppressed_at, subject_key, brand LIMIT $${params.length}`,
      params,
    );
    return rows.map((row) => ({
      subjectType: row.subject_type,
      subjectKey: row.subject_key,
      brand: row.brand,
      reason: row.reason,
      suppressedAt: row.suppressed_at,
    }));
  }
}
