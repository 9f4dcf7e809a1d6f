import { randomBytes } from 'node:crypto';
import type { SqlExecutor } from '@tessera/store';
import { IdentityNotFoundError, type IdentityGraph } from '../identity-graph';
import { ProfileBook } from '../profiles/profile-book';
import { recomputeComponents } from '../resolution/component-recompute';
import { identifierKey, pairKey } from '../resolution/component-solver';
import { profilesOfIdentifiers, retractEdges, type NewEdge } from '../resolution/graph-repository';
import {
  MAX_BULK_ROWS,
  sizeHistogram,
  starPairs,
  validateBulkRows,
  type BulkMergeRow,
  type BulkRejectedRow,
  type ValidBulkRow,
} from './bulk-rows';
import { entryOf } from '../resolution/entry-of';

export interface BulkMergeReport {
  batchId: string;
  rows: number;
  /** Rows whose known identifiers are (or end up) one profile. */
  linkedRows: number;
  merges: Array<{ from: string; to: string }>;
  /** Identifier count → how many of the profiles the linked rows ended in have that many. */
  componentSizes: Record<string, number>;
  /** Hashes that match no stored identifier: without the plaintext they cannot be created. */
  unknownIdentifiers: number;
  /** Rows refused by validation or kept apart by the graph's rules; nothing of theirs is applied. */
  rejected: BulkRejectedRow[];
}

/** Called after each chunk of rows; a plan pass that must drop refused rows starts again from 0. */
export type BulkProgress = (done: number, total: number) => void;

export class BulkMergeError extends Error {
  override name = 'BulkMergeError';
}

/** A row as the plan fixed it: the stored identifiers it links, strongest first. */
interface PlannedLink {
  row: number;
  ref: string;
  ids: number[];
  consent: string;
  capturedAt: string;
}

/** The batch row's `report` column: the report, plus what apply needs (links) or what happened. */
interface StoredReport extends BulkMergeReport {
  links?: PlannedLink[];
  plan?: BulkMergeReport;
}

interface LinkOutcome {
  merges: Array<{ from: string; to: string }>;
  linkedRows: number;
  /** Row → why its identifiers did not end as one profile. */
  keptApart: Map<number, string>;
  componentSizes: Record<string, number>;
}

type BatchStatus = 'planned' | 'applied' | 'rolled_back';

/** Thrown inside the plan's transaction so that everything it wrote is rolled back; carries the result out. */
class DryRunRollback extends Error {
  constructor(readonly result: unknown) {
    super('dry run');
  }
}

// Rows per recompute: bounds one recompute's region and memory, and paces progress. Plan and apply use the
// same chunks over the same rows, so they compute the same merges.
const CHUNK_ROWS = 2_000;
// Dropping a refused row's other links can, in theory, change what else is refused; in practice the second
// pass settles.
const MAX_PLAN_PASSES = 4;
const LOOKUP_KEYS_PER_QUERY = 20_000;
const KEPT_APART = 'kept apart by the graph rules (caps, quarantine or an anchor conflict)';

const bulkRule = (batchId: string) => `bulk: migration batch ${batchId}`;
const rollbackReason = (batchId: string) => `bulk rollback ${batchId}`;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

function requireActor(actor: unknown): asserts actor is string {
  if (typeof actor !== 'string' || actor.trim() === '')
    throw new BulkMergeError('a bulk merge needs an actor');
}

const publicReport = (stored: StoredReport): BulkMergeReport => ({
  batchId: stored.batchId,
  rows: stored.rows,
  linkedRows: stored.linkedRows,
  merges: stored.merges,
  componentSizes: stored.componentSizes,
  unknownIdentifiers: stored.unknownIdentifiers,
  rejected: stored.rejected,
});

/**
 * Links one brand's migrated members into the group programme from a file of hashed identifiers, as one
 * batch: planned as a dry run first, then applied, and reversible as a whole.
 */
export class BulkMerge {
  constructor(private readonly graph: IdentityGraph) {}

