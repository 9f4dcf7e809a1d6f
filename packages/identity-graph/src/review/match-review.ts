import type { SqlExecutor } from '@tessera/store';
import { IdentityChangeRefusedError, IdentityNotFoundError, type IdentityGraph } from '../identity-graph';
import {
  blockingKeys,
  DEFAULT_MATCH_MODEL,
  scorePair,
  type ComparisonResult,
  type MatchModel,
  type MatchProfile,
  type TermFrequencies,
} from '../matching';
import { BLOCKING_KEY_KIND, ProfileBook } from '../profiles/profile-book';
import type { MergeNotice } from '../resolution/component-recompute';
import {
  blockPairs,
  identifierContext,
  identifiersOfCustomers,
  type IdentifierRow,
} from '../resolution/graph-repository';

export interface ReviewPair {
  id: number;
  customerIds: [string, string];
  score: number;
  modelVersion: string;
  comparisons: ComparisonResult[];
  status: 'pending' | 'approved' | 'rejected';
  decidedBy: string | null;
  decidedAt: Date | null;
  createdAt: Date;
}

export interface MatchRun {
  /** Candidate pairs scored. */
  compared: number;
  /** Merges written by probabilistic edges at or above the upper threshold. */
  merges: MergeNotice[];
  /** Pairs sent to the review queue. */
  queued: number;
}

interface ReviewDbRow {
  id: number;
  low_customer_id: string;
  high_customer_id: string;
  score: number;
  model_version: string;
  comparisons: ComparisonResult[];
  status: ReviewPair['status'];
  decided_by: string | null;
  decided_at: Date | null;
  created_at: Date;
}

const toReview = (row: ReviewDbRow): ReviewPair => ({
  id: row.id,
  customerIds: [row.low_customer_id, row.high_customer_id],
  score: row.score,
  modelVersion: row.model_version,
  comparisons: row.comparisons,
  status: row.status,
  decidedBy: row.decided_by,
  decidedAt: row.decided_at,
  createdAt: row.created_at,
});

/**
 * Probabilistic matching over the graph: candidates come from blocking keys (postcode + phonetic name, kept
 * as blind indexes), pairs are scored with the Fellegi–Sunter model, and the score decides — at or above
 * the upper threshold a probabilistic edge (with score and model version) merges them, unless both
 * profiles hold anchors; between the thresholds, or when both hold anchors, a person decides in the
 * review queue. Approving writes a `review` edge; rejecting blocks the pair for good.
 */
export class MatchReview {
  private readonly model: MatchModel;

  constructor(
    private readonly graph: IdentityGraph,
    private readonly options: { model?: MatchModel; frequencies?: TermFrequencies } = {},
  ) {
    this.model = options.model ?? DEFAULT_MATCH_MODEL;
  }

  /** Scores these profiles against their candidates (call it after their names or address changed). */
  findProbableMatches(customerIds: string[]): Promise<MatchRun> {
    return this.graph.write(async (tx) => {
      const subjects = await this.matchProfiles(tx, customerIds);
      const keys = [...subjects.values()].flatMap(({ profile }) =>
        blockingKeys(profile).map((key) => this.graph.vault.blindIndex(BLOCKING_KEY_KIND, key)),
      );
      const candidateRows = await tx.query<{ customer_id: string }>(
        'SELECT DISTINCT customer_id FROM identity_match_keys WHERE blocking_key = ANY($1::text[])',
        [keys],
      );
      const candidates = await this.matchProfiles(
        tx,
        candidateRows.map((row) => row.customer_id).filter((id) => !subjects.has(id)),
      );
      const everyone = new Map([...subjects, ...candidates]);
      // Each profile's blocking keys, computed once (phonetic codes are not free).
      const keysOf = new Map(
        [...everyone].map(([customerId, { profile }]) => [customerId, blockingKeys(profile)] as const),
      );
      const decided = await tx.query<{ low_customer_id: string; high_customer_id: string }>(
        `SELECT low_customer_id, high_customer_id FROM identity_review_pairs
          WHERE low_customer_id = ANY($1::text[]) OR high_customer_id = ANY($1::text[])`,
        [[...subjects.keys()]],
      );
      const seen = new Set(decided.map((row) => `${row.low_customer_id}\u0000${row.high_customer_id}`));
      // Two profiles holding different anchors of one kind (two member ids of a brand, two group customer ids)
      // can never be merged: a person would be asked a question whose only answer is refused.
      const anchorRows = await tx.query<{
        customer_id: string;
        type: string;
        scope: string;
        lookup_key: string;
      }>(
        `SELECT customer_id, type, scope, lookup_key FROM identity_identifiers
          WHERE customer_id = ANY($1::text[]) AND is_anchor AND retired_into IS NULL`,
        [[...everyone.keys()]],
      );
      const anchorsOf = new Map<string, Map<string, string>>();
      for (const row of anchorRows) {
        const anchors = anchorsOf.get(row.customer_id) ?? new Map<string, string>();
        anchors.set(`${row.type}\u0000${row.scope}`, row.lookup_key);
        anchorsOf.set(row.customer_id, anchors);
      }
      const anchorsConflict = (a: string, b: string) =>
        [...(anchorsOf.get(a) ?? [])].some(([kind, key]) => {
          const other = anchorsOf.get(b)?.get(kind);
          return other !== undefined && other !== key;
        });
      const run: MatchRun = { compared: 0, merges: [], queued: 0 };
      for (const subject of subjects.values()) {
        const subjectKeys = new Set(keysOf.get(subject.profile.customerId));
        for (const other of everyone.values()) {
          if (other.profile.customerId === subject.profile.customerId) continue;
          const [low, high] = [subject.profile.customerId, other.profile.customerId].sort();
          if (seen.has(`${low}\u0000${high}`)) continue;
          if (!(keysOf.get(other.profile.customerId) ?? []).some((key) => subjectKeys.has(key))) continue;
          if (anchorsConflict(subject.profile.customerId, other.profile.customerId)) continue;
          seen.add(`${low}\u0000${high}`);
          run.compared += 1;
          const score = scorePair(subject.profile, other.profile, this.model, this.options.frequencies);
          if (score.decision === 'non-match') continue;
          const bothAnchored = subject.anchored && other.anchored;
          if (score.decision === 'match' && !bothAnchored) {
            const result = await this.graph.connect(
              tx,
              [
                {
                  a: subject.canonical.id,
                  b: other.canonical.id,
                  kind: 'probabilistic',
                  eventTime: this.graph.now(),
                  score: score.score,
                  modelVersion: score.modelVersion,
                },
              ],
              { rule: `probabilistic: score ${score.score.toFixed(1)} (${score.modelVersion})` },
            );
            run.merges.push(...result.merges);
            if (result.customerIdOf.get(subject.canonical.id) === result.customerIdOf.get(other.canonical.id))
              continue;
          }
          await tx.query(
            `INSERT INTO identity_review_pairs (low_customer_id, high_customer_id, score, model_version, comparisons)
             VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (low_customer_id, high_customer_id) DO NOTHING`,
            [low, high, score.score, score.modelVersion, JSON.stringify(score.comparisons)],
          );
          run.queued += 1;
        }
      }
      return run;
    });
  }

