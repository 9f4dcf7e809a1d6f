import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import type { KeyRing } from '@tessera/crypto';
import { JobQueue, type IngestedEvent } from '@tessera/queues';

/** One request's events, ready to enter the pipeline. */
export interface AdmissionRequest {
  sourceId: string;
  /** The Standard Webhooks `webhook-id`: a repeated one marks the whole request a retry. */
  webhookId?: string;
  events: IngestedEvent[];
  /** The request body's size: flushes are bounded in bytes too, so one job stays a few MiB at most. */
  bytes?: number;
}

/** The queue cannot take events now (Redis unreachable or the queue over its depth limit). */
export class AdmissionUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

export interface EventAdmission {
  /** Per event, in order: true when newly queued, false when it is a duplicate. */
  admit(request: AdmissionRequest): Promise<boolean[]>;
}

export interface RedisEventAdmissionOptions {
  redis: Redis;
  prefix: string;
  keyRing: KeyRing;
  dedupeWindowSeconds: number;
  maxQueueDepth: number;
  /** Flush the pending requests once they hold this many events (else at the end of the event-loop turn). */
  maxBatchEvents?: number;
  /** …or this many bytes of request bodies (default 2 MiB). */
  maxBatchBytes?: number;
}

// Marks a request's webhook-id and each event's (source, id) as seen, atomically, and says per event whether
// it was new. KEYS: per request [webhook key?] then its event keys; ARGV: ttl, request count, then per
// request (has webhook key 0|1, event count). A repeated webhook-id makes every event of its request a
// duplicate without marking them, so a sender's reused id cannot hide events it never delivered.
const ADMIT_SCRIPT = `
local ttl = tonumber(ARGV[1])
local groups = tonumber(ARGV[2])
local k = 1
local out = {}
for g = 1, groups do
  local hasWebhook = ARGV[1 + g * 2] == '1'
  local n = tonumber(ARGV[2 + g * 2])
  local repeated = false
  if hasWebhook then
    repeated = not redis.call('SET', KEYS[k], '1', 'NX', 'EX', ttl)
    k = k + 1
  end
  for i = 1, n do
    if repeated then
      out[#out + 1] = 0
    elseif redis.call('SET', KEYS[k], '1', 'NX', 'EX', ttl) then
      out[#out + 1] = 1
    else
      out[#out + 1] = 0
    end
    k = k + 1
  end
end
return out
`;

interface Pending {
  request: AdmissionRequest;
  webhookKey?: string;
  eventKeys: string[];
  resolve: (admitted: boolean[]) => void;
  reject: (error: Error) => void;
}

const queueUnavailable = () =>
  new AdmissionUnavailableError('the event queue is unavailable; retry later', 5);

type AdmitCommand = (...args: Array<string | number>) => Promise<number[]>;

const digest = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);

/**
 * Dedupes and queues events in Redis. Requests that arrive in the same event-loop turn are flushed
 * together: one script call marks every id as seen, one job carries every new event (sealed) to the
 * resolve queue, so the cost per HTTP request stays far below one Redis round trip. When the job cannot
 * be added, the ids it marked are released again so the sender's retry is not mistaken for a duplicate.
 */
export class RedisEventAdmission implements EventAdmission {
  private readonly queue: JobQueue<'resolve'>;
  private readonly maxBatchEvents: number;
  private readonly maxBatchBytes: number;
  private pendingBytes = 0;
  private pending: Pending[] = [];
  private pendingEvents = 0;
  private flushScheduled = false;
  private depth = { value: 0, checkedAt: 0, refreshing: undefined as Promise<void> | undefined };

  constructor(private readonly options: RedisEventAdmissionOptions) {
    this.queue = new JobQueue('resolve', options.redis, options.prefix);
    this.maxBatchEvents = options.maxBatchEvents ?? 1000;
    this.maxBatchBytes = options.maxBatchBytes ?? 2 * 1024 * 1024;
    if (!('tesseraAdmit' in options.redis)) {
      options.redis.defineCommand('tesseraAdmit', { lua: ADMIT_SCRIPT });
    }
  }

