import { Controller, Get, HttpCode, Inject, Param, ParseIntPipe, Post } from '@nestjs/common';
import { can } from '@tessera/control-plane';
import { nameReviewPairs, type ReviewPair } from '@tessera/identity-graph';
import { Caller, Endpoint, ValidBody, ValidQuery } from './console-endpoint.decorator';
import { ConsoleDependencies } from './console-dependencies';
import type { ConsoleCaller } from './console-request';
import { DECISION_INPUT, REVIEW_QUERY } from './console-schemas';

/** The review queue: probable merges a person decides. */
@Controller('v1/reviews')
export class ReviewsController {
  constructor(@Inject(ConsoleDependencies) private readonly deps: ConsoleDependencies) {}

  @Get()
  @Endpoint({
    permission: 'reviews.read',
    tag: 'reviews',
    summary:
      "Probable merges, highest score first, with the two profiles' names (masked without pii.read: E***)",
    query: REVIEW_QUERY,
  })
  async list(
    @ValidQuery() query: { status: ReviewPair['status']; limit: number },
    @Caller() caller: ConsoleCaller,
  ) {
    const mayReadPii = can(caller.key.role, 'pii.read');
    const reviews = await (await this.deps.reviews()).listReviews(query);
    const named = await nameReviewPairs(await this.deps.graph(), reviews, { revealPii: mayReadPii });
    if (mayReadPii && named.length > 0) {
      // Names are raw PII: their reading is audited like a profile's (which pairs, never the names).
      await this.deps.audit.record([
        {
          actor: caller.actor,
          action: 'reviews.pii_read',
          detail: {
            entity: 'reviews',
            id: query.status,
            before: null,
            after: null,
            reviewIds: named.map((review) => review.id),
          },
        },
      ]);
    }
    return { reviews: named };
  }

  @Post(':id/approve')
  @HttpCode(200)
  @Endpoint({
    permission: 'reviews.decide',
    tag: 'reviews',
    summary: 'Approve: the two profiles are merged',
    body: DECISION_INPUT,
  })
  approve(
    @Param('id', ParseIntPipe) id: number,
    @ValidBody() body: { reason?: string },
    @Caller() caller: ConsoleCaller,
  ) {
    return this.decide(id, 'approve', body.reason, caller);
  }

  @Post(':id/reject')
  @HttpCode(200)
  @Endpoint({
    permission: 'reviews.decide',
    tag: 'reviews',
    summary: 'Reject: the pair is blocked from merging',
    body: DECISION_INPUT,
  })
  reject(
    @Param('id', ParseIntPipe) id: number,
    @ValidBody() body: { reason?: string },
    @Caller() caller: ConsoleCaller,
  ) {
    return this.decide(id, 'reject', body.reason, caller);
  }

  private async decide(
    id: number,
    decision: 'approve' | 'reject',
    reason: string | undefined,
    caller: ConsoleCaller,
  ) {
    const { review, merges } = await (await this.deps.reviews()).decide(id, decision, caller.actor);
    await this.deps.audit.record([
      {
        actor: caller.actor,
        action: `review.${review.status}`,
        detail: {
          entity: 'review',
          id: String(id),
          before: { status: 'pending' },
          after: { status: review.status, customerIds: review.customerIds, merges: merges.length },
          ...(reason === undefined ? {} : { reason }),
        },
      },
    ]);
    return review;
  }
}
