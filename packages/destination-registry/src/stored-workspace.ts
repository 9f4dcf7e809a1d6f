import { AuditLog } from '@tessera/consent';
import { WorkspaceCatalog } from '@tessera/control-plane';
import { AllowedDestinationHosts } from '@tessera/destination-kit';
import {
  ConfigurationError,
  destinationHostAllowance,
  type TesseraRuntime,
  type WorkspaceDefinition,
} from '@tessera/runtime';
import type { CompiledRules, ConfiguredPlugin, PluginCatalog } from '@tessera/transform';
import { DESTINATION_PACKAGES, selectDestinationPackages } from './destination-registry';
import { pluginCatalog, resolveWorkspacePlugins } from './plugin-registry';
import { compileWorkspaceRules } from './workspace-rules';
import { deploymentDestinations, type WorkspaceDestination } from './workspace-destinations';

/** The workspace catalog of this build: its destination types, the deployment's selection, its plugins. */
export function workspaceCatalogOf(
  runtime: Pick<TesseraRuntime, 'store' | 'masterKeys' | 'settings'>,
): WorkspaceCatalog {
  return new WorkspaceCatalog({
    store: runtime.store,
    masterKeys: runtime.masterKeys,
    audit: new AuditLog(runtime.store),
    destinationTypes: DESTINATION_PACKAGES.map((entry) => entry.definition),
    selectedTypes: selectDestinationPackages(runtime.settings.destinations).map(
      (entry) => entry.definition.type,
    ),
    plugins: pluginCatalog(),
    allowedHosts: destinationHostAllowance(runtime.settings),
  });
}

/**
 * Makes the store the workspace's home: checks the declared workspace (file + demo) as start-up always did —
 * any problem stops start-up naming it, before anything is written — applies it to the store idempotently,
 * and returns the stored workspace, console changes included. Destinations of types this process does not
 * run (created for another deployment's workers) are left out, with a warning.
 */
export async function adoptStoredWorkspace(runtime: TesseraRuntime): Promise<WorkspaceDefinition> {
  resolveWorkspacePlugins(runtime.workspace.destinations);
  compileWorkspaceRules(runtime.workspace.destinations);
  deploymentDestinations(
    runtime.workspace,
    runtime.settings.destinations,
    destinationHostAllowance(runtime.settings),
  );
  const catalog = workspaceCatalogOf(runtime);
  const { changes } = await catalog.applyDeclared(runtime.workspace);
  if (changes.length > 0)
    runtime.logger.info({ changes }, `workspace: applied ${changes.length} declared changes`);
  return runnableWorkspace(await catalog.load(), runtime.settings.destinations, (skipped) =>
    runtime.logger.warn(
      { destinations: skipped },
      'workspace: destinations of types this process does not run are left out',
    ),
  );
}

/** The stored workspace without the destinations whose types this deployment does not run. */
export function runnableWorkspace(
  workspace: WorkspaceDefinition,
  selection: 'all' | readonly string[],
  onSkipped: (ids: string[]) => void = () => undefined,
): WorkspaceDefinition {
  const types = new Set(selectDestinationPackages(selection).map((entry) => entry.definition.type));
  const skipped = workspace.destinations.filter((destination) => !types.has(String(destination['type'])));
  if (skipped.length > 0) onSkipped(skipped.map((destination) => String(destination['id'])));
  return {
    ...workspace,
    destinations: workspace.destinations.filter((destination) => types.has(String(destination['type']))),
  };
}

/** A stored destination resolved as start-up resolves it: validated settings, compiled rules, resolved plugins. */
export interface ResolvedDestination extends WorkspaceDestination {
  rules?: CompiledRules;
  plugins: ConfiguredPlugin[];
}

/** What one destination at a time resolved to: those that did, and why each of the others did not. */
export interface ResolvedDestinations {
  resolved: ResolvedDestination[];
  unresolved: { id: string; reason: string }[];
}

/**
 * Resolves the workspace's runnable destinations one at a time, as start-up does (settings, rules, plugins),
 * for a running process that reloads the stored workspace: where start-up stops on the first problem, a
 * reload must keep going, so a destination that does not resolve is reported (the process keeps its previous
 * config) and the others apply.
 */
/**
 * One stored destination resolved as start-up resolves it (settings, rules, plugins); throws the start-up
 * ConfigurationError naming what does not resolve.
 */
export function resolveStoredDestination(
  declared: Record<string, unknown>,
  brands: WorkspaceDefinition['brands'],
  selection: 'all' | readonly string[],
  plugins: PluginCatalog = pluginCatalog(),
  allowedHosts: AllowedDestinationHosts = AllowedDestinationHosts.none,
): ResolvedDestination {
  const id = String(declared['id']);
  const [destination] = deploymentDestinations({ brands, destinations: [declared] }, selection, allowedHosts);
  if (destination === undefined)
    throw new ConfigurationError('TESSERA_WORKSPACE_FILE', `Destination "${id}" did not resolve`);
  const rules = compileWorkspaceRules([declared]).get(id);
  return {
    ...destination,
    ...(rules === undefined ? {} : { rules }),
    plugins: resolveWorkspacePlugins([declared], plugins).get(id) ?? [],
  };
}

export function resolveEachDestination(
  workspace: WorkspaceDefinition,
  selection: 'all' | readonly string[],
  plugins: PluginCatalog = pluginCatalog(),
  allowedHosts: AllowedDestinationHosts = AllowedDestinationHosts.none,
): ResolvedDestinations {
  const outcome: ResolvedDestinations = { resolved: [], unresolved: [] };
  for (const declared of runnableWorkspace(workspace, selection).destinations) {
    const id = String(declared['id']);
    try {
      outcome.resolved.push(
        resolveStoredDestination(declared, workspace.brands, selection, plugins, allowedHosts),
      );
    } catch (error) {
      outcome.unresolved.push({ id, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  return outcome;
}
