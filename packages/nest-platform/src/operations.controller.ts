import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type Redis from 'ioredis';
import type { Registry } from 'prom-client';
import type { Store } from '@tessera/store';
import { METRICS_REGISTRY, REDIS, STORE } from './platform-tokens';

/** `/healthz`, `/readyz` and `/metrics`: what an orchestrator and Prometheus ask every process. */
@Controller()
export class OperationsController {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
    @Inject(STORE) private readonly store: Store,
  ) {}

  /** The process is up. */
  @Get('healthz')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** The process can do its work: Redis and the store of record answer (each within a second). */
  @Get('readyz')
  async ready(@Res() reply: FastifyReply): Promise<void> {
    const [redis, store] = await Promise.all([
      withinASecond(this.redis.ping()),
      withinASecond(this.store.query('SELECT 1')),
    ]);
    const ready = redis === 'up' && store === 'up';
    reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks: { redis, store } });
  }

  @Get('metrics')
  async metrics(@Res() reply: FastifyReply): Promise<void> {
    reply.header('content-type', this.registry.contentType).send(await this.registry.metrics());
  }
}

async function withinASecond(check: Promise<unknown>): Promise<'up' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    check.then(
      () => 'up' as const,
      () => 'down' as const,
    ),
    new Promise<'down'>((resolve) => (timer = setTimeout(() => resolve('down'), 1000))),
  ]).finally(() => clearTimeout(timer));
}
