import { Controller, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { ConsentGate, StoreConsentStateReader } from '@tessera/consent';
import { can, compileOrRefuse, ControlPlaneError } from '@tessera/control-plane';
import { type ResolvedDestination, resolveStoredDestination } from '@tessera/destination-registry';
import { REDIS } from '@tessera/nest-platform';
import {
  MappingPreview,
  maskContactPointsIn,
  PreviewEventNotFoundError,
  PreviewInputError,
  RawEventLog,
  type PersonalDataAccess,
  type PreviewSampleEvent,
} from '@tessera/pipeline';
import { ConfigurationError, destinationHostAllowance } from '@tessera/runtime';
import type Redis from 'ioredis';
import { Caller, Endpoint, ValidBody, ValidQuery } from './console-endpoint.decorator';
import { ConsoleDependencies } from './console-dependencies';
import type { ConsoleCaller } from './console-request';
import { PREVIEW_INPUT, RECENT_EVENTS_QUERY } from './console-schemas';

interface PreviewBody {
  destinationId: string;
  event?: Partial<PreviewSampleEvent> & { type: string; data: Record<string, unknown> };
  recentEvent?: { sourceId?: string; source: string; id: string };
  rules?: unknown;
}

/**
 * The mapping preview: what a destination would be sent for one event, with draft or saved rules. A role
 * without `pii.read` previews on a masked event and profile (placeholders of the same shape: nothing a rule
 * computes can hold a piece of the person); every preview and every listing of recent events is audited.
 */
@Controller('v1')
export class PreviewController {
  private readonly gate: ConsentGate;

  constructor(
    @Inject(ConsoleDependencies) private readonly deps: ConsoleDependencies,
    @Inject(REDIS) redis: Redis,
  ) {
    this.gate = new ConsentGate({
      reader: new StoreConsentStateReader(deps.store),
      redis,
      prefix: deps.runtime.settings.redisPrefix,
    });
  }

  @Post('preview')
  @HttpCode(200)
  @Endpoint({
    permission: 'mappings.preview',
    tag: 'mappings',
    summary:
      'The operations and the exact ESP requests a destination would get for a sample (or a stored) event, with draft rules or the saved ones; nothing is sent, the preview is audited. Without pii.read the event and the profile are masked before the rules run',
    body: PREVIEW_INPUT,
  })
  async preview(@ValidBody() body: PreviewBody, @Caller() caller: ConsoleCaller) {
    const stored = await this.deps.catalog.destinationOrThrow(body.destinationId);
    let destination: ResolvedDestination;
    try {
      // Resolved exactly as the workers resolve it; the rules come from the draft or the rule book below.
      destination = resolveStoredDestination(
        {
          id: stored.id,
          brand: stored.brand,
          type: stored.type,
          settings: stored.settings,
          plugins: stored.plugins,
        },
        await this.deps.catalog.brands(),
        this.deps.runtime.settings.destinations,
        undefined,
        destinationHostAllowance(this.deps.runtime.settings),
      );
    } catch (error) {
      if (error instanceof ConfigurationError) throw new ControlPlaneError('conflict', error.detail);
      throw error;
    }
    const saved = await this.deps.catalog.currentRules(destination.id);
    const draft = body.rules ?? saved?.rules;
    const personalData: PersonalDataAccess = can(caller.key.role, 'pii.read') ? 'shown' : 'masked';
    const preview = new MappingPreview({
      graph: await this.deps.graph(),
      gate: this.gate,
      store: this.deps.store,
      vault: this.deps.vault,
    });
    try {
      const result = await preview.preview({
        destination: {
          id: destination.id,
          brand: destination.brand,
          type: destination.type,
          package: destination.package,
          settings: destination.settings,
          plugins: destination.plugins,
        },
        ...(draft === undefined ? {} : { rules: compileOrRefuse(draft) }),
        event:
          body.recentEvent !== undefined
            ? { stored: body.recentEvent }
            : {
                type: body.event?.type ?? '',
                source: body.event?.source ?? 'console-preview',
                id: body.event?.id ?? 'preview',
                ...(body.event?.time === undefined ? {} : { time: body.event.time }),
                data: body.event?.data ?? {},
              },
        personalData,
      });
      // Recorded before anything is shown; a preview that fails shows nothing and is not.
      await this.deps.audit.record([
        {
          actor: caller.actor,
          action: 'mappings.previewed',
          ...(result.customerId === undefined ? {} : { customerId: result.customerId }),
          detail: {
            entity: 'destination',
            id: destination.id,
            before: null,
            after: null,
            // A stored event by its coordinates (an id could embed a contact point: masked); a sample by its
            // type alone, never what the caller typed.
            event:
              body.recentEvent === undefined
                ? { sample: body.event?.type ?? '' }
                : { stored: maskContactPointsIn(body.recentEvent) },
            rules: body.rules !== undefined ? 'draft' : saved === undefined ? 'none' : 'saved',
            personalData,
          },
        },
      ]);
      return result;
    } catch (error) {
      if (error instanceof PreviewInputError)
        throw new ControlPlaneError(
          'invalid',
          error.message,
          error.issues.map((issue) => ({ path: issue.path, message: issue.message })),
        );
      if (error instanceof PreviewEventNotFoundError) throw new ControlPlaneError('not_found', error.message);
      throw error;
    }
  }

  @Get('events/recent')
  @Endpoint({
    permission: 'mappings.preview',
    tag: 'mappings',
    summary:
      'The newest stored events (of a brand), without their data: samples for the preview; audited. Without pii.read, contact points in their sources and ids are masked',
    query: RECENT_EVENTS_QUERY,
  })
  async recent(@ValidQuery() query: { brand?: string; limit: number }, @Caller() caller: ConsoleCaller) {
    const personalData: PersonalDataAccess = can(caller.key.role, 'pii.read') ? 'shown' : 'masked';
    const found = await new RawEventLog(this.deps.store, this.deps.vault).recent(query);
    // The listing holds no data, only references; a source that put a contact point in them still has it masked.
    const events =
      personalData === 'shown'
        ? found
        : found.map((event) => ({
            ...event,
            source: maskContactPointsIn(event.source),
            id: maskContactPointsIn(event.id),
          }));
    await this.deps.audit.record([
      {
        actor: caller.actor,
        action: 'events.recent_listed',
        detail: {
          entity: 'raw-events',
          id: query.brand ?? '*',
          before: null,
          after: null,
          limit: query.limit,
          listed: events.length,
          personalData,
        },
      },
    ]);
    return { events };
  }
}
