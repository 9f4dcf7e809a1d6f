import { CONSENT_VERDICTS, type ConsentGate, type ConsentVerdict } from '@tessera/consent';
import { withoutGrantPolicyOf, type DestinationPackage, type OperationName } from '@tessera/destination-kit';
import {
  eventCatalog,
  type CatalogEvent,
  type EventCatalog,
  type EventType,
  type ValidationIssue,
} from '@tessera/events';
import type { DeliveryItem, IngestedEvent } from '@tessera/queues';
import type { PiiVault, Store } from '@tessera/store';
import type {
  BrandContext,
  CompiledRules,
  ConfiguredPlugin,
  DestinationOperation,
  PluginPool,
} from '@tessera/transform';
import type { GrantPolicyReport } from '../stages/grant-policy';
import { RouteStage, type RouteDecision } from '../stages/route-stage.service';
import { deliverToEmulator, type PreviewRequest } from './emulated-delivery';
import { InProcessPluginRunner } from './in-process-plugin-runner';
import { PreviewEventNotFoundError, PreviewInputError } from './preview-errors';
import { PreviewMasking, type PersonalDataAccess } from './preview-masking';
import { previewProfile, type PreviewGraph } from './preview-profile';
import { StoredEventReader, type StoredEventReference } from './stored-event.repository';

/** The brand destination whose mappings are previewed. */
export interface PreviewDestination {
  id: string;
  brand: string;
  type: string;
  /** Its definition (the request builders) and its sandbox emulator. */
  package: DestinationPackage;
  /** Its settings, as stored (secrets in the clear: they are masked in what the preview returns). */
  settings: Record<string, unknown>;
  plugins: readonly ConfiguredPlugin[];
}

/** A sample event, as the console's editor sends it (a CloudEvent's attributes and data). */
export interface PreviewSampleEvent {
  type: string;
  source: string;
  id: string;
  time?: string;
  data: Record<string, unknown>;
}

export interface MappingPreviewInput {
  destination: PreviewDestination;
  /** The draft (compiled by the caller) or the saved rules; none: the plugins alone. */
  rules?: CompiledRules;
  /** A sample, or a real event from the raw event log. */
  event: PreviewSampleEvent | { stored: StoredEventReference };
  /**
   * `masked` for a caller without access to personal data: the event and the profile are masked before the
   * rules and plugins see them (see PreviewMasking). Required, so that no caller shows PII by omission.
   */
  personalData: PersonalDataAccess;
}

/** One operation the route stage would produce, with the consent gate's verdict on it. */
export interface PreviewOperation {
  operation: OperationName;
  customerId: string;
  /** The item as the deliver stage would receive it. */
  item: DestinationOperation['item'];
  consent: { allowed: boolean; reason: string };
}

export interface MappingPreviewResult {
  /** Whether the values are the person's own or placeholders. */
  personalData: PersonalDataAccess;
  /** The profile the event was previewed on; absent when the event names nobody the pipeline could route. */
  customerId?: string;
  operations: PreviewOperation[];
  /**
   * The destination's without-grant policy as it applied to this member: their consent, what they are sent as
   * (full, minimal or none), what was left out and the subscription state the ESP is told to hold.
   */
  withoutGrant?: GrantPolicyReport;
  /** What the allowed operations would send, in order; credentials masked as `***`. */
  requests: PreviewRequest[];
  /** Which profile was used, consent, failing rules or plugins, the ESP's answers: one sentence each. */
  notes: string[];
}

export interface MappingPreviewOptions {
  /** Read only: lookups by identifier, survivors, customer views. */
  graph: PreviewGraph;
  /** Read only: `decideMany` loads and caches consent, it writes nothing (`decideManyWithStates` likewise). */
  gate: Pick<ConsentGate, 'decideMany'> & Partial<Pick<ConsentGate, 'decideManyWithStates'>>;
  /** The raw event log's store and vault, for stored events. */
  store: Store;
  vault: PiiVault;
  brandOf?(brand: string): BrandContext;
  /** The worker-thread pool where the process has one; plugins run in process otherwise. */
  pool?: Pick<PluginPool, 'run'>;
  catalog?: EventCatalog;
  now?: () => Date;
  /** Per request to the emulator (default 10 s). */
  requestTimeoutMs?: number;
}

/** The registered source a sample is attributed to: it only seeds the item keys. */
const SAMPLE_SOURCE_ID = 'preview';

/**
 * The console's mapping preview: what a brand destination would receive for one event — the operations its
 * rules and plugins produce and the consent gate's verdict on each (the route stage itself, fed a read-only
 * profile), then the requests the allowed ones would make (the destination's own request builders, run
 * against its sandbox emulator). Writes nothing: not the store, not Redis, not the identity graph, and no
 * request leaves for the ESP.
 */
export class MappingPreview {
  private readonly catalog: EventCatalog;
  private readonly reader: StoredEventReader;
  private readonly pool: Pick<PluginPool, 'run'>;
  private readonly now: () => Date;
  private readonly masking: PreviewMasking;