  /**
   * A dry run: finds the rows' identifiers, links them in a transaction that is rolled back, and records
   * only the batch ('planned') with its report. Rows the graph keeps apart are dropped from the batch and
   * the rest planned again without them, so apply writes exactly what the report describes.
   */
  async plan(input: {
    rows: BulkMergeRow[];
    actor: string;
    onProgress?: BulkProgress;
  }): Promise<BulkMergeReport> {
    requireActor(input.actor);
    if (!Array.isArray(input.rows)) throw new BulkMergeError('rows must be a list');
    if (input.rows.length > MAX_BULK_ROWS) {
      throw new BulkMergeError(
        `a bulk merge batch holds at most ${MAX_BULK_ROWS} rows, this one has ${input.rows.length}: split the file`,
      );
    }
    const batchId = `bulk_${randomBytes(10).toString('hex')}`;
    const { valid, rejected } = validateBulkRows(input.rows, this.graph.now());
    const planned = await this.dryRun(async (tx) => {
      const located = await this.locate(tx, valid);
      let links = located.links;
      let outcome: LinkOutcome | undefined;
      for (let pass = 1; outcome === undefined || outcome.keptApart.size > 0; pass++) {
        if (outcome !== undefined) await tx.query('ROLLBACK TO SAVEPOINT bulk_plan_pass');
        await tx.query('SAVEPOINT bulk_plan_pass');
        const passOutcome = await this.link(tx, batchId, links, input.actor, input.onProgress);
        outcome = passOutcome;
        for (const link of links) {
          const reason = passOutcome.keptApart.get(link.row);
          if (reason !== undefined) rejected.push({ row: link.row, ref: link.ref, reason });
        }
        links = links.filter((link) => !passOutcome.keptApart.has(link.row));
        if (pass === MAX_PLAN_PASSES) break;
      }
      return {
        batchId,
        rows: input.rows.length,
        linkedRows: outcome.linkedRows + located.alreadyLinked,
        merges: outcome.merges,
        componentSizes: outcome.componentSizes,
        unknownIdentifiers: located.unknown,
        rejected: rejected.sort((a, b) => a.row - b.row).map(({ ref, reason }) => ({ ref, reason })),
        links,
      };
    });
    await this.graph.store.query(
      `INSERT INTO identity_bulk_batches (id, status, actor, report) VALUES ($1, 'planned', $2, $3::jsonb)`,
      [batchId, input.actor, JSON.stringify(planned)],
    );
    return publicReport(planned);
  }

