import { createHash } from 'node:crypto';
import type { DeliveryItem, EventKey, ResolvedEvent } from '@tessera/queues';
import { eventKeyOf, eventKeyString } from '../stages/event-identity';
import type { DeadLetterBox, ReplayFilter } from '../store/dead-letter-box.repository';
import type { DeliveryLog } from '../store/delivery-log.repository';
import type { RawEventFilter, RawEventLog } from '../store/raw-event-log.repository';

/** What one replay did: items queued again, items found delivered since, letters left for another process. */
export interface DeadLetterReplayOutcome {
  replayed: number;
  alreadyDelivered: number;
  /**
   * Letters taken but not sent: their person was erased since (the letter is deleted with the rest of them) or
   * their contact point is suppressed (the letter is closed as discarded, the delivery log says why).
   */
  notSent: { erased: number; suppressed: number };
  /** Waiting letters the filter matched at destinations this process does not run: left waiting, untouched. */
  notRunHere: { destinationId: string; letters: number }[];
}

/** Where a rehydration is: events read from the raw event log, and those queued for routing. */
export interface RehydrationProgress {
  read: number;
  queued: number;
}

export interface DeliveryReplayOptions {
  deadLetters: Pick<DeadLetterBox, 'takeForReplay' | 'waitingOutside' | 'forget' | 'closeUnsent'>;
  deliveryLog: Pick<DeliveryLog, 'deliveredItemKeys' | 'record'>;
  /**
   * Why each item may not be sent again, per item in order (undefined: it may): `erased` when its person was
   * erased, `suppressed` when its contact point is suppressed and the operation is no suppression or deletion.
   */
  refusals(items: { brand: string; item: DeliveryItem }[]): Promise<(ReplayRefusal | undefined)[]>;
  rawLog: Pick<RawEventLog, 'find' | 'progress'>;
  /** The destinations this process runs (only their letters are taken). */
  runHere(): string[];
  /** Hands items to a destination (its delivery window). */
  deliver(destinationId: string, items: DeliveryItem[]): Promise<void>;
  /** Queues a route job under the given id. */
  route(events: ResolvedEvent[], jobId: string): Promise<void>;
}

/** Why a replayed item is not sent. */
export type ReplayRefusal = 'erased' | 'suppressed';

const REFUSAL_DETAIL: Record<ReplayRefusal, string> = {
  erased: 'not replayed: the person was erased',
  suppressed: 'not replayed: the contact point is suppressed (suppression and deletion calls only)',
};

const digest = (parts: readonly string[]) =>
  createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);

/**
 * What an operator sends again: dead letters replayed, and stored events rehydrated through routing and delivery.
 * Both are full writes (`DeliveryItem.force`, `ResolvedEvent.fullWrite`): the ESP gets the whole item whatever
 * the sync state says it holds.
 */
export class DeliveryReplay {
  constructor(private readonly options: DeliveryReplayOptions) {}

