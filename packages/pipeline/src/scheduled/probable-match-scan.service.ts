import type { MatchReview, MatchRun } from '@tessera/identity-graph';
import type { Store } from '@tessera/store';
import type { ScheduleCursorBook } from './schedule-cursor-book.repository';

/** The scan's entry in `schedule_cursors`. */
export const PROBABLE_MATCH_CURSOR = 'probable-matches';

/**
 * Where the scan stopped: the last profile handled, in scan order. `updatedAt` is the column's full
 * microsecond value as ISO 8601 text: a JavaScript Date keeps milliseconds only, and a truncated cursor would
 * hand the last profile of every run to the next one again.
 */
export interface ProbableMatchCursor {
  after: { updatedAt: string; customerId: string };
}

export interface ProbableMatchScanOptions {
  store: Store;
  cursors: Pick<ScheduleCursorBook, 'get' | 'set'>;
  review: Pick<MatchReview, 'findProbableMatches'>;
  /** Profiles scored per call (default 200). */
  pageSize?: number;
  /** Pages one run scores at most, so a backlog (the first run reads every profile) never holds the queue. */
  maxPages?: number;
  /**
   * Profiles changed within this many milliseconds of the database's clock wait for the next run (default
   * 60 000): `updated_at` is the writing transaction's start, so a transaction still open when the scan passes
   * would otherwise commit a time behind the cursor and never be scanned.
   */
  settleMs?: number;
}

export interface ProbableMatchOutcome {
  /** Profiles scored. */
  profiles: number;
  /** Pages (calls to `findProbableMatches`). */
  pages: number;
  /** Candidate pairs compared. */
  compared: number;
  /** Profiles merged by a strong match. */
  merged: number;
  /** Pairs sent to the review queue. */
  queued: number;
}

/**
 * Feeds probabilistic matching: every minute, the active profiles changed since the previous run that have
 * something to match on (blocking keys in `identity_match_keys`: a profile without them finds no candidate)
 * are scored against their candidates with `MatchReview.findProbableMatches`, in pages read by one indexed
 * statement each. Strong matches merge through the identity graph (lineage and outbox, like any merge);
 * middling or doubly anchored pairs wait in the review queue. The cursor moves after each page, so a crash
 * scores at most one page again — harmless, as pairs already decided or queued are skipped.
 */
export class ProbableMatchScan {
  private readonly pageSize: number;
  private readonly maxPages: number;
  private readonly settleMs: number;

  constructor(private readonly options: ProbableMatchScanOptions) {
    this.pageSize = positiveInteger('pageSize', options.pageSize ?? 200);
    this.maxPages = positiveInteger('maxPages', options.maxPages ?? 25);
    this.settleMs = options.settleMs ?? 60_000;
    if (!Number.isFinite(this.settleMs) || this.settleMs < 0)
      throw new RangeError(`settleMs must be a non-negative number, got ${options.settleMs}`);
  }

  async run(): Promise<ProbableMatchOutcome> {
    const outcome: ProbableMatchOutcome = { profiles: 0, pages: 0, compared: 0, merged: 0, queued: 0 };
    let after = (await this.options.cursors.get<ProbableMatchCursor>(PROBABLE_MATCH_CURSOR))?.after;
    while (outcome.pages < this.maxPages) {
      const page = await this.changedPage(after);
      if (page.length === 0) break;
      const run: MatchRun = await this.options.review.findProbableMatches(
        page.map((profile) => profile.customerId),
      );
      after = page[page.length - 1];
      await this.options.cursors.set(PROBABLE_MATCH_CURSOR, { after } satisfies ProbableMatchCursor);
      outcome.profiles += page.length;
      outcome.pages += 1;
      outcome.compared += run.compared;
      outcome.merged += run.merges.length;
      outcome.queued += run.queued;
      if (page.length < this.pageSize) break;
    }
    return outcome;
  }

  /** The next page of settled, active profiles with blocking keys, changed after the cursor. */
  private async changedPage(
    after: ProbableMatchCursor['after'] | undefined,
  ): Promise<{ updatedAt: string; customerId: string }[]> {
    const rows = await this.options.store.query<{ customer_id: string; updated_at: string }>(
      `SELECT p.customer_id,
              to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at
         FROM identity_profiles p
        WHERE p.status = 'active'
          AND (p.updated_at, p.customer_id) > ($1::timestamptz, $2::text)
          AND p.updated_at < now() - $3::double precision * interval '1 millisecond'
          AND EXISTS (SELECT 1 FROM identity_match_keys k WHERE k.customer_id = p.customer_id)
        ORDER BY p.updated_at, p.customer_id
        LIMIT $4`,
      [after?.updatedAt ?? '-infinity', after?.customerId ?? '', this.settleMs, this.pageSize],
    );
    return rows.map((row) => ({ updatedAt: row.updated_at, customerId: row.customer_id }));
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
