import type { KeyRing } from '@tessera/crypto';
import type { OperationName } from '@tessera/destination-kit';
import type { DeliveryItem } from '@tessera/queues';
import type Redis from 'ioredis';

/** What an append asks the caller to schedule. */
export interface WindowAppendOutcome {
  /** Items new to the window (an item already waiting or in flight under the same id is not added twice). */
  added: number;
  /** A flush is due at this time (epoch ms, Redis's clock) and none is scheduled that early yet. */
  scheduleAt?: number;
  /** An operation's waiting items reached its batch size: flush now, under this id (one per take). */
  fullFlushId?: string;
  /** Redis's clock at the append (epoch ms): delays are computed against it, never a worker's own clock. */
  nowMs: number;
}

/** What one flush took. */
export interface WindowTake {
  items: DeliveryItem[];
  /** Ready items are still waiting (more than one take's worth): flush again now, under this id. */
  moreFlushId?: string;
  /** The earliest remaining item is ready at this time (epoch ms): schedule a flush for it. */
  scheduleAt?: number;
  nowMs: number;
}

export interface WindowAppendOptions {
  /** How long items gather before a flush (ms); 0 flushes at once. */
  windowMs: number;
  /** Items are ready only after this long (a retry's back-off, a busy customer's wait). */
  delayMs?: number;
  /** An operation whose waiting items reach this many flushes at once (its batch size). */
  thresholds: Partial<Record<OperationName, number>>;
}

/** A take left in flight this long (its job lost for good) goes back into the window at the next take. */
export const ORPHANED_TAKE_MS = 15 * 60_000;

// KEYS: 1 waiting ids by ready time (zset), 2 payloads (hash), 3 count per operation of the items that were
// ready when they came (hash), 4 scheduled flush time, 5 take sequence, 6 take sequence already signalled full,
// 7 ids of items that came with a delay (not counted: a day-long merge cooling-off must not make every append
// look like a full batch).
// ARGV: windowMs, delayMs, threshold pair count, (operation, threshold)…, then (id, operation, payload)….
const APPEND_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local windowMs = tonumber(ARGV[1])
local delayMs = tonumber(ARGV[2])
local npairs = tonumber(ARGV[3])
local first = 4 + npairs * 2
local readyAt = now + delayMs
local added = 0
for i = first, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 2]) == 1 then
    redis.call('ZADD', KEYS[1], readyAt, ARGV[i])
    if delayMs > 0 then
      redis.call('SADD', KEYS[7], ARGV[i])
    else
      redis.call('HINCRBY', KEYS[3], ARGV[i + 1], 1)
    end
    added = added + 1
  end
end
local schedule = -1
if added > 0 then
  local due = now + windowMs
  if delayMs > 0 then due = readyAt end
  local timer = redis.call('GET', KEYS[4])
  if not timer or tonumber(timer) > due then
    redis.call('SET', KEYS[4], due)
    schedule = due
  end
end
local full = ''
local seq = redis.call('GET', KEYS[5]) or '0'
if added > 0 and delayMs == 0 then
  for i = 4, first - 1, 2 do
    local waiting = tonumber(redis.call('HGET', KEYS[3], ARGV[i]) or '0')
    if waiting >= tonumber(ARGV[i + 1]) and redis.call('GET', KEYS[6]) ~= seq then
      redis.call('SET', KEYS[6], seq)
      full = seq
    end
  end
end
return {added, schedule, full, now}`;

// KEYS: 1 waiting (zset), 2 payloads (hash), 3 counts (hash), 4 scheduled flush time, 5 take sequence,
// 6 this holder's items in flight (hash), 7 holders in flight by take time (zset), 8 delayed ids (set).
// ARGV: holder, cap, orphan age ms, in-flight key prefix.
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local holder = ARGV[1]
-- Takes lost for good (their job failed without putting them back) return to the window first.
local orphans = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', now - tonumber(ARGV[3]))
for _, orphan in ipairs(orphans) do
  if orphan ~= holder then
    local key = ARGV[4] .. orphan
    local flat = redis.call('HGETALL', key)
    for i = 1, #flat, 2 do
      if redis.call('HSETNX', KEYS[2], flat[i], flat[i + 1]) == 1 then
        redis.call('ZADD', KEYS[1], now, flat[i])
        redis.call('HINCRBY', KEYS[3], string.match(flat[i], '^[^|]+'), 1)
      end
    end
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[7], orphan)
  end
end
local taken = {}
if redis.call('EXISTS', KEYS[6]) == 1 then
  -- A re-run of the same job (it stalled): it delivers what it took before, nothing new.
  taken = redis.call('HGETALL', KEYS[6])
else
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
  for _, id in ipairs(ids) do
    local payload = redis.call('HGET', KEYS[2], id)
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    if redis.call('SREM', KEYS[8], id) == 0 then
      redis.call('HINCRBY', KEYS[3], string.match(id, '^[^|]+'), -1)
    end
    if payload then
      redis.call('HSET', KEYS[6], id, payload)
      table.insert(taken, id)
      table.insert(taken, payload)
    end
  end
  if #taken > 0 then redis.call('ZADD', KEYS[7], now, holder) end
  redis.call('INCR', KEYS[5])
end
local seq = redis.call('GET', KEYS[5]) or '0'
local more = ''
local schedule = -1
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #head == 0 then
  redis.call('DEL', KEYS[4])
elseif tonumber(head[2]) <= now then
  more = seq
  redis.call('SET', KEYS[4], now)
else
  schedule = tonumber(head[2])
  redis.call('SET', KEYS[4], schedule)
end
return {taken, more, schedule, now}`;