  /**
   * Replays dead letters (by ids or a filter): each is taken once (even with two replays at once), items
   * already delivered since are skipped, the rest go back to their destination's queue as fresh attempts.
   * Only letters of destinations this process runs are taken; the others stay waiting, counted in `notRunHere`.
   */
  async replayDeadLetters(filter: ReplayFilter): Promise<DeadLetterReplayOutcome> {
    const runHere = this.options.runHere();
    const letters = await this.options.deadLetters.takeForReplay({
      ...filter,
      destinationIds: (filter.destinationIds ?? runHere).filter((id) => runHere.includes(id)),
    });
    let replayed = 0;
    let alreadyDelivered = 0;
    const notSent = { erased: 0, suppressed: 0 };
    // Erasure and suppression are checked before anything is sent: a replay never brings a person back.
    const refusals = await this.options.refusals(
      letters.map((letter) => ({ brand: letter.brand, item: letter.item as DeliveryItem })),
    );
    const erased = letters.filter((_, index) => refusals[index] === 'erased');
    const suppressed = letters.filter((_, index) => refusals[index] === 'suppressed');
    if (erased.length > 0) {
      // What is left of an erased person is deleted, not logged: their customer ids and events.
      await this.options.deadLetters.forget({
        customerIds: [...new Set(erased.flatMap((letter) => letter.customerId ?? []))],
        events: erased.flatMap((letter) =>
          letter.sourceId === undefined || letter.eventSource === undefined || letter.eventId === undefined
            ? []
            : [{ sourceId: letter.sourceId, eventSource: letter.eventSource, eventId: letter.eventId }],
        ),
      });
      notSent.erased = erased.length;
    }
    if (suppressed.length > 0) {
      await this.options.deadLetters.closeUnsent(
        suppressed.map((letter) => letter.id),
        { actor: 'system:replay', reason: REFUSAL_DETAIL.suppressed },
      );
      await this.options.deliveryLog.record(
        suppressed.map((letter) => {
          const item = letter.item as DeliveryItem;
          return {
            ...(item.event === undefined ? {} : { ...item.event }),
            brand: letter.brand,
            ...(item.customerId === undefined ? {} : { customerId: item.customerId }),
            destinationId: letter.destinationId,
            operation: letter.operation,
            itemKey: letter.itemKey,
            status: 'dropped' as const,
            detail: REFUSAL_DETAIL.suppressed,
            attempts: letter.attempts,
          };
        }),
      );
      notSent.suppressed = suppressed.length;
    }
    const byDestination = new Map<string, DeliveryItem[]>();
    for (const [index, letter] of letters.entries()) {
      if (refusals[index] !== undefined) continue;
      const list = byDestination.get(letter.destinationId) ?? [];
      const item = letter.item as DeliveryItem;
      // A full write: whatever the sync state says, the ESP gets the whole item again.
      list.push({ ...item, attempts: 0, firstFailedAt: undefined, force: true } as DeliveryItem);
      byDestination.set(letter.destinationId, list);
    }
    for (const [destinationId, items] of byDestination) {
      const delivered = await this.options.deliveryLog.deliveredItemKeys(
        destinationId,
        items.map((item) => item.itemKey),
      );
      const fresh = items
        .filter((item) => !delivered.has(item.itemKey))
        .map(({ firstFailedAt: _dropped, ...item }) => item);
      alreadyDelivered += items.length - fresh.length;
      if (fresh.length === 0) continue;
      await this.options.deliver(destinationId, fresh);
      replayed += fresh.length;
    }
    const elsewhere = await this.options.deadLetters.waitingOutside(filter, runHere);
    const notRunHere = [...elsewhere].map(([destinationId, count]) => ({ destinationId, letters: count }));
    return { replayed, alreadyDelivered, notSent, notRunHere };
  }

  /**
   * Re-runs stored events (a profile's, a brand's, or a time range's) through routing and delivery with
   * today's profiles, rules and consent: what an operator does after fixing a mapping. Events that never
   * resolved to a profile are skipped. Returns how many events were queued; `onProgress` hears after each
   * page of the log (1,000 events) how many were read and queued so far.
   */
  async rehydrate(
    filter: Omit<RawEventFilter, 'afterKey' | 'limit'>,
    options: { onProgress?: (progress: RehydrationProgress) => void } = {},
  ): Promise<{ events: number }> {
    let queued = 0;
    let read = 0;
    let afterKey: string | undefined;
    const runId = `${Date.now()}`;
    do {
      const page = await this.options.rawLog.find({
        ...filter,
        limit: 1_000,
        ...(afterKey === undefined ? {} : { afterKey }),
      });
      const keys = page.events.map(eventKeyOf);
      const progress = await this.options.rawLog.progress(keys);
      const events: ResolvedEvent[] = [];
      page.events.forEach((event, index) => {
        const key = keys[index] as EventKey;
        const customerId = progress.get(eventKeyString(key))?.customerId;
        if (customerId === null || customerId === undefined) return;
        events.push({
          key,
          brand: event.brand,
          receivedAt: new Date().toISOString(),
          customerId,
          event: event.event,
          fullWrite: true,
        });
      });
      if (events.length > 0) {
        // A job id of its own: the original route job may still exist, and a re-run must not be taken for it.
        const jobId = `rehydrate-${digest([runId, ...events.map((event) => eventKeyString(event.key))])}`;
        await this.options.route(events, jobId);
        queued += events.length;
      }
      read += page.events.length;
      options.onProgress?.({ read, queued });
      afterKey = page.nextCursor;
    } while (afterKey !== undefined);
    return { events: queued };
  }
}
