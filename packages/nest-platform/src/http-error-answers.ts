import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger, TesseraRuntime } from '@tessera/runtime';

type HttpServerSettings = TesseraRuntime['settings']['http'];

const ERROR_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'headers_too_large',
  500: 'internal_error',
  503: 'unavailable',
};

export interface ErrorAnswer {
  status: number;
  body: { error: string; message: string };
}

/** `1 MiB`, `12 MiB`, `16 KiB`, `1500 bytes`: how limits read in messages. */
export function sizeText(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

function answer(status: number, message: string): ErrorAnswer {
  return { status, body: { error: ERROR_CODES[status] ?? 'error', message } };
}

/**
 * The `{error, message}` answer to whatever a request failed with: an HttpException raised in a Nest handler,
 * or an error Fastify raised before any handler ran (a body over the route's limit is `payload_too_large`,
 * naming the limit). Anything else is a 500 that tells the client nothing (the caller logs it).
 */
export function errorAnswer(exception: unknown, bodyLimit?: number): ErrorAnswer {
  if (exception instanceof HttpException) {
    const body = exception.getResponse();
    const message =
      typeof body === 'object' && body !== null && 'message' in body
        ? String((body as { message: unknown }).message)
        : exception.message;
    return answer(exception.getStatus(), message);
  }
  const fastifyError = exception as Partial<FastifyError> | null;
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (fastifyError?.code === 'FST_ERR_CTP_BODY_TOO_LARGE' && bodyLimit !== undefined) {
      return answer(413, `a request may carry at most ${sizeText(bodyLimit)}`);
    }
    return answer(status, fastifyError?.message ?? STATUS_CODES[status] ?? 'error');
  }
  return answer(500, 'internal error');
}

/** Every error a Nest handler raises leaves as `{error, message}` JSON. */
@Catch()
export class JsonErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const { status, body } = errorAnswer(exception);
    if (status >= 500) this.logger.error({ err: exception }, 'request failed');
    void host.switchToHttp().getResponse<FastifyReply>().status(status).send(body);
  }
}

/**
 * Fastify's error handler: what fails before a route's handler runs (its body over the route's limit, a
 * Content-Length that lies) or inside a plain Fastify route, answered like the Nest handlers' errors.
 */
export function fastifyErrorHandler(logger: Logger) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const { status, body } = errorAnswer(error, request.routeOptions.bodyLimit);
    if (status >= 500) logger.error({ err: error }, 'request failed');
    void reply.status(status).send(body);
  };
}

/**
 * Node's `clientError`: a request that broke the server's bounds before Fastify saw it (too slow to arrive,
 * headers too large, not HTTP) gets its answer in the documented format, and the connection is closed.
 */
export function clientErrorHandler(bounds: HttpServerSettings, logger: Logger) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, body } =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? answer(
            408,
            `the request did not arrive in time: headers within ${bounds.headersTimeoutMs / 1000} s, ` +
              `all of it within ${bounds.requestTimeoutMs / 1000} s`,
          )
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? answer(431, `the request line and headers may take at most ${sizeText(bounds.maxHeaderBytes)}`)
          : answer(400, 'malformed HTTP request');
    // Slow or broken clients are routine on the internet; a log line per one would let them flood the logs.
    logger.debug({ code: error.code, status }, 'client error');
    if (socket.writable) {
      const payload = JSON.stringify(body);
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
      );
    }
    socket.destroy(error);
  };
}
