import type Redis from 'ioredis';

/** Where a profile update stands in its customer's order: its profile version, then when its event arrived. */
export interface ProfileStamp {
  version: number;
  /** Milliseconds since the epoch at which the update's event was accepted (orders updates of one version). */
  receivedAtMs: number;
}

/** A customer's claim: `send` (it is this job's to send), `stale` (something newer was claimed), `busy`. */
export interface ProfileClaim {
  verdict: 'send' | 'stale' | 'busy';
  /** The newest stamp claimed before this call, if any (what a stale update lost to). */
  previous?: ProfileStamp;
}

/**
 * Keeps each destination's profile updates in order per customer across jobs and worker processes: an update
 * is sent only by the job that claimed the customer with a stamp no older than every one claimed before, and
 * while one job has a customer's update in flight, another job's update of that customer waits (`busy`), so
 * requests for one customer never race each other to the ESP.
 */
export interface ProfileVersionGuard {
  /** Claims each customer's newest update for `holder` (a job id: a re-run of the same job holds its own claims). */
  claim(
    destinationId: string,
    holder: string,
    stamps: ReadonlyMap<string, ProfileStamp>,
  ): Promise<Map<string, ProfileClaim>>;
  /** Lets go of the customers `holder` claimed (their updates are settled: sent, rejected or put back). */
  release(destinationId: string, holder: string, customerIds: readonly string[]): Promise<void>;
}

/** How long a claim stays in flight at most: a job killed mid-request frees its customers after this. */
export const IN_FLIGHT_TTL_MS = 120_000;

// Stamps are compared as strings: fixed-width version, then arrival time. A bare number is the version alone,
// as written before stamps carried the arrival time.
const CLAIM_SCRIPT = `
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local holder = ARGV[1]
local ttl = tonumber(ARGV[2])
local answers = {}
for i = 3, #ARGV, 2 do
  local customer = ARGV[i]
  local stamp = ARGV[i + 1]
  local previous = redis.call('HGET', KEYS[1], customer)
  if previous and not string.find(previous, ':') then
    previous = string.format('%015d:%015d', tonumber(previous), 0)
  end
  local verdict = 'send'
  if previous and stamp < previous then
    verdict = 'stale'
  else
    local owner = redis.call('HGET', KEYS[2], customer)
    if owner then
      local separator = string.find(owner, '|', 1, true)
      local ownerHolder = string.sub(owner, 1, separator - 1)
      local expiresAt = tonumber(string.sub(owner, separator + 1))
      if ownerHolder ~= holder and expiresAt > nowMs then verdict = 'busy' end
    end
    if verdict == 'send' then
      redis.call('HSET', KEYS[1], customer, stamp)
      redis.call('HSET', KEYS[2], customer, holder .. '|' .. (nowMs + ttl))
    end
  end
  table.insert(answers, verdict)
  table.insert(answers, previous or '')
end
return answers`;

const RELEASE_SCRIPT = `
local released = 0
for i = 2, #ARGV do
  local owner = redis.call('HGET', KEYS[1], ARGV[i])
  if owner and string.sub(owner, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then
    redis.call('HDEL', KEYS[1], ARGV[i])
    released = released + 1
  end
end
return released`;

const encodeStamp = (stamp: ProfileStamp) =>
  `${String(stamp.version).padStart(15, '0')}:${String(stamp.receivedAtMs).padStart(15, '0')}`;

function decodeStamp(text: string): ProfileStamp | undefined {
  if (text === '') return undefined;
  const [version, receivedAtMs] = text.split(':');
  return { version: Number(version), receivedAtMs: Number(receivedAtMs) };
}

/**
 * The guard in Redis, shared by every worker: per destination, a hash of each customer's newest claimed stamp
 * (a few dozen bytes per customer) and a hash of the customers in flight with their holder and expiry.
 */
export class RedisProfileVersionGuard implements ProfileVersionGuard {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly inFlightTtlMs = IN_FLIGHT_TTL_MS,
  ) {}

  private keys(destinationId: string): [string, string] {
    return [
      `${this.prefix}:delivered-versions:${destinationId}`,
      `${this.prefix}:delivering:${destinationId}`,
    ];
  }

  async claim(
    destinationId: string,
    holder: string,
    stamps: ReadonlyMap<string, ProfileStamp>,
  ): Promise<Map<string, ProfileClaim>> {
    const claims = new Map<string, ProfileClaim>();
    if (stamps.size === 0) return claims;
    if (holder.includes('|')) throw new RangeError(`A claim holder cannot contain "|": ${holder}`);
    const customers = [...stamps.keys()];
    const args = [...stamps].flatMap(([customerId, stamp]) => [customerId, encodeStamp(stamp)]);
    const answers = (await this.redis.eval(
      CLAIM_SCRIPT,
      2,
      ...this.keys(destinationId),
      holder,
      String(this.inFlightTtlMs),
      ...args,
    )) as string[];
    customers.forEach((customerId, index) => {
      const previous = decodeStamp(answers[index * 2 + 1] ?? '');
      claims.set(customerId, {
        verdict: answers[index * 2] as ProfileClaim['verdict'],
        ...(previous === undefined ? {} : { previous }),
      });
    });
    return claims;
  }

  async release(destinationId: string, holder: string, customerIds: readonly string[]): Promise<void> {
    if (customerIds.length === 0) return;
    await this.redis.eval(RELEASE_SCRIPT, 1, this.keys(destinationId)[1], holder, ...customerIds);
  }

  /** The newest claimed stamp per customer (tests, the console). */
  async claimed(destinationId: string, customerIds: readonly string[]): Promise<Map<string, ProfileStamp>> {
    const found = new Map<string, ProfileStamp>();
    if (customerIds.length === 0) return found;
    const values = await this.redis.hmget(this.keys(destinationId)[0], ...customerIds);
    customerIds.forEach((id, index) => {
      const value = values[index];
      if (value === null || value === undefined) return;
      found.set(
        id,
        value.includes(':')
          ? (decodeStamp(value) as ProfileStamp)
          : { version: Number(value), receivedAtMs: 0 },
      );
    });
    return found;
  }

  /** Forgets a destination's stamps and claims (its profiles were deleted at the ESP, or in tests). */
  async forget(destinationId: string, customerIds?: readonly string[]): Promise<void> {
    const keys = this.keys(destinationId);
    if (customerIds === undefined) await this.redis.del(...keys);
    else if (customerIds.length > 0) {
      await this.redis.hdel(keys[0], ...customerIds);
      await this.redis.hdel(keys[1], ...customerIds);
    }
  }
}
