import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Controller, Get, GoneException, Inject, NotFoundException, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { DsrRequest } from '@tessera/consent';
import { Caller, Endpoint, ValidBody } from './console-endpoint.decorator';
import { ConsoleDependencies } from './console-dependencies';
import type { ConsoleCaller } from './console-request';
import { DSR_INPUT } from './console-schemas';

const view = (request: DsrRequest) => ({
  id: request.id,
  type: request.type,
  status: request.status,
  customerIds: request.customerIds,
  requestedAt: request.requestedAt,
  dueAt: request.dueAt,
  completedAt: request.completedAt,
  requestedBy: request.requestedBy,
  detail: request.detail,
});

/** Data subject requests: open (access or erasure), follow, download the access export. */
@Controller('v1/dsr')
export class DsrController {
  constructor(@Inject(ConsoleDependencies) private readonly deps: ConsoleDependencies) {}

  @Post()
  @Endpoint({
    permission: 'dsr.write',
    tag: 'dsr',
    summary: 'Open a request; its work is queued at once',
    body: DSR_INPUT,
    status: 201,
  })
  async open(
    @ValidBody()
    body: { type: 'access' | 'erasure'; email?: string; phone?: string; customerId?: string; brand?: string },
    @Caller() caller: ConsoleCaller,
  ) {
    const request = await this.deps.worker.dsr.open({
      type: body.type,
      identities: {
        ...(body.email === undefined ? {} : { email: body.email }),
        ...(body.phone === undefined ? {} : { phone: body.phone }),
        ...(body.customerId === undefined ? {} : { customerId: body.customerId }),
      },
      requestedBy: caller.actor,
      ...(body.brand === undefined ? {} : { brand: body.brand }),
    });
    await this.deps.audit.record([
      {
        actor: caller.actor,
        action: 'dsr.opened',
        detail: {
          entity: 'dsr',
          id: request.id,
          before: null,
          after: { type: request.type, customerIds: request.customerIds, dueAt: request.dueAt },
        },
      },
    ]);
    await this.deps.worker.enqueueDsr(body.type, request.id);
    return view(request);
  }

  @Get()
  @Endpoint({ permission: 'dsr.read', tag: 'dsr', summary: 'Requests, newest first' })
  async list() {
    return { requests: (await this.deps.worker.dsr.requests.list({ limit: 200 })).map(view) };
  }

  @Get(':id')
  @Endpoint({ permission: 'dsr.read', tag: 'dsr', summary: 'One request, with each destination’s answer' })
  async show(@Param('id') id: string) {
    const request = await this.deps.worker.dsr.requests.get(id);
    if (request === undefined) throw new NotFoundException(`no DSR request ${id}`);
    return { ...view(request), destinations: await this.deps.worker.dsr.requests.destinationResults(id) };
  }

  @Get(':id/export')
  @Endpoint({
    permission: 'dsr.write',
    tag: 'dsr',
    summary: 'Download the access export (JSON); 410 once its subject was erased',
    download: true,
  })
  async download(@Param('id') id: string, @Caller() caller: ConsoleCaller, @Res() reply: FastifyReply) {
    const request = await this.deps.worker.dsr.requests.get(id);
    if (request === undefined) throw new NotFoundException(`no DSR request ${id}`);
    const erased = request.detail['exportErased'] as { byRequest?: unknown } | undefined;
    // The subject was erased since: the file is deleted, and says so rather than "not found".
    if (erased !== undefined)
      throw new GoneException(
        `the export of DSR request ${id} was deleted: its subject was erased (request ${String(erased.byRequest)})`,
      );
    const exported = request.detail['export'] as { file?: unknown } | undefined;
    if (request.type !== 'access' || typeof exported?.file !== 'string')
      throw new NotFoundException(
        `DSR request ${id} has no export (type ${request.type}, status ${request.status})`,
      );
    const file = basename(exported.file);
    const body = await readFile(join(this.deps.runtime.settings.dataDir, 'exports', file)).catch(
      () => undefined,
    );
    if (body === undefined) throw new NotFoundException(`the export of DSR request ${id} is no longer kept`);
    await this.deps.audit.record([
      {
        actor: caller.actor,
        action: 'dsr.export_downloaded',
        detail: { entity: 'dsr', id, before: null, after: { file } },
      },
    ]);
    void reply
      .header('content-type', 'application/json')
      .header('content-disposition', `attachment; filename="${file}"`)
      .send(body);
  }
}
