import type { DynamicModule, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyRequest } from 'fastify';
import { Histogram, type Registry } from 'prom-client';
import { MAX_REQUEST_BYTES } from '@tessera/intake';
import type { TesseraRuntime } from '@tessera/runtime';
import { clientErrorHandler, fastifyErrorHandler, JsonErrorFilter } from './http-error-answers';
import { PinoNestLogger } from './pino-nest-logger';
import { PlatformModule } from './platform.module';
import { METRICS_REGISTRY } from './platform-tokens';
import { SECURITY_HEADERS } from './security-headers';

/**
 * Keeps the error handler Tessera sets when the app is created. Nest would set its own at init, after the
 * modules' init hooks ran; a route Fastify had loaded before then (a hook that awaits a plugin loads every
 * route registered so far, as the console's does) kept Fastify's default, and a body over the limit got
 * Fastify's own format. One handler, set before any route exists, reaches every route.
 */
class TesseraFastifyAdapter extends FastifyAdapter {
  override setErrorHandler(): ReturnType<FastifyAdapter['setErrorHandler']> {
    return this.getInstance();
  }
}

/**
 * Builds a Nest app on Fastify the way every Tessera process serves HTTP: bodies are kept raw (webhook
 * signatures are checked on the exact bytes; JSON is parsed after), 1 MiB at most, the time and header size
 * of a request bounded (settings.http), errors as `{error, message}` JSON from every layer, the security
 * headers on every answer (SECURITY_HEADERS), request durations measured.
 */
export async function createHttpApp(
  runtime: TesseraRuntime,
  modules: Array<Type | DynamicModule>,
): Promise<NestFastifyApplication> {
  const root: DynamicModule = {
    module: class TesseraRootModule {},
    imports: [PlatformModule.forRoot(runtime), ...modules],
  };
  const bounds = runtime.settings.http;
  const adapter = new TesseraFastifyAdapter({
    bodyLimit: MAX_REQUEST_BYTES,
    logger: false,
    return503OnClosing: true,
    // A client may take so long to send a request and no longer (slow-loris): 408, and the connection closes.
    requestTimeout: bounds.requestTimeoutMs,
    keepAliveTimeout: bounds.keepAliveTimeoutMs,
    http: {
      headersTimeout: bounds.headersTimeoutMs,
      requestTimeout: bounds.requestTimeoutMs,
      maxHeaderSize: bounds.maxHeaderBytes,
      // Node checks the bounds on this beat (30 s by default, which would let a slow client overstay them).
      connectionsCheckingInterval: Math.min(1000, Math.ceil(bounds.headersTimeoutMs / 2)),
    },
    clientErrorHandler: clientErrorHandler(bounds, runtime.logger),
  });
  const fastify = adapter.getInstance();
  fastify.setErrorHandler(fastifyErrorHandler(runtime.logger));
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
  app.useGlobalFilters(new JsonErrorFilter(runtime.logger));
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
