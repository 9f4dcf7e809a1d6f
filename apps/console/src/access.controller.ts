import { Controller, Delete, Get, Inject, Param, Post } from '@nestjs/common';
import { isRole, permissionsOf, type Role } from '@tessera/control-plane';
import { Caller, Endpoint, ValidBody, ValidQuery } from './console-endpoint.decorator';
import { ConsoleDependencies } from './console-dependencies';
import type { ConsoleCaller } from './console-request';
import { API_KEY_INPUT, AUDIT_QUERY } from './console-schemas';

/** Who is calling, the API keys, the audit log and what this deployment runs. */
@Controller('v1')
export class AccessController {
  constructor(@Inject(ConsoleDependencies) private readonly deps: ConsoleDependencies) {}

  @Get('session')
  @Endpoint({
    permission: ['workspace.read', 'audit.read', 'dead-letters.read'],
    tag: 'access',
    summary: "The calling key: its name, role and permissions (the UI's sign-in)",
  })
  session(@Caller() caller: ConsoleCaller) {
    const { id, name, role } = caller.key;
    return { keyId: id, name, role, permissions: permissionsOf(role) };
  }

  @Get('api-keys')
  @Endpoint({
    permission: 'secrets.manage',
    tag: 'access',
    summary: 'List the API keys (never their secrets)',
  })
  async keys() {
    return { keys: await this.deps.keys.list() };
  }

  @Post('api-keys')
  @Endpoint({
    permission: 'secrets.manage',
    tag: 'access',
    summary: 'Create an API key for a role; the key is in the answer, once',
    body: API_KEY_INPUT,
    status: 201,
  })
  async createKey(@ValidBody() body: { name: string; role: Role }, @Caller() caller: ConsoleCaller) {
    if (!isRole(body.role)) throw new Error('unreachable: the schema admits only roles');
    const created = await this.deps.store.transaction(async (tx) => {
      const made = await this.deps.keys.create(
        { name: body.name, role: body.role, createdBy: caller.key.id },
        tx,
      );
      await this.deps.audit.record(
        [
          {
            actor: caller.actor,
            action: 'api-key.created',
            detail: {
              entity: 'api-key',
              id: made.record.id,
              before: null,
              after: { name: body.name, role: body.role },
            },
          },
        ],
        tx,
      );
      return made;
    });
    return { key: created.key, apiKey: created.record };
  }

  @Delete('api-keys/:id')
  @Endpoint({
    permission: 'secrets.manage',
    tag: 'access',
    summary: 'Revoke an API key (never the last admin key)',
  })
  async revokeKey(@Param('id') id: string, @Caller() caller: ConsoleCaller) {
    const before = await this.deps.keys.get(id);
    const revoked = await this.deps.store.transaction(async (tx) => {
      const record = await this.deps.keys.revoke(id, tx);
      if (before?.revokedAt === null)
        await this.deps.audit.record(
          [
            {
              actor: caller.actor,
              action: 'api-key.revoked',
              detail: {
                entity: 'api-key',
                id,
                before: { revokedAt: null },
                after: { revokedAt: record.revokedAt },
              },
            },
          ],
          tx,
        );
      return record;
    });
    return revoked;
  }

  @Get('audit')
  @Endpoint({
    permission: 'audit.read',
    tag: 'access',
    summary: 'The audit log, newest first',
    query: AUDIT_QUERY,
  })
  async audit(@ValidQuery() query: { action?: string; actor?: string; customerId?: string; limit: number }) {
    return { entries: await this.deps.audit.query(query) };
  }

  @Get('deployment')
  @Endpoint({
    permission: 'workspace.read',
    tag: 'access',
    summary: 'What this deployment runs: destination types, store, queues',
  })
  deployment() {
    const { settings, storeLocation } = this.deps.runtime;
    return {
      selectedDestinations:
        settings.destinations === 'all'
          ? this.deps.catalog.destinationTypes().map((definition) => definition.type)
          : settings.destinations,
      store: storeLocation,
      queues: this.deps.worker.queues.map((queue) => queue.queueName),
    };
  }
}
