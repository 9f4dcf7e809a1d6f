import type { KeyRing } from '@tessera/crypto';
import type { InboundUnsubscribe } from '@tessera/destination-kit';
import type { JobQueue } from '@tessera/queues';

/** Queues verified opt-outs for the worker's inbound stage, sealed (they carry contact points). */
export class InboundQueue {
  constructor(
    readonly jobs: JobQueue<'inbound'>,
    private readonly keyRing: KeyRing,
  ) {}

  async add(destinationId: string, changes: InboundUnsubscribe[], jobId: string): Promise<void> {
    await this.jobs.add(
      'inbound.changes',
      { destinationId, count: changes.length, changes: this.keyRing.sealJson(changes, jobId) },
      jobId,
    );
  }

  close(): Promise<void> {
    return this.jobs.close();
  }
}
