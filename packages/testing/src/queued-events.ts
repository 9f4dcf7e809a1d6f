import { Queue } from 'bullmq';
import type Redis from 'ioredis';
import { KeyRing } from '@tessera/crypto';
import { QUEUE_PAYLOAD_KEY_PURPOSE, type IngestedEvent, type JobDataMap } from '@tessera/queues';

/**
 * Every event that entered the resolve queue — waiting, in progress, or already resolved by a running worker
 * (finished jobs are kept for a day) — unsealed, in the order the jobs were added.
 */
export async function queuedEvents(
  redis: Redis,
  prefix: string,
  masterKey: Buffer,
): Promise<IngestedEvent[]> {
  const connection = redis.duplicate();
  const queue = new Queue('resolve', { connection, prefix });
  try {
    const keyRing = new KeyRing([masterKey], QUEUE_PAYLOAD_KEY_PURPOSE);
    const jobs = await queue.getJobs(
      ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'],
      0,
      -1,
      true,
    );
    jobs.sort((a, b) => a.timestamp - b.timestamp);
    return jobs.flatMap((job) => {
      const data = job.data as JobDataMap['resolve.events'];
      const events = keyRing.openJson(data.events, job.id);
      if (events.length !== data.count)
        throw new Error(`job ${job.id} says ${data.count} events but holds ${events.length}`);
      return events;
    });
  } finally {
    await queue.close();
    connection.disconnect();
  }
}
