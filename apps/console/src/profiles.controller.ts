import {
  BadRequestException,
  Controller,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
} from '@nestjs/common';
import { can } from '@tessera/control-plane';
import { historyCustomerIds, parseProfileReference } from '@tessera/identity-graph';
import { maskContactPointsIn, parseDeliveryCursor, RawEventLog } from '@tessera/pipeline';
import { Caller, Endpoint, ValidBody, ValidQuery } from './console-endpoint.decorator';
import { ConsoleDependencies } from './console-dependencies';
import type { ConsoleCaller } from './console-request';
import { MERGE_INPUT, UNMERGE_INPUT } from './console-schemas';
import { consentSection, DELIVERY_PAGE, deliveriesPage, PROFILE_DELIVERIES_QUERY } from './profile-sections';

const RECENT_EVENTS = 50;

/** Profiles by any identifier: identifiers, lineage, consent, history, recent deliveries; merge and unmerge. */
@Controller('v1/profiles')
export class ProfilesController {
  constructor(@Inject(ConsoleDependencies) private readonly deps: ConsoleDependencies) {}

  @Get(':reference')
  @Endpoint({
    permission: 'profiles.read',
    tag: 'profiles',
    summary:
      'A profile by type:value (customer_id, email, phone, loyalty_card, anonymous_id, member.{brand}); raw PII for admins only',
  })
  async profile(@Param('reference') reference: string, @Caller() caller: ConsoleCaller) {
    const graph = await this.deps.graph();
    parseProfileReference(reference);
    const mayReadPii = can(caller.key.role, 'pii.read');
    const shown = await graph.getProfile(reference, { revealPii: mayReadPii });
    if (shown === undefined) throw new NotFoundException(`no profile for ${reference.split(':')[0]}:…`);
    // Consent is kept per contact point and brand: the blind indexes of the profile's email and phones.
    const contactPoints = new Map(
      shown.identifiers
        .filter((identifier) => identifier.type === 'email' || identifier.type === 'phone')
        .map((identifier) => [identifier.subjectKey, identifier.value]),
    );
    const consent = await consentSection(this.deps.ledger, contactPoints, mayReadPii);
    // Its history: its own events and those of every profile merged into it (a linked guest's, say) while the
    // merge stands; references only (no data), contact points in them masked without pii.read.
    const history = (
      await new RawEventLog(this.deps.store, this.deps.vault).recentOfCustomers(
        await historyCustomerIds(this.deps.store, shown.customerId),
        RECENT_EVENTS,
      )
    ).map((event) =>
      mayReadPii
        ? event
        : { ...event, source: maskContactPointsIn(event.source), id: maskContactPointsIn(event.id) },
    );
    // The newest page of its deliveries; `GET …/deliveries?cursor=` reads on.
    const deliveryPage = await deliveriesPage(
      this.deps.worker.deliveryLog,
      shown.customerId,
      { limit: DELIVERY_PAGE.default },
      mayReadPii,
    );
    const deliveries = deliveryPage.deliveries;
    if (mayReadPii) {
      await this.deps.audit.record([
        {
          actor: caller.actor,
          action: 'profile.pii_read',
          customerId: shown.customerId,
          detail: { entity: 'profile', id: shown.customerId, before: null, after: null },
        },
      ]);
    }
    return {
      customerId: shown.customerId,
      ...(shown.requestedCustomerId === undefined ? {} : { requestedCustomerId: shown.requestedCustomerId }),
      version: shown.version,
      deliveriesNextCursor: deliveryPage.nextCursor,
      profile: shown.traits,
      identifiers: shown.identifiers.map(({ type, scope, value, firstSeenAt, lastSeenAt, quarantined }) => ({
        type,
        ...(scope === '' ? {} : { brand: scope }),
        value,
        firstSeenAt,
        lastSeenAt,
        quarantined,
      })),
      // Contact points this member shares with another (a family email): they link nothing here, and say why.
      sharedContactPoints: shown.sharedContactPoints.map(
        ({ type, value, heldBy, anchor, reason, firstSeenAt, lastSeenAt, count }) => ({
          type,
          value,
          heldBy,
          anchor,
          reason,
          firstSeenAt,
          lastSeenAt,
          count,
        }),
      ),
      lineage: shown.lineage,
      consent,
      history,
      deliveries,
    };
  }