  async listReviews(filter: { status?: ReviewPair['status']; limit?: number } = {}): Promise<ReviewPair[]> {
    const rows = await this.graph.store.query<ReviewDbRow>(
      `SELECT * FROM identity_review_pairs WHERE ($1::text IS NULL OR status = $1) ORDER BY score DESC, id LIMIT $2`,
      [filter.status ?? null, Math.min(filter.limit ?? 100, 1000)],
    );
    return rows.map(toReview);
  }

  /** A person's decision on a queued pair: approve merges them (a `review` edge), reject blocks the pair. */
  decide(
    reviewId: number,
    decision: 'approve' | 'reject',
    actor: string,
  ): Promise<{ review: ReviewPair; merges: MergeNotice[] }> {
    return this.graph.write(async (tx) => {
      const [row] = await tx.query<ReviewDbRow>(
        'SELECT * FROM identity_review_pairs WHERE id = $1 FOR UPDATE',
        [reviewId],
      );
      if (row === undefined) throw new IdentityNotFoundError(`no review ${reviewId}`);
      if (row.status !== 'pending') {
        throw new IdentityChangeRefusedError(
          `review ${reviewId} was already ${row.status} by ${row.decided_by}`,
        );
      }
      const left =
        (await this.graph.resolveReference(tx, `customer_id:${row.low_customer_id}`)) ?? row.low_customer_id;
      const right =
        (await this.graph.resolveReference(tx, `customer_id:${row.high_customer_id}`)) ??
        row.high_customer_id;
      const a = await this.graph.canonicalIdentifier(tx, left);
      const b = await this.graph.canonicalIdentifier(tx, right);
      let merges: MergeNotice[] = [];
      if (decision === 'approve' && left !== right) {
        const result = await this.graph.connect(
          tx,
          [
            {
              a: a.id,
              b: b.id,
              kind: 'review',
              eventTime: this.graph.now(),
              actor,
              score: row.score,
              modelVersion: row.model_version,
            },
          ],
          { rule: `review ${reviewId}: approved by ${actor}`, actor },
          [[a.id, b.id]],
        );
        merges = result.merges;
      } else if (decision === 'reject') {
        await blockPairs(tx, [[a.id, b.id]], `review ${reviewId} rejected`, actor);
      }
      const [updated] = await tx.query<ReviewDbRow>(
        `UPDATE identity_review_pairs SET status = $2, decided_by = $3, decided_at = now() WHERE id = $1 RETURNING *`,
        [reviewId, decision === 'approve' ? 'approved' : 'rejected', actor],
      );
      return { review: toReview(updated), merges };
    });
  }

  /** The comparable view of active profiles: names and postcode from traits, contact points decrypted. */
  private async matchProfiles(
    tx: SqlExecutor,
    customerIds: string[],
  ): Promise<Map<string, { profile: MatchProfile; canonical: IdentifierRow; anchored: boolean }>> {
    const result = new Map<string, { profile: MatchProfile; canonical: IdentifierRow; anchored: boolean }>();
    if (customerIds.length === 0) return result;
    const book = new ProfileBook(this.graph.vault);
    await book.load(tx, customerIds);
    const identifiers = await identifiersOfCustomers(tx, customerIds);
    for (const customerId of customerIds) {
      const entry = book.get(customerId);
      const own = identifiers.filter((identifier) => identifier.customerId === customerId);
      if (entry.status !== 'active' || own.length === 0) continue;
      const clear = (type: 'email' | 'phone') =>
        own.flatMap((identifier) =>
          identifier.type === type && identifier.encrypted !== null
            ? [this.graph.vault.decrypt(identifier.encrypted, identifierContext(type))]
            : [],
        );
      const values = entry.state.values;
      result.set(customerId, {
        profile: {
          customerId,
          firstName: values.first_name as string | undefined,
          lastName: values.last_name as string | undefined,
          postcode: (values.address as { postcode?: string } | undefined)?.postcode,
          dateOfBirth: values.date_of_birth as string | undefined,
          emails: clear('email'),
          phones: clear('phone'),
        },
        canonical: own.find((identifier) => identifier.ownCustomerId === customerId) ?? own[0],
        anchored: own.some((identifier) => identifier.anchor),
      });
    }
    return result;
  }
}
