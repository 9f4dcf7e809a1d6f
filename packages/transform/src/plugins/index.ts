export type { PluginContext, TransformPlugin } from './plugin-definition';
export { definePlugin, validateOperations, validatePluginConfig } from './plugin-definition';
export type { ConfiguredPlugin, PluginModule, PluginReference } from './plugin-catalog';
export { PluginCatalog } from './plugin-catalog';
export type { PluginBatchResult, PluginInputResult, PluginPoolOptions } from './plugin-pool';
export { PluginPool } from './plugin-pool';
export type { PluginIssue, PluginRunErrorKind } from './plugin-errors';
export { PluginConfigError, PluginDefinitionError, PluginOutputError, PluginRunError } from './plugin-errors';