  @Post('merge')
  @HttpCode(200)
  @Endpoint({
    permission: 'profiles.merge',
    tag: 'profiles',
    summary: 'Merge two profiles by hand',
    body: MERGE_INPUT,
  })
  async merge(
    @ValidBody() body: { from: string; into: string; reason: string },
    @Caller() caller: ConsoleCaller,
  ) {
    const graph = await this.deps.graph();
    const from = await graph.resolveReference(this.deps.store, body.from);
    const into = await graph.resolveReference(this.deps.store, body.into);
    if (from === undefined) throw new NotFoundException(`no profile for ${body.from.split(':')[0]}:…`);
    if (into === undefined) throw new NotFoundException(`no profile for ${body.into.split(':')[0]}:…`);
    const result = await graph.merge({ customerIds: [into, from], actor: caller.actor, reason: body.reason });
    await this.deps.audit.record([
      {
        actor: caller.actor,
        action: 'profile.merged',
        customerId: into,
        detail: {
          entity: 'profile',
          id: into,
          before: { customerIds: [into, from] },
          after: { merges: result.merges },
          reason: body.reason,
        },
      },
    ]);
    return {
      customerId: (await graph.resolveReference(this.deps.store, `customer_id:${into}`)) ?? into,
      merges: result.merges,
    };
  }

  @Post('unmerge')
  @HttpCode(200)
  @Endpoint({
    permission: 'profiles.merge',
    tag: 'profiles',
    summary: 'Reverse a merge or a join (by its lineage id)',
    body: UNMERGE_INPUT,
  })
  async unmerge(@ValidBody() body: { lineageId: number; reason: string }, @Caller() caller: ConsoleCaller) {
    const graph = await this.deps.graph();
    const result = await graph.unmerge({
      lineageId: body.lineageId,
      actor: caller.actor,
      reason: body.reason,
    });
    await this.deps.audit.record([
      {
        actor: caller.actor,
        action: 'profile.unmerged',
        detail: {
          entity: 'lineage',
          id: String(body.lineageId),
          before: null,
          after: { splits: result.splits },
          reason: body.reason,
        },
      },
    ]);
    return { splits: result.splits };
  }

  @Get(':reference/deliveries')
  @Endpoint({
    permission: 'profiles.read',
    tag: 'profiles',
    summary: `A profile's deliveries, newest first, a page at a time (limit ≤ ${DELIVERY_PAGE.max}, cursor: the previous page's nextCursor)`,
    query: PROFILE_DELIVERIES_QUERY,
  })
  async deliveries(
    @Param('reference') reference: string,
    @ValidQuery() query: { limit: number; cursor?: string },
    @Caller() caller: ConsoleCaller,
  ) {
    const before = query.cursor === undefined ? undefined : parseDeliveryCursor(query.cursor);
    if (query.cursor !== undefined && before === undefined)
      throw new BadRequestException('?/cursor is not a cursor this API gave');
    const graph = await this.deps.graph();
    parseProfileReference(reference);
    // The profile read (not the bare reference) so that an erased person's tombstone answers 404 here too.
    const shown = await graph.getProfile(reference);
    if (shown === undefined) throw new NotFoundException(`no profile for ${reference.split(':')[0]}:…`);
    return deliveriesPage(
      this.deps.worker.deliveryLog,
      shown.customerId,
      { limit: query.limit, ...(before === undefined ? {} : { before }) },
      can(caller.key.role, 'pii.read'),
    );
  }
}
