import type { CatalogEvent } from '@tessera/events';
import { validateOperations, validatePluginConfig } from './plugins/plugin-definition';
import type { TransformPlugin } from './plugins/plugin-definition';
import { compileRules, type CompiledRules, type TransformRules } from './rules';
import type {
  BrandContext,
  DestinationContext,
  DestinationOperation,
  TransformInput,
  UnifiedProfile,
} from './transform-contract';

/** One sample to preview: an event and the profile it lands on (brand, destination and time optional). */
export interface PreviewSample {
  event: CatalogEvent;
  profile: UnifiedProfile;
  brand?: BrandContext;
  destination?: DestinationContext;
  /** Evaluation time (ISO 8601); default the event's time, else 2026-01-01T00:00:00Z, so previews are stable. */
  now?: string;
}

export interface PreviewPlugin {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any plugin, whatever its config type
  plugin: TransformPlugin<any>;
  config?: Record<string, unknown>;
}

/** What a sample produced: plain JSON, in a stable order, so that a snapshot of it is meaningful. */
export interface PreviewResult {
  eventId: string;
  /** Rule operations first, then each plugin's in list order. */
  operations: DestinationOperation[];
  /** One line per failure, e.g. `rules mappings.tier (1:9): unknown field …` or `plugin "x": …`. */
  errors: string[];
}

export const PREVIEW_BRAND: BrandContext = { id: 'preview', name: 'Preview brand', defaultCountry: 'GB' };
export const PREVIEW_DESTINATION: DestinationContext = { id: 'preview', type: 'preview' };
const PREVIEW_NOW = '2026-01-01T00:00:00Z';

/**
 * Runs a rule set and plugins over sample events and profiles and returns the operations each produces: the
 * plugin author's harness and the console's mapping preview. In process and synchronous per sample (plugins
 * may be async); the pipeline runs plugins in the isolated pool instead. A rule set that does not compile
 * throws its RuleSetError (that is the preview's answer: the rules cannot be saved); a plugin config that
 * does not validate throws its PluginConfigError.
 */
export async function previewTransform(options: {
  rules?: TransformRules | CompiledRules;
  plugins?: PreviewPlugin[];
  samples: PreviewSample[];
}): Promise<PreviewResult[]> {
  const rules =
    options.rules === undefined
      ? undefined
      : 'evaluate' in options.rules
        ? options.rules
        : compileRules(options.rules);
  const plugins = (options.plugins ?? []).map(({ plugin, config }) => ({
    plugin,
    config: validatePluginConfig(plugin, config ?? {}),
  }));
  const results: PreviewResult[] = [];
  for (const sample of options.samples) {
    const input: TransformInput = {
      event: sample.event,
      profile: sample.profile,
      brand: sample.brand ?? PREVIEW_BRAND,
      destination: sample.destination ?? PREVIEW_DESTINATION,
      now: sample.now ?? sample.event.time ?? PREVIEW_NOW,
    };
    const operations: DestinationOperation[] = [];
    const errors: string[] = [];
    if (rules !== undefined) {
      const evaluated = rules.evaluate(input);
      operations.push(...evaluated.operations);
      for (const error of evaluated.errors) {
        errors.push(`rules ${error.path} (${error.line}:${error.column}): ${error.message}`);
      }
    }
    for (const { plugin, config } of plugins) {
      try {
        const output: unknown = await plugin.transform(input.event, input.profile, {
          config,
          brand: input.brand,
          destination: input.destination,
          now: new Date(input.now),
        });
        operations.push(...validateOperations(plugin.name, output));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        errors.push(message.startsWith('Plugin "') ? message : `plugin "${plugin.name}": ${message}`);
      }
    }
    // A structured clone drops undefined members and prototypes: what is shown is what would be sent.
    results.push({ eventId: sample.event.id, operations: structuredClone(operations), errors });
  }
  return results;
}