// KEYS: 1 waiting, 2 payloads, 3 counts, 4 in flight (hash), 5 holders (zset), 6 delayed ids (set).
// ARGV: holder, delay ms.
const RESTORE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local flat = redis.call('HGETALL', KEYS[4])
local restored = 0
for i = 1, #flat, 2 do
  if redis.call('HSETNX', KEYS[2], flat[i], flat[i + 1]) == 1 then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), flat[i])
    if tonumber(ARGV[2]) > 0 then
      redis.call('SADD', KEYS[6], flat[i])
    else
      redis.call('HINCRBY', KEYS[3], string.match(flat[i], '^[^|]+'), 1)
    end
    restored = restored + 1
  end
end
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[5], ARGV[1])
return {restored, now}`;

// KEYS: 1 waiting (zset), 2 payloads (hash), 3 counts (hash), 4 delayed ids (set). ARGV: ids to remove.
const REMOVE_SCRIPT = `
local removed = 0
for i = 1, #ARGV do
  if redis.call('HDEL', KEYS[2], ARGV[i]) == 1 then
    redis.call('ZREM', KEYS[1], ARGV[i])
    if redis.call('SREM', KEYS[4], ARGV[i]) == 0 then
      redis.call('HINCRBY', KEYS[3], string.match(ARGV[i], '^[^|]+'), -1)
    end
    removed = removed + 1
  end
