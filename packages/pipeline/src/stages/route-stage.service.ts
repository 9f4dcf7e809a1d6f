import { createHash } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  CONSENT_VERDICTS,
  type ConsentGate,
  type ConsentRequest,
  type ConsentState,
  type ConsentVerdict,
} from '@tessera/consent';
import { DEFAULT_WITHOUT_GRANT, type OperationName, type WithoutGrantPolicy } from '@tessera/destination-kit';
import type { CustomerView, IdentityGraph } from '@tessera/identity-graph';
import type { DeliveryItem, ResolvedEvent } from '@tessera/queues';
import type {
  BrandContext,
  CompiledRules,
  ConfiguredPlugin,
  DestinationOperation,
  PluginPool,
  TransformInput,
  UnifiedProfile,
} from '@tessera/transform';
import { eventKeyString } from './event-identity';
import { applyGrantPolicy, type GrantPolicyReport } from './grant-policy';
import { profileMergeOf } from './profile-merge';

/** A brand destination as the route stage sees it. */
export interface RoutingDestination {
  id: string;
  type: string;
  state: 'enabled' | 'paused' | 'disabled';
  rules?: CompiledRules;
  plugins: readonly ConfiguredPlugin[];
  /** The operations its definition declares: built-in operations (`mergeProfiles`) go only where declared. */
  supports?: ReadonlySet<OperationName>;
  /** What a member without an email marketing grant is sent as (default `minimal`): see applyGrantPolicy. */
  withoutGrant?: WithoutGrantPolicy;
}

export interface RouteOutcome {
  events: number;
  /** Items handed to deliver queues, by destination id. */
  items: Map<string, number>;
  /** Operations the consent gate refused, by destination id. */
  refused: Map<string, number>;
  /** Events for disabled destinations: dropped, counted, by destination id. */
  dropped: Map<string, number>;
  /** Transformation errors (rules or plugins), each naming the destination and event. */
  errors: string[];
}

export interface RouteStageOptions {
  graph: Pick<IdentityGraph, 'customerViews'>;
  /** With `decideManyWithStates`, subscriptions at the ESP carry the consent's time. */
  gate: Pick<ConsentGate, 'decideMany'> & Partial<Pick<ConsentGate, 'decideManyWithStates'>>;
  /** The brand's destinations this deployment runs, with their current state. */
  destinationsOf(brand: string): readonly RoutingDestination[];
  brandOf(brand: string): BrandContext;
  pool?: Pick<PluginPool, 'run'>;
  /** Hands items to a destination's deliver queue; idempotent for the same items (deterministic job ids). */
  deliver(destinationId: string, items: DeliveryItem[]): Promise<void>;
  /** Told of each operation's consent decision, allowed or not: the mapping preview lists them all. */
  onDecision?(destinationId: string, decision: RouteDecision): void;
  /** Told, per event and destination, what the without-grant policy sent and left out (the preview shows it). */
  onPolicy?(destinationId: string, report: GrantPolicyReport): void;
  now?: () => Date;
}

/** One operation as the consent gate judged it for one destination. */
export interface RouteDecision {
  operation: DestinationOperation;
  customerId: string;
  verdict: ConsentVerdict;
  allowed: boolean;
}

/** Paused destinations still receive (their queue is paused: events wait, nothing is lost); disabled ones drop. */
const ROUTED_STATES = new Set(['enabled', 'paused']);

/**
 * Rules evaluate synchronously, each event within its budget (about 10 ms at most); a batch holds up to
 * 1,000 events, so the stage lets the event loop run (health checks, queue lock renewals) every this often.
 */
const RULES_SLICE_MS = 20;

/**
 * The route stage, for one batch of resolved events: each event's profile (one read for the batch), the
 * brand's destinations and their state, the consent gate per contact point (one decision batch), then the
 * destination's rules and plugins — whose operations pass the gate's verdict before they reach the
 * destination's deliver queue.
 */
export class RouteStage {
  private readonly now: () => Date;

