import {
  type ConfiguredPlugin,
  type PluginBatchResult,
  PluginPool,
  type TransformInput,
} from '@tessera/transform';

/**
 * The plugin pool, started when a destination first needs it: at start-up if one uses a plugin (`ready`),
 * else on the first batch a reloaded workspace's plugin user sends (worker threads cost memory: a workspace
 * without plugins never starts them). A start that failed is tried again on the next batch.
 */
export class OnDemandPluginPool {
  private pool: Promise<PluginPool> | undefined;
  private closed = false;

  /** Starts the pool now (a start-up whose destinations use plugins fails early if it cannot). */
  async ready(): Promise<void> {
    await this.started();
  }

  run(plugin: ConfiguredPlugin, inputs: TransformInput[]): Promise<PluginBatchResult> {
    return this.started().then((pool) => pool.run(plugin, inputs));
  }

  async close(): Promise<void> {
    this.closed = true;
    const pool = await this.pool?.catch(() => undefined);
    await pool?.close();
  }

  private started(): Promise<PluginPool> {
    if (this.closed) return Promise.reject(new Error('PluginPool is closed'));
    this.pool ??= PluginPool.start().catch((error: unknown) => {
      this.pool = undefined;
      throw error;
    });
    return this.pool;
  }
}
