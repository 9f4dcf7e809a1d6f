import {
  AllowedDestinationHosts,
  destinationHostIssues,
  type DestinationPackage,
  redactSettings,
  resolveDestinationSettings,
} from '@tessera/destination-kit';
import { ConfigurationError } from '@tessera/runtime';
import { DESTINATION_PACKAGES, selectDestinationPackages } from './destination-registry';

export type DestinationStateName = 'enabled' | 'paused' | 'disabled';

/** A brand's destination instance as the workspace declares it, its settings validated by its package. */
export interface WorkspaceDestination {
  id: string;
  brand: string;
  type: string;
  /** Validated, defaults applied, derived settings resolved (secrets in the clear: never log these). */
  settings: Record<string, unknown>;
  /** The state a first start gives it; an operator's later change in the store wins. */
  initialState: DestinationStateName;
  package: DestinationPackage;
}

const STATES: readonly DestinationStateName[] = ['enabled', 'paused', 'disabled'];
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Checks every workspace destination against this deployment: a known brand, an id fit for a queue name,
 * a type this deployment runs (TESSERA_DESTINATIONS), settings its package accepts, hosts its ESP has or the
 * deployment allows (`allowedHosts`: TESSERA_ALLOWED_DESTINATION_HOSTS). Any problem stops start-up with a
 * message naming the destination and the setting.
 */
export function resolveWorkspaceDestinations(
  destinations: readonly Record<string, unknown>[],
  context: {
    brands: readonly string[];
    packages: readonly DestinationPackage[];
    allTypes: readonly string[];
    allowedHosts?: AllowedDestinationHosts;
  },
): WorkspaceDestination[] {
  const fail = (message: string): never => {
    throw new ConfigurationError('TESSERA_WORKSPACE_FILE', message);
  };
  const seen = new Set<string>();
  return destinations.map((declared, index) => {
    const id = declared['id'];
    if (typeof id !== 'string' || !SLUG.test(id)) {
      return fail(`destinations[${index}].id must be a slug (a-z, 0-9, -), got ${JSON.stringify(id)}`);
    }
    if (seen.has(id)) fail(`Destination "${id}" is declared twice`);
    seen.add(id);
    const brand = declared['brand'];
    if (typeof brand !== 'string' || !context.brands.includes(brand)) {
      fail(`Destination "${id}": unknown brand ${JSON.stringify(brand)}`);
    }
    const type = declared['type'];
    const entry = context.packages.find((candidate) => candidate.definition.type === type);
    if (entry === undefined) {
      if (typeof type === 'string' && context.allTypes.includes(type)) {
        fail(
          `Destination "${id}" of brand "${String(brand)}" is a ${type} destination, which this deployment does not run ` +
            `(TESSERA_DESTINATIONS runs: ${context.packages.map((candidate) => candidate.definition.type).join(', ') || 'none'})`,
        );
      }
      fail(
        `Destination "${id}": unknown type ${JSON.stringify(type)}; this build has: ${context.allTypes.join(', ')}`,
      );
    }
    const state = declared['state'] ?? 'enabled';
    if (!STATES.includes(state as DestinationStateName)) {
      fail(`Destination "${id}": state must be one of ${STATES.join(', ')}, got ${JSON.stringify(state)}`);
    }
    const resolvedPackage = entry as DestinationPackage;
    const settings = resolveDestinationSettings(resolvedPackage.definition, declared['settings'] ?? {});
    const issues = settings.ok
      ? destinationHostIssues(
          resolvedPackage.definition,
          settings.settings,
          context.allowedHosts ?? AllowedDestinationHosts.none,
        )
      : settings.errors;
    if (issues.length > 0) {
      fail(
        `Destination "${id}": invalid settings: ${issues.map((error) => `${error.pointer} ${error.message}`).join('; ')}`,
      );
    }
    return {
      id,
      brand: brand as string,
      type: type as string,
      settings: (settings as { settings: Record<string, unknown> }).settings,
      initialState: state as DestinationStateName,
      package: resolvedPackage,
    };
  });
}

/** A destination's settings as they may be shown or logged: every secret as `***`. */
export function displayedSettings(destination: WorkspaceDestination): Record<string, unknown> {
  return redactSettings(destination.package.definition.settingsSchema, destination.settings);
}

/**
 * The workspace's destinations this deployment runs (TESSERA_DESTINATIONS), checked as above against the hosts
 * it allows (`destinationHostAllowance` of its settings).
 */
export function deploymentDestinations(
  workspace: { brands: readonly { id: string }[]; destinations: readonly Record<string, unknown>[] },
  selection: 'all' | readonly string[],
  allowedHosts: AllowedDestinationHosts = AllowedDestinationHosts.none,
): WorkspaceDestination[] {
  return resolveWorkspaceDestinations(workspace.destinations, {
    brands: workspace.brands.map((brand) => brand.id),
    packages: selectDestinationPackages(selection),
    allTypes: DESTINATION_PACKAGES.map((entry) => entry.definition.type),
    allowedHosts,
  });
}
