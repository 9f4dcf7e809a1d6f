import type { ErasureSubject, SubjectDataEraser } from '@tessera/consent';
import { eventKeyOf, eventKeyString } from '../stages/event-identity';
import type { DeadLetterBox } from '../store/dead-letter-box.repository';
import type { DeliveryLog } from '../store/delivery-log.repository';
import type { DestinationSyncState } from '../store/destination-sync-state.repository';
import type { RawEventLog } from '../store/raw-event-log.repository';
import type { UnresolvedEvents } from '../store/unresolved-events.repository';
import { eventCarriesSubject, type ContactKeysOf, type ErasedSubject } from './erased-subject';
import type { RedisErasureSweep } from './redis-erasure-sweep';

export interface PipelineSubjectErasureOptions {
  rawLog: Pick<RawEventLog, 'keysOfCustomers' | 'erase' | 'tombstoneCustomers'>;
  deliveryLog: Pick<DeliveryLog, 'forget'>;
  deadLetters: Pick<DeadLetterBox, 'forget'>;
  syncState: Pick<DestinationSyncState, 'forget'>;
  sweep: Pick<RedisErasureSweep, 'sweep'>;
  unresolved: Pick<UnresolvedEvents, 'keysMatching'>;
  contactKeysOf: ContactKeysOf;
}

/**
 * The pipeline's part of an erasure, run after the identity graph forgot the person (so nothing new is routed
 * to their profiles): Redis first — queued jobs, delivery windows, delivery stamps; a flush sending them is
 * waited for — then the store: their raw events, those that resolved to no profile but carry their contact
 * points or customer id included (each leaving its tombstone, a keyed hash of its key, so a
 * retried event is recognised; each customer id leaves one too, for re-send paths), delivery log entries, dead letters and sync state. Idempotent: every run of
 * the erasure calls it.
 */
export class PipelineSubjectErasure implements SubjectDataEraser {
  constructor(private readonly options: PipelineSubjectErasureOptions) {}

  async erase(subject: ErasureSubject): Promise<Record<string, number>> {
    const { rawLog, deliveryLog, deadLetters, syncState, sweep, unresolved, contactKeysOf } = this.options;
    await rawLog.tombstoneCustomers(subject.customerIds);
    const stored = await rawLog.keysOfCustomers(subject.customerIds);
    const erasedSubject: ErasedSubject = {
      customerIds: new Set(subject.customerIds),
      eventKeys: new Set(stored.map(eventKeyString)),
      contactKeys: new Set(subject.subjectKeys),
    };
    const swept = await sweep.sweep(erasedSubject);
    // Events that resolved to no profile carry the person only in their data: each is opened and asked.
    const unattached = await unresolved.keysMatching((ingested) =>
      eventCarriesSubject(erasedSubject, contactKeysOf, {
        key: eventKeyOf(ingested),
        brand: ingested.brand,
        data: ingested.event.data,
      }),
    );
    const erased = await rawLog.erase({
      customerIds: subject.customerIds,
      keys: [...swept.eventKeys, ...unattached],
    });
    const forgotten = { customerIds: subject.customerIds, events: erased };
    return {
      rawEvents: erased.length,
      deliveryLogEntries: await deliveryLog.forget(forgotten),
      deadLetters: await deadLetters.forget(forgotten),
      syncStateRows: await syncState.forget(subject.customerIds),
      queuedJobsRemoved: swept.jobsRemoved,
      queuedJobsRewritten: swept.jobsRewritten,
      windowItemsRemoved: swept.windowItemsRemoved,
    };
  }
}