end
return removed`;

/**
 * A destination's delivery window in Redis: items from every route job (and retries, and replays) wait here,
 * sealed, until a flush takes them, so that one ESP request carries the items of many events. Shared and
 * durable — any worker may flush; a take moves items to an in-flight hash under the flushing job's id in the same
 * script, so a worker killed mid-request loses nothing (its job re-runs and delivers the same items again, the
 * only duplicates) and two flushes never take the same item. Time is Redis's, so workers' clocks do not matter.
 */
export class RedisDeliveryWindow {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly keyRing: KeyRing,
    /** A take in flight longer than this is taken for lost and put back (tests shorten it). */
    private readonly orphanedAfterMs = ORPHANED_TAKE_MS,
  ) {}

  /** One hash tag per destination: a window's keys live in one cluster slot, as its scripts need. */
  private base(destinationId: string): string {
    return `${this.prefix}:window:{${destinationId}}`;
  }

  private keys(destinationId: string) {
    const base = this.base(destinationId);
    return {
      waiting: `${base}:waiting`,
      payloads: `${base}:items`,
      counts: `${base}:counts`,
      timer: `${base}:flush-at`,
      sequence: `${base}:takes`,
      signalled: `${base}:full-signalled`,
      delayed: `${base}:delayed`,
      holders: `${base}:in-flight`,
      inFlightPrefix: `${base}:taken:`,
    };
  }

  /** An item's id in the window: its operation (counted per operation), its key and attempt. */
  static itemId(item: DeliveryItem): string {
    return `${item.operation.operation}|${item.itemKey}@${item.attempts}`;
  }

  async append(
    destinationId: string,
    items: readonly DeliveryItem[],
    options: WindowAppendOptions,
  ): Promise<WindowAppendOutcome> {
    const keys = this.keys(destinationId);
    const thresholds = Object.entries(options.thresholds).flatMap(([operation, size]) => [
      operation,
      String(size),
    ]);
    const entries = items.flatMap((item) => {
      const id = RedisDeliveryWindow.itemId(item);
      const sealed = this.keyRing.sealPacked(JSON.stringify(item), id);
      return [id, item.operation.operation, `${sealed.kid}:${sealed.packed.toString('base64')}`];
    });
    const [added, schedule, full, nowMs] = (await this.redis.eval(
      APPEND_SCRIPT,
      7,
      keys.waiting,
      keys.payloads,
      keys.counts,
      keys.timer,
      keys.sequence,
      keys.signalled,
      keys.delayed,
      String(Math.max(0, Math.round(options.windowMs))),
      String(Math.max(0, Math.round(options.delayMs ?? 0))),
      String(thresholds.length / 2),
      ...thresholds,
      ...entries,
    )) as [number, number, string, number];
    return {
      added,
      nowMs,
      ...(schedule >= 0 ? { scheduleAt: schedule } : {}),
      ...(full === '' ? {} : { fullFlushId: `full-${full}` }),
    };
  }

  /**
   * Takes up to `cap` ready items for `holder` (the flushing job's id). A holder that took before and did not
   * settle (its job re-runs) gets the same items back, nothing new.
   */
  async take(destinationId: string, holder: string, cap: number): Promise<WindowTake> {
    const keys = this.keys(destinationId);
    const [flat, more, schedule, nowMs] = (await this.redis.eval(
      TAKE_SCRIPT,
      8,
      keys.waiting,
      keys.payloads,
      keys.counts,
      keys.timer,
      keys.sequence,
      keys.inFlightPrefix + holder,
      keys.holders,
      keys.delayed,
      holder,
      String(cap),
      String(this.orphanedAfterMs),
      keys.inFlightPrefix,
    )) as [string[], string, number, number];
    const items: DeliveryItem[] = [];
    for (let index = 0; index < flat.length; index += 2) {
      items.push(this.open(flat[index] as string, flat[index + 1] as string));
    }
    return {
      items,
      nowMs,
      ...(more === '' ? {} : { moreFlushId: `more-${more}` }),
      ...(schedule >= 0 ? { scheduleAt: schedule } : {}),
    };
  }

  /** The holder's items are settled (delivered, logged, dead-lettered or put back as new items). */
  async settle(destinationId: string, holder: string): Promise<void> {
    const keys = this.keys(destinationId);
    await this.redis
      .multi()
      .del(keys.inFlightPrefix + holder)
      .zrem(keys.holders, holder)
      .exec();
  }

  /**
   * Puts the holder's items back into the window, ready after `delayMs` (its flush failed before it could
   * settle them). Returns how many went back and Redis's clock.
   */
  async restore(
    destinationId: string,
    holder: string,
    delayMs: number,
  ): Promise<{ restored: number; nowMs: number }> {
    const keys = this.keys(destinationId);
    const [restored, nowMs] = (await this.redis.eval(
      RESTORE_SCRIPT,
      6,
      keys.waiting,
      keys.payloads,
      keys.counts,
      keys.inFlightPrefix + holder,
      keys.holders,
      keys.delayed,
      holder,
      String(Math.max(0, Math.round(delayMs))),
    )) as [number, number];
    return { restored, nowMs };
  }

  /**
   * Removes the items `matches` picks (an erasure): those waiting, and those a flush holds in flight, so that a
   * failed flush does not put them back. Returns how many, and the holders that had any in flight (their flush
   * may still be sending them: the caller waits for them to settle).
   */
  async remove(
    destinationId: string,
    matches: (item: DeliveryItem) => boolean,
  ): Promise<{ removed: number; holders: string[] }> {
    const keys = this.keys(destinationId);
    const picked = (flat: Record<string, string>) =>
      Object.entries(flat)
        .filter(([id, payload]) => matches(this.open(id, payload)))
        .map(([id]) => id);
    const waiting = picked(await this.redis.hgetall(keys.payloads));
    let removed =
      waiting.length === 0
        ? 0
        : ((await this.redis.eval(
            REMOVE_SCRIPT,
            4,
            keys.waiting,
            keys.payloads,
            keys.counts,
            keys.delayed,
            ...waiting,
          )) as number);
    const holders: string[] = [];
    for (const holder of await this.redis.zrange(keys.holders, 0, -1)) {
      const taken = picked(await this.redis.hgetall(keys.inFlightPrefix + holder));
      if (taken.length === 0) continue;
      removed += await this.redis.hdel(keys.inFlightPrefix + holder, ...taken);
      holders.push(holder);
    }
    return { removed, holders };
  }

  /** Whether `holder`'s flush still holds items in flight (it has not settled nor been put back). */
  async inFlight(destinationId: string, holder: string): Promise<boolean> {
    return (await this.redis.zscore(this.keys(destinationId).holders, holder)) !== null;
  }

  private open(id: string, payload: string): DeliveryItem {
    const separator = payload.indexOf(':');
    const opened = this.keyRing.openPacked(
      payload.slice(0, separator),
      Buffer.from(payload.slice(separator + 1), 'base64'),
      id,
    );
    return JSON.parse(opened.toString('utf8')) as DeliveryItem;
  }

  /** Items waiting (ready or not) and flushes in flight: for metrics and tests. */
  async size(destinationId: string): Promise<{ waiting: number; takesInFlight: number }> {
    const keys = this.keys(destinationId);
    const [waiting, inFlight] = await Promise.all([
      this.redis.zcard(keys.waiting),
      this.redis.zcard(keys.holders),
    ]);
    return { waiting, takesInFlight: inFlight };
  }

  /** Forgets a destination's window entirely (the destination was deleted). */
  async drop(destinationId: string): Promise<void> {
    const keys = this.keys(destinationId);
    const holders = await this.redis.zrange(keys.holders, 0, -1);
    await this.redis.del(
      keys.waiting,
      keys.payloads,
      keys.counts,
      keys.timer,
      keys.sequence,
      keys.signalled,
      keys.delayed,
      keys.holders,
      ...holders.map((holder) => keys.inFlightPrefix + holder),
    );
  }
}
