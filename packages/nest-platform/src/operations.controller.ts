import { createHash, timingSafeEqual } from 'node:crypto';
import { Controller, Get, Inject, type OnModuleInit, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type Redis from 'ioredis';
import type { Registry } from 'prom-client';
import type { TesseraRuntime } from '@tessera/runtime';
import type { Store } from '@tessera/store';
import { METRICS_REGISTRY, REDIS, RUNTIME, STORE } from './platform-tokens';

/**
 * `/healthz`, `/readyz` and `/metrics`: what an orchestrator and Prometheus ask every process. `/metrics` asks
 * for `Authorization: Bearer <TESSERA_METRICS_TOKEN>` when that is set.
 */
@Controller()
export class OperationsController implements OnModuleInit {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
    @Inject(STORE) private readonly store: Store,
    @Inject(RUNTIME) private readonly runtime: TesseraRuntime,
  ) {}

  onModuleInit(): void {
    const { settings, logger } = this.runtime;
    if (settings.production && settings.metricsToken === undefined)
      logger.warn(
        { setting: 'TESSERA_METRICS_TOKEN' },
        'TESSERA_METRICS_TOKEN is unset: /metrics answers anyone who reaches this port (queue depths, ' +
          'destination and source names, error counts); set it and give Prometheus the same bearer token, ' +
          'or let only the scraper reach the port',
      );
  }

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
  async metrics(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const token = this.runtime.settings.metricsToken;
    if (token !== undefined && !bearerMatches(request.headers.authorization, token)) {
      reply.status(401).header('www-authenticate', 'Bearer realm="tessera metrics"').send({
        error: 'unauthorized',
        message: 'missing or wrong metrics token: send "Authorization: Bearer <TESSERA_METRICS_TOKEN>"',
      });
      return;
    }
    reply.header('content-type', this.registry.contentType).send(await this.registry.metrics());
  }
}

/** Whether the header carries the token, compared in constant time (digests: equal lengths whatever sent). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const presented = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (presented === null) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented[1] ?? ''), digest(token));
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
