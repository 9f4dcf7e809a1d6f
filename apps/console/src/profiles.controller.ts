import { Controller, Get, HttpCode, Inject, NotFoundException, Param, Post } from '@nestjs/common';
import { can } from '@tessera/control-plane';
import { parseProfileReference } from '@tessera/identity-graph';
import { Caller, Endpoint, ValidBody } from './console-endpoint.decorator';
import { ConsoleDependencies } from './console-dependencies';
import type { ConsoleCaller } from './console-request';
import { MERGE_INPUT, UNMERGE_INPUT } from './console-schemas';

const RECENT_DELIVERIES = 20;

/** Profiles by any identifier: identifiers, lineage, consent, recent deliveries; merge and unmerge. */
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
    const revealed = await graph.getProfile(reference, { revealPii: true });
    if (revealed === undefined) throw new NotFoundException(`no profile for ${reference.split(':')[0]}:…`);
    const mayReadPii = can(caller.key.role, 'pii.read');
    const shown = mayReadPii
      ? revealed
      : ((await graph.getProfile(reference, { revealPii: false })) ?? revealed);
    // Consent is kept per contact point and brand: the blind indexes of the profile's email and phones.
    const subjects = revealed.identifiers
      .filter((identifier) => identifier.type === 'email' || identifier.type === 'phone')
      .map((identifier) => ({
        type: identifier.type,
        key: graph.keys.lookupKey({ type: identifier.type, value: identifier.value }),
        shown:
          shown.identifiers.find(
            (candidate) => candidate.type === identifier.type && candidate.label === identifier.label,
          )?.value ?? '***',
      }));
    const brands = await this.deps.catalog.brands();
    const consent = [];
    for (const brand of brands) {
      const states = await this.deps.ledger.state(
        subjects.map((subject) => subject.key),
        brand.id,
      );
      for (const state of states) {
        const subject = subjects.find((candidate) => candidate.key === state.subject.key);
        consent.push({
          brand: brand.id,
          subject: subject?.shown ?? '***',
          channel: state.scope.channel,
          purpose: state.scope.purpose,
          status: state.decision,
          legalBasis: state.legalBasis,
          capturedAt: state.capturedAt,
        });
      }
    }
    const deliveries = (
      await this.deps.worker.deliveryLog.forCustomer(revealed.customerId, { limit: 1000 })
    ).slice(-RECENT_DELIVERIES);
    if (mayReadPii) {
      await this.deps.audit.record([
        {
          actor: caller.actor,
          action: 'profile.pii_read',
          customerId: revealed.customerId,
          detail: { entity: 'profile', id: revealed.customerId, before: null, after: null },
        },
      ]);
    }
    return {
      customerId: shown.customerId,
      ...(shown.requestedCustomerId === undefined ? {} : { requestedCustomerId: shown.requestedCustomerId }),
      version: shown.version,
      profile: shown.traits,
      identifiers: shown.identifiers.map(({ type, scope, value, firstSeenAt, lastSeenAt, quarantined }) => ({
        type,
        ...(scope === '' ? {} : { brand: scope }),
        value,
        firstSeenAt,
        lastSeenAt,
        quarantined,
      })),
      lineage: shown.lineage,
      consent,
      deliveries: deliveries.reverse(),
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
    summary: 'Reverse a merge (by its lineage id)',
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
}
