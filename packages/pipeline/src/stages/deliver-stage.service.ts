import { randomUUID } from 'node:crypto';
import {
  AuthError,
  coalesceProfileUpdates,
  type BatchResult,
  type ItemResult,
  type OperationItems,
  type OperationName,
  type ProfileMerge,
  type ProfileUpsert,
} from '@tessera/destination-kit';
import type { DeliveryItem } from '@tessera/queues';
import type { DestinationSyncState } from '../store/destination-sync-state.repository';
import {
  ChangeOnlyWrites,
  customersOf,
  latestChanges,
  runChangedItems,
  sendChangedProfiles,
  UNCHANGED_DETAIL,
} from './change-only-writes';
import type { DeliveryStatus } from '../store/delivery-log.repository';
import { nextDeliveryAttempt, type DeliveryRetryPolicy } from './delivery-retry-schedule';
import { redactEspText } from './esp-text-redaction';
import { mergesOfHeldContacts, retiredByDeliveredMerges } from './merge-holdings';
import type { ProfileStamp, ProfileVersionGuard } from './redis-profile-version-guard';

/** What runs one destination's operations (the kit's DestinationRunner). */
export interface OperationRunner {
  run<K extends OperationName>(name: K, items: OperationItems[K][]): Promise<BatchResult>;
  /** How the ESP keys profiles (`DestinationDefinition.profileKey`). */
  readonly definition?: { profileKey?: 'customerId' | 'contactPoint' };
}

/** One item's settlement, for the delivery log. */
export interface SettledItem {
  destinationId: string;
  item: DeliveryItem;
  status: DeliveryStatus;
  detail?: string;
  /** Attempts made, this one included. */
  attempts: number;
}

export interface DeadLetter {
  destinationId: string;
  item: DeliveryItem;
  errorClass: 'validation' | 'auth' | 'retryable' | 'rejected';
  error: string;
  attempts: number;
}

export interface DeliverStageOptions {
  runnerOf(destinationId: string): OperationRunner | undefined;
  record(records: SettledItem[]): Promise<void>;
  deadLetter(letters: DeadLetter[]): Promise<void>;
  /**
   * Puts items back on the destination's queue after `delayMs`: a new job whose id derives from the items and
   * `holder` (the job putting them back), so a re-run of that job queues the same job, while items put back
   * again later (a second auth failure, a second wait) get a job of their own.
   */
  requeue(destinationId: string, items: DeliveryItem[], delayMs: number, holder: string): Promise<void>;
  versions: ProfileVersionGuard;
  /**
   * Whether each merge still stands in the identity graph (one answer per merge, in order; one query for the
   * batch). Asked just before merges are sent, since an ESP merge cannot be undone and an item may have waited
   * out a cooling-off period during which an operator reversed the merge.
   */
  mergesStanding(merges: ProfileMerge[]): Promise<boolean[]>;
  /** Counts a refused credential; true when this refusal paused the destination (two in a row). */
  authFailed(destinationId: string, reason: string): Promise<boolean>;
  authSucceeded(destinationId: string): Promise<void>;
  /**
   * What each destination last accepted per customer: when given, only changes are sent (attributes whose value
   * changed, memberships and subscriptions that differ) unless an item forces a full write, and what the ESP
   * accepted is written back after every flush.
   */
  syncState?: Pick<DestinationSyncState, 'read' | 'write' | 'forget' | 'hash'>;
  policy?: DeliveryRetryPolicy;
  now?: () => number;
  random?: () => number;
}

export interface DeliverOutcome {
  delivered: number;
  rejected: number;
  retried: number;
  deadLettered: number;
  stale: number;
  /** Merges dropped unsent because the identity graph no longer holds them (reversed since). */
  undoneMerges: number;
  /** Profile updates put back for a moment because another job has the same customer's update in flight. */
  deferred: number;
  /** Items not sent because the destination holds them already (change-only writes). */
  unchanged: number;
  /** Membership or subscription changes replaced by a later one of the same customer in the same flush. */
  superseded: number;
  /** Members the destination cannot hold (skipped, counted, never dead-lettered). */
  skipped: number;
  /** True when the destination refused its credentials (the items wait on its queue). */
  authFailed: boolean;
  paused: boolean;
}

/** Operations in the order one batch applies them: the record first, erasure last. */
export const OPERATION_ORDER: readonly OperationName[] = [
  'upsertProfiles',
  'updateAttributes',
  'mergeProfiles',
  'removeFromSegment',
  'addToSegment',
  'unsubscribe',
  'subscribe',
  'suppress',
  'unsuppress',
  'fetchProfiles',
  'deleteProfiles',
];

const PROFILE_OPERATIONS = new Set<OperationName>(['upsertProfiles', 'updateAttributes']);

