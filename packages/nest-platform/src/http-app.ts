import {
  Catch,
  HttpException,
  type ArgumentsHost,
  type DynamicModule,
  type ExceptionFilter,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Histogram, type Registry } from 'prom-client';
import { MAX_REQUEST_BYTES } from '@tessera/intake';
import type { TesseraRuntime } from '@tessera/runtime';
import { PinoNestLogger } from './pino-nest-logger';
import { PlatformModule } from './platform.module';
import { METRICS_REGISTRY } from './platform-tokens';
import { SECURITY_HEADERS } from './security-headers';

const ERROR_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  500: 'internal_error',
  503: 'unavailable',
};

/** Every error leaves as `{error, message}` JSON, whichever layer raised it (Nest wraps Fastify's own). */
@Catch()
class JsonErrorFilter implements ExceptionFilter {
  constructor(private readonly runtime: TesseraRuntime) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const status = exception instanceof HttpException ? exception.getStatus() : 500;
    const message =
      status === 413
        ? 'a request may carry at most 1 MiB'
        : exception instanceof HttpException
          ? (() => {
              const body = exception.getResponse();
              return typeof body === 'object' && body !== null && 'message' in body
                ? String((body as { message: unknown }).message)
                : exception.message;
            })()
          : 'internal error';
    if (status >= 500) this.runtime.logger.error({ err: exception }, 'request failed');
    void reply.status(status).send({ error: ERROR_CODES[status] ?? 'error', message });
  }
}

/**
 * Builds a Nest app on Fastify the way every Tessera process serves HTTP: bodies are kept raw (webhook
 * signatures are checked on the exact bytes; JSON is parsed after), 1 MiB at most, errors as JSON, the
 * security headers on every answer (SECURITY_HEADERS), request durations measured.
 */
export async function createHttpApp(
  runtime: TesseraRuntime,
  modules: Array<Type | DynamicModule>,
): Promise<NestFastifyApplication> {
  const root: DynamicModule = {
    module: class TesseraRootModule {},
    imports: [PlatformModule.forRoot(runtime), ...modules],
  };
  const adapter = new FastifyAdapter({
    bodyLimit: MAX_REQUEST_BYTES,
    logger: false,
    return503OnClosing: true,
  });
  const fastify = adapter.getInstance();
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    '*',
    { parseAs: 'buffer' },
    (_request: FastifyRequest, body: Buffer, done: (error: null, body: Buffer) => void) => done(null, body),
  );
  const app = await NestFactory.create<NestFastifyApplication>(root, adapter, {
    bodyParser: false,
    logger: new PinoNestLogger(runtime.logger),
    abortOnError: false,
  });
  app.useGlobalFilters(new JsonErrorFilter(runtime));
  // Before any route exists (the modules register theirs at init), so that every answer carries them.
  await app.register(fastifyHelmet, SECURITY_HEADERS);
  const registry = app.get<Registry>(METRICS_REGISTRY);
  const duration = new Histogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    duration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
  return app;
}
