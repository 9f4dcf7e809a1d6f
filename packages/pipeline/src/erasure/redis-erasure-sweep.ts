import type { Job, JobType } from 'bullmq';
import type Redis from 'ioredis';
import type { KeyRing, Sealed } from '@tessera/crypto';
import type { InboundUnsubscribe } from '@tessera/destination-kit';
import { normalizeEmail, normalizePhone, type IdentityGraph } from '@tessera/identity-graph';
import type {
  DeliveryItem,
  EventKey,
  IngestedEvent,
  JobQueue,
  QueueName,
  ResolvedEvent,
} from '@tessera/queues';
import type { RedisDeliveryWindow } from '../stages/delivery-window';
import { eventKeyString } from '../stages/event-identity';
import { eventCarriesSubject, type ContactKeysOf, type ErasedSubject } from './erased-subject';
import type { RedisProfileVersionGuard } from '../stages/redis-profile-version-guard';

export interface RedisErasureSweepOptions {
  redis: Redis;
  prefix: string;
  /** The key ring job payloads and window items are sealed with. */
  keyRing: KeyRing;
  /** Every queue whose jobs carry events, items or opt-outs (resolve, route, inbound, each deliver queue). */
  queues(): JobQueue<QueueName>[];
  window: RedisDeliveryWindow;
  versions: RedisProfileVersionGuard;
  destinationIds(): string[];
  /** Blind indexes of the email and phone an event's data carries (normalized as the identity graph does). */
  contactKeysOf: ContactKeysOf;
  /** How long to wait for a running job or flush holding the subject to finish (default 30 s). */
  settleTimeoutMs?: number;
}

/** What a sweep removed. */
export interface RedisErasureOutcome {
  /** Finished or waiting jobs removed whole (every item was the subject's, or the job was finished). */
  jobsRemoved: number;
  /** Waiting jobs rewritten without the subject's events or items. */
  jobsRewritten: number;
  windowItemsRemoved: number;
  /** The subject's events found in queued jobs (some may not be in the raw event log yet): to tombstone. */
  eventKeys: EventKey[];
}

/** Job states whose data may be rewritten; finished ones are removed; `active` ones are waited for. */
const WAITING_STATES: JobType[] = ['wait', 'delayed', 'prioritized', 'waiting-children'];
const FINISHED_STATES: JobType[] = ['completed', 'failed'];
const PAGE = 500;

type Carried = IngestedEvent | ResolvedEvent | DeliveryItem | InboundUnsubscribe;

/** Where each job name keeps its sealed list, and how it counts it. */
const SEALED_FIELD: Record<string, 'events' | 'items' | 'changes'> = {
  'resolve.events': 'events',
  'route.events': 'events',
  'deliver.items': 'items',
  'inbound.changes': 'changes',
};

export type { ErasedSubject } from './erased-subject';

export class ErasureSweepIncompleteError extends Error {}

/**
 * Removes an erased person from Redis: queued jobs (waiting, delayed, retained completed and failed ones — BullMQ
 * keeps those for a day or a week, payload and all), the items in each destination's delivery window (waiting
 * and in flight), and the per-customer delivery stamps. A waiting job that carries other people too is rewritten
 * without the person (sealed again under its id); a job or flush running right now is waited for, then swept; one
 * still running after `settleTimeoutMs` makes the sweep throw, so the erasure runs again later. Idempotent.
 */
export class RedisErasureSweep {
  constructor(private readonly options: RedisErasureSweepOptions) {}