  /** Runs `work` as the graph's writer and rolls back everything it wrote, keeping only its result. */
  private async dryRun<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    try {
      await this.graph.write(async (tx) => {
        throw new DryRunRollback(await work(tx));
      });
    } catch (error) {
      if (error instanceof DryRunRollback) return error.result as T;
      throw error;
    }
    throw new Error('unreachable: a dry run always rolls back');
  }

  /** Writes the planned links as 'bulk' edges (batch id, actor, consent reference) and recomputes. */
  async apply(
    batchId: string,
    actor: string,
    options: { onProgress?: BulkProgress } = {},
  ): Promise<BulkMergeReport> {
    requireActor(actor);
    return this.graph.write(async (tx) => {
      const stored = await this.lockBatch(tx, batchId, 'planned');
      const links = stored.links ?? [];
      const outcome = await this.link(tx, batchId, links, actor, options.onProgress);
      const plan = publicReport(stored);
      // The graph may have changed since the plan: a row refused now is reported, its edges stay inert.
      const refusedNow = links
        .filter((link) => outcome.keptApart.has(link.row))
        .map((link) => ({ ref: link.ref, reason: entryOf(outcome.keptApart, link.row) }));
      const report: BulkMergeReport = {
        batchId,
        rows: plan.rows,
        linkedRows: plan.linkedRows - (links.length - outcome.linkedRows),
        merges: outcome.merges,
        componentSizes: outcome.componentSizes,
        unknownIdentifiers: plan.unknownIdentifiers,
        rejected: [...plan.rejected, ...refusedNow],
      };
      await tx.query(
        `UPDATE identity_bulk_batches SET status = 'applied', applied_at = now(), report = $2::jsonb WHERE id = $1`,
        [batchId, JSON.stringify({ ...report, plan, appliedBy: actor })],
      );
      return report;
    });
  }

  /**
   * Retracts every edge of the batch and recomputes, so each identifier returns to the profile it had
   * before: a split-off part is named by its own canonical identifier again, which is its old id (no fresh
   * ids, unlike an unmerge; nor are the pairs blocked, as a later, better-evidenced link may be right).
   */
  async rollback(batchId: string, actor: string): Promise<{ restoredProfiles: number }> {
    requireActor(actor);
    return this.graph.write(async (tx) => {
      await this.lockBatch(tx, batchId, 'applied');
      const reason = rollbackReason(batchId);
      const retracted = await retractEdges(tx, { batchId }, reason);
      let restoredProfiles = 0;
      if (retracted.length > 0) {
        const seeds = await profilesOfIdentifiers(
          tx,
          retracted.flatMap((edge) => [edge.low_identifier, edge.high_identifier]),
        );
        const book = new ProfileBook(this.graph.vault);
        const result = await recomputeComponents(
          tx,
          { seedCustomerIds: seeds, cause: { rule: reason, actor, batchId } },
          book,
          this.graph.config,
        );
        await book.flush(tx);
        if (result.splits.length > 0) {
          // A split names the same winner and loser as the merge it undoes.
          await tx.query(
            `UPDATE identity_lineage AS l SET reverted_by = s.lineage_id
               FROM unnest($2::text[], $3::text[], $4::bigint[]) AS s(winner, loser, lineage_id)
              WHERE l.batch_id = $1 AND l.kind = 'merge' AND l.reverted_by IS NULL
                AND l.winner = s.winner AND l.loser = s.loser`,
            [
              batchId,
              result.splits.map((split) => split.from),
              result.splits.map((split) => split.to),
              result.splits.map((split) => split.lineageId),
            ],
          );
        }
        restoredProfiles = new Set(result.splits.map((split) => split.to)).size;
      }
      await tx.query(
        `UPDATE identity_bulk_batches SET status = 'rolled_back', rolled_back_at = now(), report = report || $2::jsonb
          WHERE id = $1`,
        [batchId, JSON.stringify({ rolledBackBy: actor, restoredProfiles })],
      );
      return { restoredProfiles };
    });
  }

  private async lockBatch(
    tx: SqlExecutor,
    batchId: string,
    expected: 'planned' | 'applied',
  ): Promise<StoredReport> {
    const [batch] = await tx.query<{ status: BatchStatus; report: StoredReport }>(
      'SELECT status, report FROM identity_bulk_batches WHERE id = $1 FOR UPDATE',
      [batchId],
    );
    if (batch === undefined) throw new IdentityNotFoundError(`no bulk batch ${batchId}`);
    if (batch.status === expected) return batch.report;
    const refusal: Record<'planned' | 'applied', Record<BatchStatus, string>> = {
      planned: {
        planned: '',
        applied: `bulk batch ${batchId} was already applied`,
        rolled_back: `bulk batch ${batchId} was rolled back; plan the file again to re-apply it`,
      },
      applied: {
        planned: `bulk batch ${batchId} was never applied`,
        applied: '',
        rolled_back: `bulk batch ${batchId} was already rolled back`,
      },
    };
    throw new BulkMergeError(refusal[expected][batch.status]);
  }

  /**
   * Finds the rows' identifiers by the blind index of their hashes. A row needs two known identifiers to
   * link anything; one whose known identifiers already share a profile is linked already.
   */
  private async locate(
    tx: SqlExecutor,
    rows: ValidBulkRow[],
  ): Promise<{ links: PlannedLink[]; unknown: number; alreadyLinked: number }> {
    const keyOf = identifierKey;
    const hashed = rows.map((row) =>
      row.identifiers.map((identifier) => ({
        ...identifier,
        hashed: this.graph.keys.hashedLookupKey(identifier.type, identifier.sha256),
      })),
    );
    const found = new Map<
      string,
      { id: number; priority: number; first_seen_at: Date; customer_id: string }
    >();
    const lookupKeys = [...new Set(hashed.flat().map((identifier) => identifier.hashed))];
    for (const keys of chunks(lookupKeys, LOOKUP_KEYS_PER_QUERY)) {
      const stored = await tx.query<{
        id: number;
        type: string;
        scope: string;
        hashed_lookup_key: string;
        priority: number;
        first_seen_at: Date;
        customer_id: string;
      }>(
        `SELECT id, type, scope, hashed_lookup_key, priority, first_seen_at, customer_id FROM identity_identifiers
          WHERE hashed_lookup_key = ANY($1::text[])`,
        [keys],
      );
      for (const row of stored) found.set(keyOf(row.type, row.scope, row.hashed_lookup_key), row);
    }
    let unknown = 0;
    let alreadyLinked = 0;
    const links: PlannedLink[] = [];
    rows.forEach((row, index) => {
      const known = new Map<
        number,
        { id: number; priority: number; first_seen_at: Date; customer_id: string }
      >();
      for (const identifier of hashed[index]) {
        const match = found.get(keyOf(identifier.type, identifier.scope, identifier.hashed));
        if (match === undefined) unknown += 1;
        else known.set(match.id, match);
      }
      if (known.size < 2) return;
      const ids = [...known.values()]
        .sort(
          (a, b) =>
            a.priority - b.priority || a.first_seen_at.getTime() - b.first_seen_at.getTime() || a.id - b.id,
        )
        .map((identifier) => identifier.id);
      // Already one profile: no edge is needed, and none would be rolled back.
      if (new Set([...known.values()].map((identifier) => identifier.customer_id)).size === 1) {
        alreadyLinked += 1;
        return;
      }
      links.push({
        row: row.row,
        ref: row.ref,
        ids,
        consent: row.consent.reference,
        capturedAt: row.consent.capturedAt.toISOString(),
      });
    });
    return { links, unknown, alreadyLinked };
  }

  /** Writes the links' edges chunk by chunk, recomputing after each, and reports which rows became one. */
  private async link(
    tx: SqlExecutor,
    batchId: string,
    links: PlannedLink[],
    actor: string,
    onProgress: BulkProgress | undefined,
  ): Promise<LinkOutcome> {
    const cause = { rule: bulkRule(batchId), actor, batchId };
    const merges: Array<{ from: string; to: string }> = [];
    const refusals = new Map<string, string>();
    let done = 0;
    for (const chunk of chunks(links, CHUNK_ROWS)) {
      const edges = chunk.flatMap((link) =>
        starPairs(link.ids).map(([a, b]): NewEdge => ({
          a,
          b,
          kind: 'bulk',
          eventTime: new Date(link.capturedAt),
          batchId,
          actor,
          consentReference: link.consent,
        })),
      );
      const fresh = await this.withoutActiveEdges(tx, edges);
      if (fresh.length > 0) {
        const result = await this.graph.connect(tx, fresh, cause);
        merges.push(...result.merges.map((merge) => ({ from: merge.from, to: merge.to })));
        if (result.rejected.size > 0) {
          const refused = await tx.query<{ id: number; low_identifier: number; high_identifier: number }>(
            'SELECT id, low_identifier, high_identifier FROM identity_edges WHERE id = ANY($1::bigint[])',
            [[...result.rejected.keys()]],
          );
          for (const edge of refused) {
            refusals.set(
              pairKey(edge.low_identifier, edge.high_identifier),
              entryOf(result.rejected, edge.id),
            );
          }
        }
      }
      done += chunk.length;
      onProgress?.(done, links.length);
    }

    const ids = [...new Set(links.flatMap((link) => link.ids))];
    const current = new Map(
      (
        await tx.query<{ id: number; customer_id: string }>(
          'SELECT id, customer_id FROM identity_identifiers WHERE id = ANY($1::bigint[])',
          [ids],
        )
      ).map((row) => [row.id, row.customer_id]),
    );
    const keptApart = new Map<number, string>();
    const touched = new Set<string>();
    for (const link of links) {
      const customerIds = new Set(link.ids.map((id) => entryOf(current, id)));
      if (customerIds.size === 1) {
        touched.add([...customerIds][0]);
        continue;
      }
      const reason = starPairs(link.ids)
        .map(([a, b]) => refusals.get(pairKey(a, b)))
        .find((refusal) => refusal !== undefined);
      keptApart.set(link.row, reason ?? KEPT_APART);
    }
    const sizes =
      touched.size === 0
        ? []
        : await tx.query<{ size: number }>(
            `SELECT count(*)::int AS size FROM identity_identifiers
              WHERE customer_id = ANY($1::text[]) GROUP BY customer_id`,
            [[...touched]],
          );
    return {
      merges,
      linkedRows: links.length - keptApart.size,
      keptApart,
      componentSizes: sizeHistogram(sizes.map((row) => row.size)),
    };
  }

  /**
   * Drops pairs that already have an active edge (from an event, or an earlier row of this batch): the link
   * is asserted already, and writing over that edge would touch evidence a rollback cannot restore.
   */
  private async withoutActiveEdges(tx: SqlExecutor, edges: NewEdge[]): Promise<NewEdge[]> {
    const unique = new Map<string, NewEdge>();
    for (const edge of edges) {
      const pair = pairKey(edge.a, edge.b);
      const known = unique.get(pair);
      if (known === undefined || edge.eventTime < known.eventTime) unique.set(pair, edge);
    }
    if (unique.size === 0) return [];
    const pairs = [...unique.values()].map((edge) => [Math.min(edge.a, edge.b), Math.max(edge.a, edge.b)]);
    const existing = await tx.query<{ low_identifier: number; high_identifier: number }>(
      `SELECT e.low_identifier, e.high_identifier FROM identity_edges e
         JOIN unnest($1::bigint[], $2::bigint[]) AS p(low, high)
           ON e.low_identifier = p.low AND e.high_identifier = p.high
        WHERE e.retracted_at IS NULL`,
      [pairs.map(([low]) => low), pairs.map(([, high]) => high)],
    );
    const active = new Set(existing.map((edge) => pairKey(edge.low_identifier, edge.high_identifier)));
    return [...unique.entries()].filter(([pair]) => !active.has(pair)).map(([, edge]) => edge);
  }
}
