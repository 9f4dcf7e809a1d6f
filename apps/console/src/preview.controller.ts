import { Controller, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { ConsentGate, StoreConsentStateReader } from '@tessera/consent';
import { can, compileOrRefuse, ControlPlaneError } from '@tessera/control-plane';
import { type ResolvedDestination, resolveStoredDestination } from '@tessera/destination-registry';
import { REDIS } from '@tessera/nest-platform';
import {
  MappingPreview,
  PreviewEventNotFoundError,
  PreviewInputError,
  RawEventLog,
  type PreviewSampleEvent,
} from '@tessera/pipeline';
import { ConfigurationError, redactContactPoints } from '@tessera/runtime';
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

/** The mapping preview: what a destination would be sent for one event, with draft or saved rules. */
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
      'The operations and the exact ESP requests a destination would get for a sample (or a stored) event, with draft rules or the saved ones; nothing is sent or written',
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
      );
    } catch (error) {
      if (error instanceof ConfigurationError) throw new ControlPlaneError('conflict', error.detail);
      throw error;
    }
    const saved = await this.deps.catalog.currentRules(destination.id);
    const draft = body.rules ?? saved?.rules;
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
      });
      // A marketer sees what would be sent, never whom: contact points are masked for roles without PII.
      return can(caller.key.role, 'pii.read')
        ? result
        : (JSON.parse(redactContactPoints(JSON.stringify(result))) as typeof result);
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
    summary: 'The newest stored events (of a brand), without their data: samples for the preview',
    query: RECENT_EVENTS_QUERY,
  })
  async recent(@ValidQuery() query: { brand?: string; limit: number }) {
    return { events: await new RawEventLog(this.deps.store, this.deps.vault).recent(query) };
  }
}
