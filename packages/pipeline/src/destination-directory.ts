import {
  withoutGrantPolicyOf,
  type DestinationDefinition,
  type OperationName,
} from '@tessera/destination-kit';
import type { CompiledRules, ConfiguredPlugin } from '@tessera/transform';
import type { RoutingDestination } from './stages/route-stage.service';
import type { DestinationState, DestinationStateBook } from './store/destination-state-book.repository';

/** A brand destination this deployment runs, with what its stages need. */
export interface PipelineDestination {
  id: string;
  brand: string;
  type: string;
  // The settings type is the package's own; the directory only hands them to the runner it builds.
  definition: DestinationDefinition<Record<string, unknown>>;
  /** Validated settings (secrets in the clear: never log them). */
  settings: Record<string, unknown>;
  initialState: DestinationState;
  rules?: CompiledRules;
  plugins: readonly ConfiguredPlugin[];
}

/**
 * The deployment's destinations and their current state. States live in the store (an operator's change, the
 * auth breaker's pause); `refresh` reloads them when the store's fingerprint moved, and reports which
 * destinations changed, so that a toggle applies everywhere within the refresh interval without a restart.
 * The destinations themselves change when the worker reloads the workspace (`adopt`, `remove`).
 */
export class DestinationDirectory {
  private readonly byId = new Map<string, PipelineDestination>();
  private readonly states = new Map<string, DestinationState>();
  private readonly supports = new Map<string, ReadonlySet<OperationName>>();
  private held = new Set<string>();
  private fingerprint: string | undefined;

  constructor(
    destinations: readonly PipelineDestination[],
    private readonly book: DestinationStateBook,
  ) {
    for (const destination of destinations) this.put(destination);
  }

  /**
   * Takes a destination's new config (the workspace reloaded): the route stage sees its rules, plugins and
   * brand from the next batch on. A destination not seen before gets its state row (kept if one exists) and
   * the states are re-read at the next refresh.
   */
  async adopt(destinations: readonly PipelineDestination[]): Promise<void> {
    const fresh = destinations.filter((destination) => !this.byId.has(destination.id));
    if (fresh.length > 0) {
      await this.book.ensure(
        fresh.map((destination) => ({
          id: destination.id,
          brand: destination.brand,
          type: destination.type,
          state: destination.initialState,
        })),
      );
      // Their rows may predate this fingerprint (created with the destination, before it was routed here).
      this.fingerprint = undefined;
    }
    for (const destination of destinations) this.put(destination);
  }

  /** Stops routing to a destination the workspace no longer has. */
  remove(id: string): void {
    this.byId.delete(id);
    this.states.delete(id);
    this.supports.delete(id);
  }

  private put(destination: PipelineDestination): void {
    this.byId.set(destination.id, destination);
    if (!this.states.has(destination.id)) this.states.set(destination.id, destination.initialState);
    this.supports.set(
      destination.id,
      new Set(Object.keys(destination.definition.operations) as OperationName[]),
    );
  }

  /** Records the workspace's destinations (states an operator changed are kept) and loads the states. */
  async start(): Promise<void> {
    await this.book.ensure(
      [...this.byId.values()].map((destination) => ({
        id: destination.id,
        brand: destination.brand,
        type: destination.type,
        state: destination.initialState,
      })),
    );
    await this.refresh();
  }

  /** Reloads the states if anything changed; returns the destinations whose state changed, with the new one. */
  async refresh(): Promise<Map<string, DestinationState>> {
    const changed = new Map<string, DestinationState>();
    const fingerprint = await this.book.fingerprint();
    if (fingerprint === this.fingerprint) return changed;
    for (const row of await this.book.all()) {
      if (!this.byId.has(row.destinationId)) continue;
      if (this.states.get(row.destinationId) !== row.state) changed.set(row.destinationId, row.state);
      this.states.set(row.destinationId, row.state);
    }
    const holds = await this.book.sourceHolds();
    this.held = new Set([...holds].filter(([, hold]) => hold.held).map(([sourceId]) => sourceId));
    this.fingerprint = fingerprint;
    return changed;
  }

  /** True while an operator holds this source (mass remediation): its events are accepted and wait. */
  isHeld(sourceId: string): boolean {
    return this.held.has(sourceId);
  }

  all(): PipelineDestination[] {
    return [...this.byId.values()];
  }

  get(id: string): PipelineDestination | undefined {
    return this.byId.get(id);
  }

  stateOf(id: string): DestinationState | undefined {
    return this.states.get(id);
  }

  /** The brand's destinations with their current state, as the route stage sees them. */
  destinationsOf(brand: string): RoutingDestination[] {
    return this.all()
      .filter((destination) => destination.brand === brand)
      .map((destination) => ({
        id: destination.id,
        type: destination.type,
        state: this.states.get(destination.id) ?? destination.initialState,
        ...(destination.rules === undefined ? {} : { rules: destination.rules }),
        plugins: destination.plugins,
        supports: this.supports.get(destination.id) ?? new Set(),
        withoutGrant: withoutGrantPolicyOf(destination.settings),
      }));
  }
}
