import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ControlPlaneError } from '@tessera/control-plane';
import { DsrRequestError } from '@tessera/consent';
import {
  IdentityChangeRefusedError,
  IdentityNotFoundError,
  ProfileReferenceError,
} from '@tessera/identity-graph';
import { OperationRefusedError, UnknownReferenceError } from '@tessera/pipeline';

const HTTP_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  410: 'gone',
};
const STATUS = { not_found: 404, conflict: 409, invalid: 400, invalid_rules: 422 } as const;
const CODE = {
  not_found: 'not_found',
  conflict: 'conflict',
  invalid: 'bad_request',
  invalid_rules: 'invalid_rules',
} as const;

/**
 * Maps what the packages refuse to the console's answers, by error type (never by message): unknown
 * references 404, refused changes 409, bad input 400, rules that do not compile 422 with every problem.
 */
@Catch()
export class ControlPlaneErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const answer = answerFor(exception);
    if (answer === undefined) throw exception;
    void reply.status(answer.status).send(answer.body);
  }
}

function answerFor(exception: unknown): { status: number; body: Record<string, unknown> } | undefined {
  if (exception instanceof ControlPlaneError) {
    return {
      status: STATUS[exception.kind],
      body: {
        error: CODE[exception.kind],
        message: exception.message,
        ...(exception.issues.length > 0 ? { errors: exception.issues } : {}),
      },
    };
  }
  if (exception instanceof UnknownReferenceError || exception instanceof IdentityNotFoundError)
    return { status: 404, body: { error: 'not_found', message: exception.message } };
  if (exception instanceof OperationRefusedError || exception instanceof IdentityChangeRefusedError)
    return { status: 409, body: { error: 'conflict', message: exception.message } };
  if (exception instanceof ProfileReferenceError || exception instanceof DsrRequestError)
    return { status: 400, body: { error: 'bad_request', message: exception.message } };
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const body = exception.getResponse();
    const detail = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    return {
      status,
      body: {
        error: HTTP_CODES[status] ?? 'error',
        message: typeof detail['message'] === 'string' ? detail['message'] : exception.message,
        ...(detail['errors'] === undefined ? {} : { errors: detail['errors'] }),
      },
    };
  }
  return undefined;
}