  constructor(private readonly options: MappingPreviewOptions) {
    this.catalog = options.catalog ?? eventCatalog();
    this.masking = new PreviewMasking(options.vault, this.catalog);
    this.reader = new StoredEventReader(options.store, options.vault);
    this.pool = options.pool ?? new InProcessPluginRunner();
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Throws PreviewInputError (unknown type, invalid data, another brand's event) and PreviewEventNotFoundError;
   * a rule or plugin failing on the event is a note, as is anything the emulated ESP refuses.
   */
  async preview(input: MappingPreviewInput): Promise<MappingPreviewResult> {
    const result = await this.run(input);
    return input.personalData === 'shown' ? result : this.masking.output(result);
  }

  private async run(input: MappingPreviewInput): Promise<MappingPreviewResult> {
    const { destination, personalData } = input;
    const notes: string[] = [];
    const found = await this.eventOf(input, notes);
    if (found.ingested.brand !== destination.brand) {
      throw new PreviewInputError([
        {
          path: '/event',
          message: `the event is brand ${found.ingested.brand}'s and destination ${destination.id} is brand ${destination.brand}'s: it is never routed there`,
        },
      ]);
    }
    // The profile is found with the real identifiers; only then is anything masked.
    const profile = await previewProfile(this.options.graph, found.ingested, found.resolvedTo);
    notes.push(...profile.notes);
    if (profile.view === undefined) return { personalData, operations: [], requests: [], notes };
    const masked = personalData === 'masked';
    const view = masked ? this.masking.profile(profile.view) : profile.view;
    const ingested = masked
      ? { ...found.ingested, event: this.masking.event(found.ingested.event) }
      : found.ingested;
    const outcome: Pick<MappingPreviewResult, 'personalData' | 'customerId' | 'withoutGrant'> = {
      personalData,
      customerId: view.customerId,
    };

    const decisions: RouteDecision[] = [];
    let policy: GrantPolicyReport | undefined;
    const delivered: DeliveryItem[] = [];
    const consent: { channel: string; verdict: ConsentVerdict }[] = [];
    const rules = input.rules;
    const pool = this.pool;
    const gate = this.options.gate;
    // The route stage itself, fed this profile; the wrappers only listen to what it asks and gets.
    const stage = new RouteStage({
      graph: { customerViews: async () => new Map([[view.customerId, view]]) },
      gate: {
        decideMany: async (requests) => {
          const verdicts = await gate.decideMany(requests);
          requests.forEach((request, index) => {
            const verdict = verdicts[index];
            if (verdict !== undefined) consent.push({ channel: request.scope.channel, verdict });
          });
          return verdicts;
        },
        ...(gate.decideManyWithStates === undefined
          ? {}
          : {
              decideManyWithStates: async (requests) => {
                const decided = await (
                  gate.decideManyWithStates as NonNullable<typeof gate.decideManyWithStates>
                )(requests);
                requests.forEach((request, index) => {
                  const answer = decided[index];
                  if (answer !== undefined)
                    consent.push({ channel: request.scope.channel, verdict: answer.verdict });
                });
                return decided;
              },
            }),
      },
      destinationsOf: () => [
        {
          id: destination.id,
          type: destination.type,
          state: 'enabled',
          ...(rules === undefined
            ? {}
            : {
                rules: {
                  evaluate: (transformInput) => {
                    const result = rules.evaluate(transformInput);
                    for (const error of result.errors) {
                      const at = error.line > 0 ? ` (${error.line}:${error.column})` : '';
                      const expression = error.expression === '' ? '' : ` \`${error.expression}\``;
                      notes.push(
                        `rule ${error.path}${at}${expression} failed: ${error.message} — the rules produce nothing for this event`,
                      );
                    }
                    return result;
                  },
                },
              }),
          plugins: destination.plugins,
          supports: new Set(Object.keys(destination.package.definition.operations) as OperationName[]),
          withoutGrant: withoutGrantPolicyOf(destination.settings),
        },
      ],
      brandOf: (brand) => this.brandOf(brand),
      pool: {
        run: async (plugin, inputs) => {
          const results = await pool.run(plugin, inputs);
          for (const result of results) {
            if (!result.ok) {
              notes.push(
                `plugin ${plugin.name} failed: ${result.error.message} — it produces nothing for this event`,
              );
            }
          }
          return results;
        },
      },
      deliver: async (_destinationId, items) => void delivered.push(...items),
      onDecision: (_destinationId, decision) => decisions.push(decision),
      onPolicy: (_destinationId, report) => void (policy = report),
      now: this.now,
    });
    await stage.handle([
      {
        key: { sourceId: ingested.sourceId, eventSource: ingested.event.source, eventId: ingested.event.id },
        brand: ingested.brand,
        receivedAt: ingested.receivedAt,
        customerId: view.customerId,
        event: ingested.event,
      },
    ]);

    notes.push(...consentNotes(consent, ingested.brand, view.email !== undefined));
    if (policy !== undefined) notes.push(policyNote(policy, ingested.brand));
    if (policy !== undefined) outcome.withoutGrant = policy;
    if (decisions.length === 0) notes.push('the rules and plugins produce no operation for this event');
    // Items reach the deliver stage through the queue, as JSON: show and send exactly that.
    const operations = decisions.map((decision): PreviewOperation => ({
      operation: decision.operation.operation,
      customerId: decision.customerId,
      item: asQueued(decision.operation.item),
      consent: { allowed: decision.allowed, reason: decision.verdict.reason },
    }));
    if (delivered.length === 0) return { ...outcome, operations, requests: [], notes };
    const emulated = await deliverToEmulator(
      destination.package,
      destination.settings,
      delivered.map((item) => asQueued(item.operation)),
      this.options.requestTimeoutMs === undefined ? {} : { timeoutMs: this.options.requestTimeoutMs },
    );
    notes.push(...emulated.notes);
    return { ...outcome, operations, requests: emulated.requests, notes };
  }

  private brandOf(brand: string): BrandContext {
    return (
      this.options.brandOf?.(brand) ?? {
        id: brand,
        name: brand,
        defaultCountry: this.options.graph.defaultCountry(brand),
      }
    );
  }

  private async eventOf(
    input: MappingPreviewInput,
    notes: string[],
  ): Promise<{ ingested: IngestedEvent; resolvedTo?: string }> {
    const event = input.event;
    if ('stored' in event) {
      const [newest, ...others] = await this.reader.find(event.stored);
      if (newest === undefined) throw new PreviewEventNotFoundError(event.stored);
      if (others.length > 0) {
        notes.push(
          `the event was received through ${others.length + 1} sources: previewed as received through ${newest.ingested.sourceId}`,
        );
      }
      notes.push(`stored event ${newest.ingested.event.type} ${event.stored.source}/${event.stored.id}`);
      return newest.resolved && newest.customerId !== null
        ? { ingested: newest.ingested, resolvedTo: newest.customerId }
        : { ingested: newest.ingested };
    }
    return {
      ingested: {
        sourceId: SAMPLE_SOURCE_ID,
        brand: input.destination.brand,
        receivedAt: this.now().toISOString(),
        event: this.validated(event, notes),
      },
    };
  }

  /** The sample checked as the intake checks events: attributes, a catalog type, data against its schema. */
  private validated(sample: PreviewSampleEvent, notes: string[]): CatalogEvent {
    const attributes = {
      specversion: '1.0' as const,
      id: sample.id,
      source: sample.source,
      type: sample.type,
      ...(sample.time === undefined ? {} : { time: sample.time }),
      // The catalog fills schema defaults into what it checks: the caller's object stays as it was.
      data: structuredClone(sample.data) as unknown,
    };
    const issues = this.catalog.validateAttributes(attributes);
    if (attributes.data === undefined || attributes.data === null)
      issues.push({ path: '/data', message: 'is required' });
    if (issues.length > 0) throw new PreviewInputError(underEvent(issues));
    if (!this.catalog.has(sample.type)) {
      throw new PreviewInputError([
        {
          path: '/event/type',
          message: `unknown event type "${sample.type}": use a catalog type (GET /v1/catalog)`,
        },
      ]);
    }
    const type: EventType = sample.type;
    const dataIssues = this.catalog.validateData(type, attributes.data);
    if (dataIssues.length > 0) throw new PreviewInputError(underEvent(dataIssues));
    if (this.catalog.entry(type).origin === 'internal') {
      notes.push(`${type} is emitted by Tessera itself: sources cannot send it`);
    }
    return { ...attributes, type, data: attributes.data as CatalogEvent['data'] };
  }
}

function underEvent(issues: readonly ValidationIssue[]): ValidationIssue[] {
  return issues.map((issue) => ({ path: `/event${issue.path}`, message: issue.message }));
}

function asQueued<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** One sentence saying what the member is sent as and why. */
function policyNote(report: GrantPolicyReport, brand: string): string {
  const leftOut = report.leftOut.length === 0 ? 'nothing' : report.leftOut.join(', ');
  const consent = report.consent.replace('_', ' ');
  if (report.consent === 'granted') {
    return `without-grant policy (${report.policy}): email marketing granted at brand ${brand} — sent in full, subscribed`;
  }
  return `without-grant policy ${report.policy}: email consent at brand ${brand} is ${consent} — sent as ${report.sent} (left out: ${leftOut}), subscription ${report.subscription.replace('_', ' ')}`;
}

/** One sentence per contact point the gate judged, saying what its verdict lets through. */
function consentNotes(
  decided: readonly { channel: string; verdict: ConsentVerdict }[],
  brand: string,
  hasEmail: boolean,
): string[] {
  const notes = decided.map(({ channel, verdict }) => {
    if (verdict === CONSENT_VERDICTS.suppressed) {
      return `consent: ${channel} suppressed at brand ${brand} — only suppression and deletion calls would be sent`;
    }
    if (!verdict.triggerMessages) {
      return `consent: no grant for ${channel} at brand ${brand} (${verdict.reason}) — subscribe and addToSegment operations would be refused`;
    }
    return `consent: ${channel} at brand ${brand}: ${verdict.reason}`;
  });
  if (!hasEmail) {
    notes.push(
      `consent: no email address on the profile — its operations are judged as without a consent record (subscribe and addToSegment refused)`,
    );
  }
  return notes;
}