/** Why an update was dropped as stale: an older version, or the same version from an earlier event. */
function staleDetail(version: number, sentVersion: number): string {
  return version < sentVersion
    ? `stale: version ${version} is older than the update of version ${sentVersion} already sent`
    : `stale: an update of version ${version} from a later event was already sent`;
}

/** After an auth failure the items wait this long (the queue is paused after the second one anyway). */
const AUTH_RETRY_DELAY_MS = 60_000;

/** A profile update whose customer is in flight in another job looks again after this long. */
export const BUSY_RETRY_DELAY_MS = 1_000;

/** Orders two stamps of one customer: version first, then the arrival of the event. */
const compareStamps = (a: ProfileStamp, b: ProfileStamp) =>
  a.version - b.version || a.receivedAtMs - b.receivedAtMs;

/**
 * The deliver stage, for one batch of one destination: items grouped by operation, profile updates
 * coalesced (latest version per customer) and checked against the version the destination last accepted,
 * merges checked against the identity graph (one reversed since is dropped, never sent), run through the
 * destination's runner (its batch sizes and rate limits), and each item's result acted on:
 * delivered → logged; rejected → dead letter at once with the ESP's answer; retry → back on the queue
 * with backoff, until the retry window closes → dead letter. A refused credential puts every item back and
 * counts towards pausing the destination.
 */
/** An outcome with nothing counted yet: a flush that sent nothing answers with it. */
export function emptyDeliverOutcome(paused = false): DeliverOutcome {
  return {
    delivered: 0,
    rejected: 0,
    retried: 0,
    deadLettered: 0,
    stale: 0,
    undoneMerges: 0,
    deferred: 0,
    unchanged: 0,
    superseded: 0,
    skipped: 0,
    authFailed: false,
    paused,
  };
}

export class DeliverStage {
  private readonly now: () => number;

