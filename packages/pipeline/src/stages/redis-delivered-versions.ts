import type Redis from 'ioredis';
import type { DeliveredVersions } from './deliver-stage.service';

// Raises each field to the given version, never lowering it: two workers racing on one customer keep the max.
const RAISE_SCRIPT = `
for i = 1, #ARGV, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '-1')
  if tonumber(ARGV[i + 1]) > current then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1`;

/**
 * The profile version each destination last accepted per customer, in one Redis hash per destination
 * (a few dozen bytes per customer), shared by every worker.
 */
export class RedisDeliveredVersions implements DeliveredVersions {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(destinationId: string): string {
    return `${this.prefix}:delivered-versions:${destinationId}`;
  }

  async get(destinationId: string, customerIds: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    if (customerIds.length === 0) return found;
    const values = await this.redis.hmget(this.key(destinationId), ...customerIds);
    customerIds.forEach((id, index) => {
      const value = values[index];
      if (value !== null && value !== undefined) found.set(id, Number(value));
    });
    return found;
  }

  async raise(destinationId: string, versions: Map<string, number>): Promise<void> {
    if (versions.size === 0) return;
    const args = [...versions].flatMap(([id, version]) => [id, String(version)]);
    await this.redis.eval(RAISE_SCRIPT, 1, this.key(destinationId), ...args);
  }

  /** Forgets a destination's versions (its profiles were deleted at the ESP, or in tests). */
  async forget(destinationId: string, customerIds?: string[]): Promise<void> {
    if (customerIds === undefined) await this.redis.del(this.key(destinationId));
    else if (customerIds.length > 0) await this.redis.hdel(this.key(destinationId), ...customerIds);
  }
}
