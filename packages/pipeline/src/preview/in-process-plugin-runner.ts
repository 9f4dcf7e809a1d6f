import {
  previewTransform,
  PluginRunError,
  type ConfiguredPlugin,
  type PluginBatchResult,
  type PluginPool,
  type TransformInput,
} from '@tessera/transform';

/**
 * Runs plugins on the calling thread through the transform package's own harness (`previewTransform`), with the
 * pool's contract: one result per input. For a process without a `PluginPool` (the console): one preview's
 * event is small work, but a plugin that hangs would hold this thread — pass the pool where there is one.
 */
export class InProcessPluginRunner implements Pick<PluginPool, 'run'> {
  async run(plugin: ConfiguredPlugin, inputs: TransformInput[]): Promise<PluginBatchResult> {
    const results = await previewTransform({
      plugins: [{ plugin: plugin.plugin, config: plugin.config }],
      samples: inputs.map((input) => ({ ...input })),
    });
    return results.map((result, index) => {
      const [error] = result.errors;
      if (error === undefined) return { ok: true, operations: result.operations };
      return {
        ok: false,
        error: new PluginRunError('threw', plugin.name, [inputs[index]?.event.id ?? ''], error),
      };
    });
  }
}
