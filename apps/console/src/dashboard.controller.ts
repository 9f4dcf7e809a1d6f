import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DeliveryDashboard } from '@tessera/pipeline';
import { Endpoint } from './console-endpoint.decorator';
import { ConsoleDependencies } from './console-dependencies';
import type { ConsoleRequest } from './console-request';

/** How often the stream sends figures: the dashboard moves while traffic runs, without a reload. */
export const DASHBOARD_STREAM_MS = 2_000;

/** The delivery dashboard: one snapshot, or a server-sent stream of them. */
@Controller('v1/dashboard')
export class DashboardController {
  private readonly dashboard: DeliveryDashboard;

  constructor(@Inject(ConsoleDependencies) deps: ConsoleDependencies) {
    this.dashboard = new DeliveryDashboard(deps.store, () =>
      deps.worker.queues.map((queue) => ({
        queueName: queue.queueName,
        counts: () => queue.queue.getJobCounts('waiting', 'active', 'delayed', 'failed'),
      })),
    );
  }

  @Get()
  @Endpoint({ permission: 'dashboard.read', tag: 'dashboard', summary: 'The delivery figures now' })
  figures() {
    return this.dashboard.figures();
  }

  @Get('stream')
  @Endpoint({
    permission: 'dashboard.read',
    tag: 'dashboard',
    summary:
      'Server-sent events: `figures` every 2 s (EventSource sends no headers: `?key=` is accepted here)',
    stream: true,
  })
  stream(@Req() request: ConsoleRequest, @Res() reply: FastifyReply): void {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let open = true;
    const send = async () => {
      try {
        const figures = await this.dashboard.figures();
        if (open) raw.write(`event: figures\ndata: ${JSON.stringify(figures)}\n\n`);
      } catch (error) {
        if (open)
          raw.write(`event: problem\ndata: ${JSON.stringify({ message: (error as Error).message })}\n\n`);
      }
    };
    void send();
    const timer = setInterval(() => void send(), DASHBOARD_STREAM_MS);
    request.raw.on('close', () => {
      open = false;
      clearInterval(timer);
    });
  }
}
