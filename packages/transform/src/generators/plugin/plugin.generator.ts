import {
  formatFiles,
  generateFiles,
  getProjects,
  joinPathFragments,
  logger,
  names,
  type GeneratorCallback,
  type Tree,
} from '@nx/devkit';
import * as path from 'node:path';

/** Options of `nx g @tessera/transform:plugin` (see schema.json). */
export interface PluginGeneratorSchema {
  /** Kebab-case name of the plugin, e.g. `vip-points`: the package becomes `packages/plugin-vip-points`. */
  name: string;
}

/** Every form of the plugin's name the templates use, for `vip-points`. */
export interface PluginNames {
  /** `vip-points`: file names, the plugin's `name` (what workspace files reference) and its default segment. */
  fileName: string;
  /** `vipPoints`: the base of the exports (`vipPointsPlugin`, `vipPointsPluginModule`). */
  propertyName: string;
  /** `VipPoints`: types (`VipPointsConfig`). */
  className: string;
  /** `Vip Points`: the human-readable name. */
  displayName: string;
  /** `vipPointsPlugin`: the plugin's export, what a worker thread loads (`require(module)[exportName]`). */
  exportName: string;
  /** `plugin-vip-points`: the Nx project. */
  projectName: string;
  /** `@tessera/plugin-vip-points`: the npm workspace package, the module a worker thread requires. */
  packageName: string;
  /** `packages/plugin-vip-points`. */
  projectRoot: string;
}

/** Lower-case letters and digits in dash-separated words, starting with a letter (what `definePlugin` accepts). */
const NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Where the registry of the build lists its plugin modules (named in the README and the next steps). */
export const PLUGIN_REGISTRY_FILE = 'packages/destination-registry/src/plugin-registry.ts';

export class PluginGeneratorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PluginGeneratorError';
  }
}

/** Derives every name form from the kebab-case plugin name; throws a PluginGeneratorError when it is invalid. */
export function pluginNames(rawName: string): PluginNames {
  const name = typeof rawName === 'string' ? rawName.trim() : '';
  if (!NAME_PATTERN.test(name)) {
    throw new PluginGeneratorError(
      `Invalid plugin name ${JSON.stringify(rawName)}: use kebab-case — lower-case letters, digits and ` +
        `single dashes, starting with a letter (e.g. "vip-points" or "birthday-bonus").`,
    );
  }
  if (name === 'plugin' || name.startsWith('plugin-')) {
    throw new PluginGeneratorError(
      `Invalid plugin name "${name}": give the plugin's name without the "plugin-" prefix ` +
        `(e.g. "${name.slice('plugin-'.length) || 'vip-points'}"); the package is named plugin-<name>.`,
    );
  }
  const forms = names(name);
  const projectName = `plugin-${forms.fileName}`;
  return {
    fileName: forms.fileName,
    propertyName: forms.propertyName,
    className: forms.className,
    displayName: forms.fileName
      .split('-')
      .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
      .join(' '),
    exportName: `${forms.propertyName}Plugin`,
    projectName,
    packageName: `@tessera/${projectName}`,
    projectRoot: joinPathFragments('packages', projectName),
  };
}

function assertFree(tree: Tree, plugin: PluginNames): void {
  if (tree.exists(plugin.projectRoot)) {
    throw new PluginGeneratorError(
      `Cannot create ${plugin.projectRoot}: it already exists. Pick another name, or delete the folder first.`,
    );
  }
  const existing = getProjects(tree).get(plugin.projectName);
  if (existing !== undefined) {
    throw new PluginGeneratorError(
      `Cannot create project "${plugin.projectName}": a project of that name already exists at ${existing.root}.`,
    );
  }
}

/** Scaffolds `packages/plugin-<name>` from the templates in `./files`. */
export async function pluginGenerator(
  tree: Tree,
  options: PluginGeneratorSchema,
): Promise<GeneratorCallback> {
  const plugin = pluginNames(options.name);
  assertFree(tree, plugin);
  generateFiles(tree, path.join(__dirname, 'files'), plugin.projectRoot, {
    ...plugin,
    registryFile: PLUGIN_REGISTRY_FILE,
    tmpl: '',
  });
  await formatFiles(tree);
  return () => {
    logger.info(`Created ${plugin.packageName} in ${plugin.projectRoot}. Next:`);
    logger.info(`  1. npm install                 (links the new workspace package into node_modules)`);
    logger.info(`  2. npx nx test ${plugin.projectName}   (the generated tests pass as they are)`);
    logger.info(
      `  3. Write the real transform and config schema in ${plugin.projectRoot}/src/${plugin.fileName}.plugin.ts — see ${plugin.projectRoot}/README.md`,
    );
    logger.info(
      `  4. Register it: add ${plugin.exportName}Module to the plugin list in ${PLUGIN_REGISTRY_FILE}, then name ` +
        `"${plugin.fileName}" in a destination's "plugins" in the workspace file`,
    );
  };
}

export default pluginGenerator;
