import { AuditLog } from '@tessera/consent';
import { WorkspaceCatalog } from '@tessera/control-plane';
import type { TesseraRuntime, WorkspaceDefinition } from '@tessera/runtime';
import { DESTINATION_PACKAGES, selectDestinationPackages } from './destination-registry';
import { pluginCatalog, resolveWorkspacePlugins } from './plugin-registry';
import { compileWorkspaceRules } from './workspace-rules';
import { deploymentDestinations } from './workspace-destinations';

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
  deploymentDestinations(runtime.workspace, runtime.settings.destinations);
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