  constructor(private readonly options: RouteStageOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async handle(events: ResolvedEvent[]): Promise<RouteOutcome> {
    const outcome: RouteOutcome = {
      events: events.length,
      items: new Map(),
      refused: new Map(),
      dropped: new Map(),
      errors: [],
    };
    const views = await this.options.graph.customerViews(events.map((event) => event.customerId));
    const { verdicts, states } = await this.decideConsent(events, views);
    const now = this.now().toISOString();

    // Inputs per destination, so each destination's plugins run once over the batch.
    const perDestination = new Map<
      string,
      { destination: RoutingDestination; inputs: TransformInput[]; origins: ResolvedEvent[] }
    >();
    for (const event of events) {
      const view = views.get(event.customerId);
      if (view === undefined) continue; // merged away or erased since resolution: its survivor gets the update
      for (const destination of this.options.destinationsOf(event.brand)) {
        // An event made for one plugin concerns only the destinations that configure it.
        if (event.onlyPlugin !== undefined && !destination.plugins.some((p) => p.name === event.onlyPlugin))
          continue;
        if (!ROUTED_STATES.has(destination.state)) {
          increment(outcome.dropped, destination.id);
          continue;
        }
        const profile = unifiedProfile(view, verdicts, event.brand);
        let group = perDestination.get(destination.id);
        if (group === undefined)
          perDestination.set(destination.id, (group = { destination, inputs: [], origins: [] }));
        group.inputs.push({
          event: event.event,
          profile,
          brand: this.options.brandOf(event.brand),
          destination: { id: destination.id, type: destination.type },
          now,
        });
        group.origins.push(event);
      }
    }

    for (const { destination, inputs, origins } of perDestination.values()) {
      const operations = await this.transform(destination, inputs, origins, outcome.errors);
      const items: DeliveryItem[] = [];
      operations.forEach((produced, index) => {
        const origin = origins[index] as ResolvedEvent;
        const view = views.get(origin.customerId) as CustomerView;
        const merge = destination.supports?.has('mergeProfiles') ? profileMergeOf(origin) : undefined;
        if (merge !== undefined) produced.push({ operation: 'mergeProfiles', item: merge });
        const emailKey =
          view.email === undefined ? undefined : verdictKey(view.email.key, 'email', origin.brand);
        const policed = applyGrantPolicy({
          operations: produced,
          policy: destination.withoutGrant ?? DEFAULT_WITHOUT_GRANT,
          email:
            emailKey === undefined
              ? undefined
              : {
                  verdict: verdicts.get(emailKey) ?? CONSENT_VERDICTS.noRecord,
                  ...(states.has(emailKey) ? { state: states.get(emailKey) as ConsentState } : {}),
                },
          profile: {
            customerId: origin.customerId,
            ...(view.email === undefined ? {} : { email: view.email.value }),
          },
          event: origin.event,
          brand: origin.brand,
          ...(destination.supports === undefined ? {} : { supports: destination.supports }),
        });
        this.options.onPolicy?.(destination.id, policed.report);
        policed.operations.forEach((operation, position) => {
          const verdict = verdictFor(operation, view, verdicts, origin.brand);
          const allowed = verdict.allowedOperations.has(operation.operation);
          this.options.onDecision?.(destination.id, {
            operation,
            customerId: origin.customerId,
            verdict,
            allowed,
          });
          if (!allowed) {
            increment(outcome.refused, destination.id);
            return;
          }
          items.push({
            operation,
            itemKey: itemKeyOf(origin, destination.id, operation.operation, position),
            event: origin.key,
            customerId: origin.customerId,
            receivedAt: origin.receivedAt,
            attempts: 0,
            ...(origin.fullWrite === true ? { force: true } : {}),
          });
        });
      });
      if (items.length === 0) continue;
      await this.options.deliver(destination.id, items);
      outcome.items.set(destination.id, items.length);
    }
    return outcome;
  }

  /**
   * Rules, then each plugin, per input; a failing input loses only its own operations (reported). An event
   * made for one plugin is seen by that plugin only.
   */
  private async transform(
    destination: RoutingDestination,
    inputs: TransformInput[],
    origins: ResolvedEvent[],
    errors: string[],
  ): Promise<DestinationOperation[][]> {
    const produced: DestinationOperation[][] = inputs.map(() => []);
    const seenBy = (index: number, plugin?: string) => {
      const only = origins[index]?.onlyPlugin;
      return only === undefined || only === plugin;
    };
    if (destination.rules !== undefined) {
      let sliceStart = performance.now();
      for (const [index, input] of inputs.entries()) {
        if (!seenBy(index)) continue;
        if (performance.now() - sliceStart >= RULES_SLICE_MS) {
          await yieldToEventLoop();
          sliceStart = performance.now();
        }
        const result = destination.rules.evaluate(input);
        produced[index]?.push(...result.operations);
        for (const error of result.errors) {
          errors.push(
            `${destination.id} ${input.event.source}/${input.event.id}: rules ${error.path}: ${error.message}`,
          );
        }
      }
    }
    for (const plugin of destination.plugins) {
      if (this.options.pool === undefined) {
        errors.push(`${destination.id}: plugin ${plugin.name} skipped: no plugin pool`);
        continue;
      }
      const indexes = inputs.map((_, index) => index).filter((index) => seenBy(index, plugin.name));
      if (indexes.length === 0) continue;
      const results = await this.options.pool.run(
        plugin,
        indexes.map((index) => inputs[index] as TransformInput),
      );
      results.forEach((result, position) => {
        const index = indexes[position] as number;
        if (result.ok) produced[index]?.push(...result.operations);
        else {
          const input = inputs[index] as TransformInput;
          errors.push(
            `${destination.id} ${input.event.source}/${input.event.id}: plugin ${plugin.name}: ${result.error.message}`,
          );
        }
      });
    }
    return produced;
  }

  /** One gate decision per contact point, channel and brand in the batch. */
  private async decideConsent(
    events: ResolvedEvent[],
    views: Map<string, CustomerView>,
  ): Promise<{ verdicts: Map<string, ConsentVerdict>; states: Map<string, ConsentState> }> {
    const requests = new Map<string, ConsentRequest>();
    for (const event of events) {
      const view = views.get(event.customerId);
      if (view === undefined) continue;
      for (const [channel, contact] of [
        ['email', view.email],
        ['sms', view.phone],
      ] as const) {
        if (contact === undefined) continue;
        requests.set(verdictKey(contact.key, channel, event.brand), {
          subjectKey: contact.key,
          scope: { brand: event.brand, channel, purpose: 'marketing' },
        });
      }
    }
    const keys = [...requests.keys()];
    const gate = this.options.gate;
    const verdicts = new Map<string, ConsentVerdict>();
    const states = new Map<string, ConsentState>();
    if (gate.decideManyWithStates !== undefined) {
      const decided = await gate.decideManyWithStates([...requests.values()]);
      keys.forEach((key, index) => {
        const answer = decided[index];
        if (answer === undefined) return;
        verdicts.set(key, answer.verdict);
        if (answer.state !== undefined) states.set(key, answer.state);
      });
    } else {
      const decided = await gate.decideMany([...requests.values()]);
      keys.forEach((key, index) => verdicts.set(key, decided[index] as ConsentVerdict));
    }
    return { verdicts, states };
  }
}

const verdictKey = (subjectKey: string, channel: string, brand: string) =>
  `${brand}\u0000${channel}\u0000${subjectKey}`;

/** The verdict an operation answers to: its channel's contact point (sms subscriptions: the phone). */
function verdictFor(
  operation: DestinationOperation,
  view: CustomerView,
  verdicts: Map<string, ConsentVerdict>,
  brand: string,
): ConsentVerdict {
  const sms =
    (operation.operation === 'subscribe' || operation.operation === 'unsubscribe') &&
    operation.item.channel === 'sms';
  const contact = sms ? view.phone : view.email;
  if (contact === undefined) return CONSENT_VERDICTS.noRecord;
  return verdicts.get(verdictKey(contact.key, sms ? 'sms' : 'email', brand)) ?? CONSENT_VERDICTS.noRecord;
}

function consentOf(verdict: ConsentVerdict | undefined): 'granted' | 'withdrawn' | undefined {
  if (verdict === undefined || verdict === CONSENT_VERDICTS.noRecord) return undefined;
  return verdict.subscribed ? 'granted' : 'withdrawn';
}

/** The single customer view as transformations see it, with this brand's marketing consent. */
export function unifiedProfile(
  view: CustomerView,
  verdicts: Map<string, ConsentVerdict>,
  brand: string,
): UnifiedProfile {
  const email =
    view.email === undefined
      ? undefined
      : consentOf(verdicts.get(verdictKey(view.email.key, 'email', brand)));
  const sms =
    view.phone === undefined ? undefined : consentOf(verdicts.get(verdictKey(view.phone.key, 'sms', brand)));
  const pointsUpdatedAt = view.traitTimes['points_balance'];
  return {
    ...(view.traits as Omit<UnifiedProfile, 'customer_id' | 'version'>),
    customer_id: view.customerId,
    version: view.version,
    ...(pointsUpdatedAt === undefined ? {} : { points_updated_at: pointsUpdatedAt }),
    ...(view.email === undefined ? {} : { email: view.email.value }),
    ...(view.phone === undefined ? {} : { phone: view.phone.value }),
    marketing_consent: {
      ...(email === undefined ? {} : { email }),
      ...(sms === undefined ? {} : { sms }),
    },
  };
}

/** Deterministic: the same event routed twice yields the same keys (deliveries and replays stay idempotent). */
function itemKeyOf(event: ResolvedEvent, destinationId: string, operation: string, position: number): string {
  return createHash('sha256')
    .update(`${eventKeyString(event.key)}\u0000${destinationId}\u0000${operation}\u0000${position}`)
    .digest('base64url')
    .slice(0, 32);
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}
