export { consentPropagationPlugin, type ConsentPropagationConfig } from './consent-propagation.plugin';
export { mergeCleanupPlugin, type MergeCleanupConfig } from './merge-cleanup.plugin';
export { pointsWinbackPlugin, type PointsWinbackConfig } from './points-winback.plugin';
export { profileSyncPlugin, SYNCABLE_FIELDS, type ProfileSyncConfig } from './profile-sync.plugin';
export { tierChangePlugin, type TierChangeConfig } from './tier-change.plugin';

import type { PluginModule, TransformPlugin } from '@tessera/transform';
import { consentPropagationPlugin } from './consent-propagation.plugin';
import { mergeCleanupPlugin } from './merge-cleanup.plugin';
import { pointsWinbackPlugin } from './points-winback.plugin';
import { profileSyncPlugin } from './profile-sync.plugin';
import { tierChangePlugin } from './tier-change.plugin';

const builtIn = (plugin: TransformPlugin<never>, exportName: string): PluginModule => ({
  plugin: plugin as unknown as TransformPlugin,
  module: '@tessera/transform-plugins',
  exportName,
});

/** The built-in plugins, with where a worker thread loads each (`require(module)[exportName]`). */
export const BUILTIN_PLUGIN_MODULES: PluginModule[] = [
  builtIn(profileSyncPlugin, 'profileSyncPlugin'),
  builtIn(tierChangePlugin, 'tierChangePlugin'),
  builtIn(pointsWinbackPlugin, 'pointsWinbackPlugin'),
  builtIn(mergeCleanupPlugin, 'mergeCleanupPlugin'),
  builtIn(consentPropagationPlugin, 'consentPropagationPlugin'),
];