  constructor(private readonly options: DeliverStageOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Delivers one batch; `holder` names the job (a re-run of the same job keeps its claims on customers in
   * flight), a fresh one when there is no job.
   */
  async handle(
    destinationId: string,
    items: DeliveryItem[],
    holder: string = randomUUID(),
  ): Promise<DeliverOutcome> {
    const outcome = emptyDeliverOutcome();
    const runner = this.options.runnerOf(destinationId);
    if (runner === undefined) throw new Error(`No runner for destination "${destinationId}"`);
    const records: SettledItem[] = [];
    const letters: DeadLetter[] = [];
    const retries: { item: DeliveryItem; afterMs?: number; reason: string }[] = [];
    const deferred: DeliveryItem[] = [];
    const waitingForAuth = new Set<DeliveryItem>();

    const sync = this.options.syncState;
    const writes =
      sync === undefined
        ? undefined
        : new ChangeOnlyWrites(
            await sync.read(destinationId, customersOf(items)),
            (attribute, value) => sync.hash(attribute, value),
            runner.definition?.profileKey === 'customerId',
          );
    const unchanged = new Set<DeliveryItem>();
    const byOperation = new Map<OperationName, DeliveryItem[]>();
    for (const item of latestChanges(items, (superseded) => {
      outcome.superseded += 1;
      records.push({
        destinationId,
        item: superseded,
        status: 'dropped',
        detail: 'superseded: a later change of the same membership or subscription was in the same batch',
        attempts: superseded.attempts,
      });
    })) {
      const list = byOperation.get(item.operation.operation) ?? [];
      list.push(item);
      byOperation.set(item.operation.operation, list);
    }
    for (const name of OPERATION_ORDER) {
      let group = byOperation.get(name);
      if (group === undefined) continue;
      if (name === 'mergeProfiles') {
        group = await this.standingMerges(destinationId, group, records, outcome);
        // Only where the destination holds the retired contact (its sync state), with the ESP's ids of both.
        if (sync !== undefined)
          group = await mergesOfHeldContacts(sync, destinationId, group, records, outcome);
        if (group.length === 0) continue;
      }
      let results: ItemResult[];
      try {
        results = PROFILE_OPERATIONS.has(name)
          ? await this.runProfiles(
              { destinationId, holder, runner, name: name as 'upsertProfiles', writes, unchanged },
              group,
              records,
              deferred,
              outcome,
            )
          : writes === undefined
            ? await runner.run(
                name,
                group.map((item) => item.operation.item) as OperationItems[typeof name][],
              )
            : await runChangedItems({ runner, name, writes, unchanged }, group);
      } catch (error) {
        if (!(error instanceof AuthError)) throw error;
        outcome.authFailed = true;
        outcome.paused = await this.options.authFailed(destinationId, error.message);
        // Every item not yet acted on waits; on a paused queue it waits until someone resumes it.
        const pending = new Set(group);
        for (const later of OPERATION_ORDER.slice(OPERATION_ORDER.indexOf(name) + 1)) {
          for (const item of byOperation.get(later) ?? []) pending.add(item);
        }
        for (const item of pending) waitingForAuth.add(item);
        await this.options.requeue(destinationId, [...pending], AUTH_RETRY_DELAY_MS, holder);
        break;
      }
      group.forEach((item, index) => {
        const result = results[index];
        if (result === undefined) return; // stale (recorded) or deferred
        this.settle(destinationId, item, result, records, letters, retries, outcome);
      });
    }
    if (!outcome.authFailed) await this.options.authSucceeded(destinationId);
    if (sync !== undefined && writes !== undefined) {
      await sync.write(destinationId, writes.changes());
      const erased = records
        .filter(
          (record) => record.status === 'delivered' && record.item.operation.operation === 'deleteProfiles',
        )
        .flatMap((record) => (record.item.customerId === undefined ? [] : [record.item.customerId]));
      if (erased.length > 0) await sync.forget(erased, destinationId);
      const retired = retiredByDeliveredMerges(records);
      if (retired.length > 0) await sync.forget(retired, destinationId);
    }
    for (const record of records)
      if (record.status === 'delivered' && unchanged.has(record.item)) {
        record.detail = UNCHANGED_DETAIL;
        outcome.unchanged += 1;
      }
    const busy = deferred.filter((item) => !waitingForAuth.has(item));
    if (busy.length > 0) {
      outcome.deferred = busy.length;
      // Not an attempt: the item was never sent. It comes back once the other job's request has settled.
      await this.options.requeue(destinationId, busy, BUSY_RETRY_DELAY_MS, holder);
    }
    await this.scheduleRetries({ destinationId, holder }, retries, letters, records, outcome);
    if (letters.length > 0) await this.options.deadLetter(letters);
    if (records.length > 0) await this.options.record(records);
    return outcome;
  }

  /**
   * Coalesces profile updates and skips the stale ones; results come back per input item (undefined: stale, or
   * deferred because another job has the customer in flight). The claim makes the order hold across jobs and
   * processes: a customer's update is sent only when nothing newer was claimed and no other job is sending.
   */
  private async runProfiles(
    call: {
      destinationId: string;
      holder: string;
      runner: OperationRunner;
      name: 'upsertProfiles';
      writes: ChangeOnlyWrites | undefined;
      unchanged: Set<DeliveryItem>;
    },
    group: DeliveryItem[],
    records: SettledItem[],
    deferred: DeliveryItem[],
    outcome: DeliverOutcome,
  ): Promise<ItemResult[]> {
    const { destinationId, holder } = call;
    const updates = group.map((item) => item.operation.item as ProfileUpsert);
    const stamps = group.map((item, index) => ({
      version: (updates[index] as ProfileUpsert).version,
      receivedAtMs: Date.parse(item.receivedAt) || 0,
    }));
    const newest = new Map<string, ProfileStamp>();
    updates.forEach((update, index) => {
      const stamp = stamps[index] as ProfileStamp;
      const known = newest.get(update.customerId);
      if (known === undefined || compareStamps(stamp, known) > 0) newest.set(update.customerId, stamp);
    });
    const claims = await this.options.versions.claim(destinationId, holder, newest);
    const claimed = [...claims].filter(([, claim]) => claim.verdict === 'send').map(([id]) => id);
    try {
      const results: ItemResult[] = new Array(group.length);
      const fresh: number[] = [];
      updates.forEach((update, index) => {
        const item = group[index] as DeliveryItem;
        const claim = claims.get(update.customerId);
        if (claim?.verdict === 'busy') {
          deferred.push(item);
          return;
        }
        const previous = claim?.previous;
        if (
          claim?.verdict === 'stale' ||
          (previous !== undefined && compareStamps(stamps[index] as ProfileStamp, previous) < 0)
        ) {
          outcome.stale += 1;
          records.push({
            destinationId,
            item,
            status: 'dropped',
            detail: staleDetail(update.version, previous?.version ?? update.version),
            attempts: item.attempts,
          });
          return;
        }
        fresh.push(index);
      });
      if (fresh.length === 0) return results;
      // The coalescer applies equal versions in input order: put them in the order their events arrived.
      fresh.sort(
        (a, b) =>
          (stamps[a] as ProfileStamp).receivedAtMs - (stamps[b] as ProfileStamp).receivedAtMs || a - b,
      );
      const coalesced = coalesceProfileUpdates(fresh.map((index) => updates[index] as ProfileUpsert));
      const forced = new Set<number>();
      fresh.forEach((index, position) => {
        if ((group[index] as DeliveryItem).force === true)
          forced.add(coalesced.outputIndex[position] as number);
      });
      const answers =
        call.writes === undefined
          ? await call.runner.run(call.name, coalesced.profiles)
          : await sendChangedProfiles(call.writes, call.runner, coalesced.profiles, forced);
      fresh.forEach((index, position) => {
        const slot = coalesced.outputIndex[position] as number;
        const answer = answers[slot] as ItemResult | 'unchanged';
        if (answer === 'unchanged') {
          call.unchanged.add(group[index] as DeliveryItem);
          results[index] = { status: 'ok' };
        } else results[index] = answer;
      });
      return results;
    } finally {
      await this.options.versions.release(destinationId, holder, claimed);
    }
  }

  /** The merge items whose merge still stands; the others are logged dropped, never sent nor dead-lettered. */
  private async standingMerges(
    destinationId: string,
    group: DeliveryItem[],
    records: SettledItem[],
    outcome: DeliverOutcome,
  ): Promise<DeliveryItem[]> {
    const merges = group.map((item) => item.operation.item as ProfileMerge);
    const standing = await this.options.mergesStanding(merges);
    if (standing.length !== merges.length)
      throw new Error(`mergesStanding answered ${standing.length} merges for ${merges.length}`);
    return group.filter((item, index) => {
      if (standing[index] === true) return true;
      const merge = merges[index] as ProfileMerge;
      outcome.undoneMerges += 1;
      records.push({
        destinationId,
        item,
        status: 'dropped',
        detail: `merge undone: ${merge.mergedCustomerId} no longer belongs to ${merge.customerId}`,
        attempts: item.attempts,
      });
      return false;
    });
  }

  private settle(
    destinationId: string,
    item: DeliveryItem,
    result: ItemResult,
    records: SettledItem[],
    letters: DeadLetter[],
    retries: { item: DeliveryItem; afterMs?: number; reason: string }[],
    outcome: DeliverOutcome,
  ): void {
    const attempts = item.attempts + 1;
    if (result.status === 'ok') {
      outcome.delivered += 1;
      const omitted = (result.omittedFields ?? []).map((field) => `${field.field} (${field.reason})`);
      records.push({
        destinationId,
        item,
        status: 'delivered',
        attempts,
        ...(omitted.length === 0 ? {} : { detail: `delivered without ${omitted.join(', ')}` }),
      });
    } else if (result.status === 'rejected') {
      outcome.rejected += 1;
      // ESPs echo what they refused: the text is stored (and shown) with the person's data masked.
      const reason = redactEspText(result.reason, item);
      letters.push({ destinationId, item, errorClass: 'rejected', error: reason, attempts });
      records.push({ destinationId, item, status: 'dead_lettered', detail: reason, attempts });
    } else if (result.status === 'skipped') {
      // A member this destination cannot hold: recorded, never retried nor dead-lettered.
      outcome.skipped += 1;
      records.push({
        destinationId,
        item,
        status: 'dropped',
        detail: redactEspText(result.reason, item),
        attempts,
      });
    } else {
      retries.push({ item, afterMs: result.afterMs, reason: result.reason });
    }
  }

  /** Items to retry go back together after one delay; those past the retry window become dead letters. */
  private async scheduleRetries(
    call: { destinationId: string; holder: string },
    retries: { item: DeliveryItem; afterMs?: number; reason: string }[],
    letters: DeadLetter[],
    records: SettledItem[],
    outcome: DeliverOutcome,
  ): Promise<void> {
    const { destinationId } = call;
    const now = this.now();
    const again: DeliveryItem[] = [];
    let delayMs = 0;
    for (const { item, afterMs, reason } of retries) {
      const attempts = item.attempts + 1;
      const firstFailedAt = item.firstFailedAt ?? new Date(now).toISOString();
      const decision = nextDeliveryAttempt({
        attempts,
        firstFailedAtMs: Date.parse(firstFailedAt),
        nowMs: now,
        ...(afterMs === undefined ? {} : { retryAfterMs: afterMs }),
        ...(this.options.policy === undefined ? {} : { policy: this.options.policy }),
        ...(this.options.random === undefined ? {} : { random: this.options.random }),
      });
      if (decision.action === 'dead-letter') {
        outcome.deadLettered += 1;
        const error = `${redactEspText(reason, item)} (${decision.reason})`;
        letters.push({ destinationId, item, errorClass: 'retryable', error, attempts });
        records.push({ destinationId, item, status: 'dead_lettered', detail: error, attempts });
        continue;
      }
      outcome.retried += 1;
      delayMs = Math.max(delayMs, decision.delayMs);
      again.push({ ...item, attempts, firstFailedAt });
    }
    // Items retried together go back together, after the longest of their delays (every Retry-After is
    // honoured): one batch stays one batch, instead of each item waiting on its own jittered timer.
    if (again.length > 0)
      await this.options.requeue(call.destinationId, again, Math.ceil(delayMs / 1000) * 1000, call.holder);
  }
}