  async sweep(subject: ErasedSubject): Promise<RedisErasureOutcome> {
    const outcome: RedisErasureOutcome = {
      jobsRemoved: 0,
      jobsRewritten: 0,
      windowItemsRemoved: 0,
      eventKeys: [],
    };
    const found = new Map<string, EventKey>();
    const deadline = Date.now() + (this.options.settleTimeoutMs ?? 30_000);
    for (const queue of this.options.queues()) {
      const removed = new Set<string>();
      let running = await this.sweepQueue(queue, subject, outcome, found, removed);
      // A running job's data cannot be changed: once it has finished (or gone back to wait) it is swept too.
      while (running.length > 0) {
        if (Date.now() > deadline)
          throw new ErasureSweepIncompleteError(
            `${running.length} running job(s) of queue ${queue.queueName} still hold the subject`,
          );
        await sleep(200);
        running = await this.sweepQueue(queue, subject, outcome, found, removed);
      }
      await this.scrubEvents(queue, removed, subject);
    }
    const matchesItem = (item: DeliveryItem) => this.itemMatches(item, subject);
    for (const destinationId of this.options.destinationIds()) {
      const { removed, holders } = await this.options.window.remove(destinationId, matchesItem);
      outcome.windowItemsRemoved += removed;
      // A flush sending the subject's items settles them (log, dead letters) after this: wait for it, so the
      // store's erasure that follows removes what it wrote.
      for (const holder of holders) {
        while (await this.options.window.inFlight(destinationId, holder)) {
          if (Date.now() > deadline)
            throw new ErasureSweepIncompleteError(`a flush of ${destinationId} still holds the subject`);
          await sleep(200);
        }
      }
      await this.options.versions.forget(destinationId, [...subject.customerIds]);
    }
    outcome.eventKeys = [...found.values()];
    return outcome;
  }

  /** Sweeps one queue; returns the running jobs that hold the subject (to look at again). */
  private async sweepQueue(
    queue: JobQueue<QueueName>,
    subject: ErasedSubject,
    outcome: RedisErasureOutcome,
    found: Map<string, EventKey>,
    removed: Set<string>,
  ): Promise<Job[]> {
    const running: Job[] = [];
    for (const states of [WAITING_STATES, FINISHED_STATES, ['active'] as JobType[]]) {
      for (let start = 0; ; start += PAGE) {
        const jobs = (await queue.queue.getJobs(states, start, start + PAGE - 1)) as Job[];
        let removedHere = 0;
        for (const job of jobs) {
          if (job === undefined || job.id === undefined) continue;
          const verdict = this.judge(job, subject, found);
          if (verdict === undefined) continue;
          const state = states[0] === 'active' ? 'active' : await job.getState();
          if (state === 'active') {
            running.push(job);
          } else if (state === 'completed' || state === 'failed' || verdict.kept.length === 0) {
            await job.remove();
            removed.add(job.id);
            outcome.jobsRemoved += 1;
            removedHere += 1;
          } else {
            const field = SEALED_FIELD[job.name] as string;
            await job.updateData({
              ...(job.data as Record<string, unknown>),
              count: verdict.kept.length,
              [field]: this.options.keyRing.sealJson(verdict.kept, job.id),
            });
            outcome.jobsRewritten += 1;
          }
        }
        if (jobs.length < PAGE) break;
        // Removed jobs shift the pages after them: read this page's place again.
        start -= removedHere;
      }
    }
    return running;
  }

  /**
   * The queue's event stream (BullMQ keeps its last ~10,000 events: job ids, results, failure messages): the
   * entries of removed jobs, and any naming one of the subject's customer ids, are deleted.
   */
  private async scrubEvents(
    queue: JobQueue<QueueName>,
    removed: Set<string>,
    subject: ErasedSubject,
  ): Promise<void> {
    const stream = queue.queue.keys.events as string;
    const { redis } = this.options;
    for (let after = '-'; ;) {
      const entries = (await redis.xrange(stream, after, '+', 'COUNT', PAGE)) as [string, string[]][];
      const doomed = entries
        .filter(([, fields]) => {
          const jobId = fields[fields.indexOf('jobId') + 1];
          return (
            (jobId !== undefined && removed.has(jobId)) || mentionsAny(fields.join('\n'), subject.customerIds)
          );
        })
        .map(([id]) => id);
      if (doomed.length > 0) await redis.xdel(stream, ...doomed);
      if (entries.length < PAGE) return;
      after = `(${(entries[entries.length - 1] as [string, string[]])[0]}`;
    }
  }

