import { Controller, Get, Inject } from '@nestjs/common';
import { can } from '@tessera/control-plane';
import { Caller, Endpoint, ValidQuery } from './console-endpoint.decorator';
import { ConsoleDependencies } from './console-dependencies';
import type { ConsoleCaller } from './console-request';
import { SHARED_IDENTIFIER_QUERY } from './console-schemas';

/**
 * Contact points two members share (a family email): each stays with the member who had it first and links
 * nothing to the other. Listed so a person can see them; values masked without pii.read.
 */
@Controller('v1/identity/shared-identifiers')
export class SharedIdentifiersController {
  constructor(@Inject(ConsoleDependencies) private readonly deps: ConsoleDependencies) {}

  @Get()
  @Endpoint({
    permission: 'profiles.read',
    tag: 'profiles',
    summary:
      'Contact points shared by two members, each linking nothing to the second one, oldest first; page with after=nextAfter. Raw values for admins only (audited)',
    query: SHARED_IDENTIFIER_QUERY,
  })
  async list(@ValidQuery() query: { limit: number; after?: number }, @Caller() caller: ConsoleCaller) {
    const personalData = can(caller.key.role, 'pii.read') ? 'shown' : 'masked';
    const page = await (
      await this.deps.graph()
    ).listSharedIdentifiers(query, { revealPii: personalData === 'shown' });
    if (personalData === 'shown' && page.sharedIdentifiers.length > 0) {
      await this.deps.audit.record([
        {
          actor: caller.actor,
          action: 'shared-identifiers.pii_read',
          detail: {
            entity: 'shared-identifiers',
            id: String(query.after ?? 0),
            before: null,
            after: null,
            listed: page.sharedIdentifiers.length,
          },
        },
      ]);
    }
    return page;
  }
}