  get resolveQueue(): JobQueue<'resolve'> {
    return this.queue;
  }

  eventKey(sourceId: string, source: string, id: string): string {
    return `${this.options.prefix}:seen:event:${sourceId}:${digest(`${source}\n${id}`)}`;
  }

  webhookKey(sourceId: string, webhookId: string): string {
    return `${this.options.prefix}:seen:webhook:${sourceId}:${digest(webhookId)}`;
  }

  async admit(request: AdmissionRequest): Promise<boolean[]> {
    // Fail fast while Redis is away: BullMQ would otherwise wait for the connection to come back.
    if (this.options.redis.status !== 'ready') {
      throw queueUnavailable();
    }
    await this.ensureQueueHasRoom();
    return new Promise((resolve, reject) => {
      const eventKeys = request.events.map(({ event }) =>
        this.eventKey(request.sourceId, event.source, event.id),
      );
      const webhookKey =
        request.webhookId === undefined ? undefined : this.webhookKey(request.sourceId, request.webhookId);
      this.pending.push({ request, webhookKey, eventKeys, resolve, reject });
      this.pendingEvents += request.events.length;
      this.pendingBytes += request.bytes ?? 0;
      if (this.pendingEvents >= this.maxBatchEvents || this.pendingBytes >= this.maxBatchBytes) {
        void this.flush();
      } else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** The queue's depth, read at most once a second (off the request path, except for the very first). */
  private async ensureQueueHasRoom(): Promise<void> {
    if (Date.now() - this.depth.checkedAt > 1000 && this.depth.refreshing === undefined) {
      this.depth.refreshing = this.queue
        .waitingCount()
        .then((value) => {
          this.depth.value = value;
          this.depth.checkedAt = Date.now();
        })
        .catch(() => undefined)
        .finally(() => (this.depth.refreshing = undefined));
    }
    if (this.depth.checkedAt === 0) await this.depth.refreshing;
    if (this.depth.value >= this.options.maxQueueDepth) {
      throw new AdmissionUnavailableError('the event queue is over its depth limit; retry later', 5);
    }
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    this.pendingEvents = 0;
    this.pendingBytes = 0;
    if (batch.length === 0) return;
    const { redis, keyRing, dedupeWindowSeconds } = this.options;
    const keys: string[] = [];
    const args: Array<string | number> = [dedupeWindowSeconds, batch.length];
    for (const item of batch) {
      if (item.webhookKey !== undefined) keys.push(item.webhookKey);
      keys.push(...item.eventKeys);
      args.push(item.webhookKey === undefined ? 0 : 1, item.eventKeys.length);
    }
    let marks: number[];
    try {
      marks = await (redis as unknown as { tesseraAdmit: AdmitCommand }).tesseraAdmit(
        keys.length,
        ...keys,
        ...args,
      );
    } catch {
      for (const item of batch) item.reject(queueUnavailable());
      return;
    }
    const results: boolean[][] = [];
    const fresh: IngestedEvent[] = [];
    const claimed: string[] = [];
    let cursor = 0;
    for (const item of batch) {
      const admitted = item.eventKeys.map((key, i) => {
        const isNew = marks[cursor + i] === 1;
        if (isNew) {
          fresh.push(item.request.events[i]);
          claimed.push(key);
        }
        return isNew;
      });
      cursor += item.eventKeys.length;
      if (item.webhookKey !== undefined && admitted.some(Boolean)) claimed.push(item.webhookKey);
      results.push(admitted);
    }
    if (fresh.length > 0) {
      try {
        const jobId = `events-${createHash('sha256').update(claimed.join('\n')).digest('hex').slice(0, 32)}`;
        await this.queue.add(
          'resolve.events',
          { count: fresh.length, events: keyRing.sealJson(fresh, jobId) },
          jobId,
        );
      } catch {
        await redis.del(...claimed).catch(() => undefined);
        for (const item of batch) item.reject(queueUnavailable());
        return;
      }
    }
    batch.forEach((item, i) => item.resolve(results[i]));
  }
}
