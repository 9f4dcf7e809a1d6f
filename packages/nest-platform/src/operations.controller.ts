import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type Redis from 'ioredis';
import type { Registry } from 'prom-client';
import { METRICS_REGISTRY, REDIS } from './platform-tokens';

/** `/healthz`, `/readyz` and `/metrics`: what an orchestrator and Prometheus ask every process. */
@Controller()
export class OperationsController {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
  ) {}

  /** The process is up. */
  @Get('healthz')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** The process can do its work: Redis answers. */
  @Get('readyz')
  async ready(@Res() reply: FastifyReply): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const redis = await Promise.race([
      this.redis.ping().then(
        () => 'up' as const,
        () => 'down' as const,
      ),
      new Promise<'down'>((resolve) => (timer = setTimeout(() => resolve('down'), 1000))),
    ]).finally(() => clearTimeout(timer));
    reply
      .status(redis === 'up' ? 200 : 503)
      .send({ status: redis === 'up' ? 'ready' : 'not_ready', checks: { redis } });
  }

  @Get('metrics')
  async metrics(@Res() reply: FastifyReply): Promise<void> {
    reply.header('content-type', this.registry.contentType).send(await this.registry.metrics());
  }
}