  /**
   * Whether a job holds the subject, and what of its list is someone else's: undefined when it holds nothing of
   * theirs. A finished job whose result or failure names one of their customer ids counts as theirs too.
   */
  private judge(
    job: Job,
    subject: ErasedSubject,
    found: Map<string, EventKey>,
  ): { kept: Carried[] } | undefined {
    const field = SEALED_FIELD[job.name];
    const data = job.data as Record<string, unknown>;
    let theirs = 0;
    let kept: Carried[] = [];
    if (field !== undefined && data[field] !== undefined) {
      const carried = this.options.keyRing.openJson(data[field] as Sealed<Carried[]>, job.id);
      kept = carried.filter((entry) => {
        const matched = this.carriedMatches(job.name, entry, subject, found);
        if (matched) theirs += 1;
        return !matched;
      });
    }
    const text = [job.failedReason, ...(job.stacktrace ?? []), JSON.stringify(job.returnvalue ?? null)].join(
      '\n',
    );
    if (theirs === 0 && !mentionsAny(text, subject.customerIds)) return undefined;
    return { kept };
  }

  private carriedMatches(
    jobName: string,
    entry: Carried,
    subject: ErasedSubject,
    found: Map<string, EventKey>,
  ): boolean {
    switch (jobName) {
      case 'resolve.events': {
        const event = entry as IngestedEvent;
        const key = { sourceId: event.sourceId, eventSource: event.event.source, eventId: event.event.id };
        const matched = this.eventMatches(key, event.brand, event.event.data, undefined, subject);
        if (matched) found.set(eventKeyString(key), key);
        return matched;
      }
      case 'route.events': {
        const event = entry as ResolvedEvent;
        const matched = this.eventMatches(
          event.key,
          event.brand,
          event.event.data,
          event.customerId,
          subject,
        );
        if (matched) found.set(eventKeyString(event.key), event.key);
        return matched;
      }
      case 'deliver.items':
        return this.itemMatches(entry as DeliveryItem, subject);
      case 'inbound.changes': {
        const change = entry as InboundUnsubscribe;
        return (
          (change.customerId !== undefined && subject.customerIds.has(change.customerId)) ||
          this.options
            .contactKeysOf('', { email: change.email, phone: change.phone })
            .some((key) => subject.contactKeys.has(key))
        );
      }
      default:
        return false;
    }
  }

  private eventMatches(
    key: EventKey,
    brand: string,
    data: unknown,
    customerId: string | undefined,
    subject: ErasedSubject,
  ): boolean {
    return eventCarriesSubject(subject, this.options.contactKeysOf, { key, brand, data, customerId });
  }

  private itemMatches(item: DeliveryItem, subject: ErasedSubject): boolean {
    if (item.customerId !== undefined && subject.customerIds.has(item.customerId)) return true;
    if (item.event !== undefined && subject.eventKeys.has(eventKeyString(item.event))) return true;
    const operationItem = (item.operation?.item ?? {}) as unknown as Record<string, unknown>;
    for (const field of ['customerId', 'mergedCustomerId']) {
      const value = operationItem[field];
      if (typeof value === 'string' && subject.customerIds.has(value)) return true;
    }
    return false;
  }
}

/**
 * The blind indexes of the email and phone in an event's data (or an opt-out), normalized as the identity graph
 * normalizes them (a phone without a country takes the brand's default): what DSR requests store as subject keys.
 */
export function contactKeysOf(
  graph: Pick<IdentityGraph, 'keys' | 'defaultCountry'>,
): (brand: string, data: Record<string, unknown>) => string[] {
  return (brand, data) => {
    const keys: string[] = [];
    if (typeof data['email'] === 'string') {
      const email = normalizeEmail(data['email']);
      if (email.ok) keys.push(graph.keys.lookupKey({ type: 'email', value: email.value }));
    }
    if (typeof data['phone'] === 'string') {
      const phone = normalizePhone(data['phone'], graph.defaultCountry(brand));
      if (phone.ok) keys.push(graph.keys.lookupKey({ type: 'phone', value: phone.value }));
    }
    return keys;
  };
}

/** Whether `text` names one of `ids` as a whole token (not inside a longer id). */
function mentionsAny(text: string, ids: ReadonlySet<string>): boolean {
  for (const id of ids) {
    let at = text.indexOf(id);
    while (at >= 0) {
      const before = text[at - 1];
      const after = text[at + id.length];
      if ((before === undefined || !/[\w-]/.test(before)) && (after === undefined || !/[\w-]/.test(after)))
        return true;
      at = text.indexOf(id, at + 1);
    }
  }
  return false;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
