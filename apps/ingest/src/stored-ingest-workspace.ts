import type { WorkspaceCatalog } from '@tessera/control-plane';
import {
  type AllowedDestinationHosts,
  DestinationRunner,
  type ConnectionGate,
  type RateGate,
  type TokenCache,
} from '@tessera/destination-kit';
import { resolveEachDestination } from '@tessera/destination-registry';
import type { RegisteredSource } from '@tessera/intake';
import type { Logger, WorkspaceDefinition } from '@tessera/runtime';

export interface StoredIngestWorkspaceOptions {
  catalog: WorkspaceCatalog;
  /** The workspace the process adopted at start: served until the first reload. */
  initial: WorkspaceDefinition;
  /** TESSERA_DESTINATIONS: destinations of other types are not this process's. */
  selection: 'all' | readonly string[];
  /** Hosts the deployment allows destinations besides their ESPs' own (a handshake's call back goes there). */
  allowedHosts: AllowedDestinationHosts;
  /** A source without a rate limit of its own gets this one (TESSERA_SOURCE_RATE_LIMIT). */
  defaultRateLimit: number;
  tokenCache: TokenCache;
  /** The rate budgets and connection limits every worker shares: a handshake's call back counts too. */
  rateGate: RateGate;
  connectionGate: ConnectionGate;
  logger: Pick<Logger, 'info' | 'warn'>;
}

/**
 * What the intake process reads from the stored workspace: the sources (for `ReloadingSourceDirectory`, which
 * calls `fingerprint` and `loadSources`) and a runner per destination for the webhook route, rebuilt by the
 * same reload so that a new destination's webhooks verify as soon as its sources would.
 */
export class StoredIngestWorkspace {
  private runners = new Map<string, DestinationRunner>();
  /** When each secret of the last load stops verifying (a rotation's grace): the fingerprint misses those. */
  private expiries: number[] = [];

  constructor(private readonly options: StoredIngestWorkspaceOptions) {
    this.runners = this.runnersOf(options.initial, new Map());
  }

  /** The sources of a workspace as the intake registers them. */
  sourcesOf(workspace: WorkspaceDefinition): RegisteredSource[] {
    return workspace.sources.map((source) => ({
      id: source.id,
      brand: source.brand,
      secrets: source.secrets,
      typeMap: source.typeMap ?? {},
      rateLimit: source.rateLimit ?? this.options.defaultRateLimit,
    }));
  }

  /**
   * The catalog's fingerprint, and the last secret expiry that has passed: a rotated secret's grace ends
   * without any write, and the directory must reload then too.
   */
  async fingerprint(): Promise<string> {
    const now = Date.now();
    const passed = this.expiries.filter((at) => at <= now);
    return `${await this.options.catalog.fingerprint()}/${passed.length === 0 ? '' : Math.max(...passed)}`;
  }

  /** Every stored source with its live secrets; the webhook route's runners are rebuilt on the way. */
  async loadSources(): Promise<RegisteredSource[]> {
    const [workspace, sources] = await Promise.all([
      this.options.catalog.load(),
      this.options.catalog.sources(),
    ]);
    this.expiries = sources.flatMap((source) =>
      source.secrets.flatMap((secret) =>
        secret.revokedAt === null && secret.expiresAt !== null ? [secret.expiresAt.getTime()] : [],
      ),
    );
    this.runners = this.runnersOf(workspace, this.runners);
    return this.sourcesOf(workspace);
  }

  /** The runner that verifies a destination's webhooks and answers its handshakes. */
  runnerOf(destinationId: string): DestinationRunner | undefined {
    return this.runners.get(destinationId);
  }

  private runnersOf(
    workspace: WorkspaceDefinition,
    previous: ReadonlyMap<string, DestinationRunner>,
  ): Map<string, DestinationRunner> {
    const { resolved, unresolved } = resolveEachDestination(
      workspace,
      this.options.selection,
      undefined,
      this.options.allowedHosts,
    );
    const runners = new Map(
      resolved.map((destination) => [
        destination.id,
        new DestinationRunner(destination.package.definition, {
          settings: destination.settings,
          tokenCache: this.options.tokenCache,
          rateGate: this.options.rateGate,
          connectionGate: this.options.connectionGate,
          instanceKey: destination.id,
          allowedHosts: this.options.allowedHosts,
        }),
      ]),
    );
    for (const { id, reason } of unresolved) {
      const kept = previous.get(id);
      if (kept !== undefined) runners.set(id, kept);
      this.options.logger.warn(
        { destinationId: id, reason },
        `destination ${id}: its stored config does not resolve; webhooks keep the config they had`,
      );
    }
    return runners;
  }
}
