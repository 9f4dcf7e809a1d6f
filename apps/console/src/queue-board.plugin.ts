import type { IncomingHttpHeaders } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditInput, AuditLog } from '@tessera/consent';
import { type ApiKeyRecord, ApiKeyBook, can, refusal } from '@tessera/control-plane';
import { widenContentSecurityPolicy } from '@tessera/nest-platform';
import type { Logger } from '@tessera/runtime';

/** Where Bull Board is served. */
export const QUEUE_BOARD_PATH = '/queues';

/**
 * The audit action of each of Bull Board's changing routes (method and route under its base path). A route a
 * later Bull Board adds is still audited, as `queue.operate` with its route.
 */
export const QUEUE_BOARD_ACTIONS: Readonly<Record<string, string>> = {
  'PUT /api/queues/pause': 'queue.pause_all',
  'PUT /api/queues/resume': 'queue.resume_all',
  'POST /api/queues/:queueName/add': 'queue.add_job',
  'PUT /api/queues/:queueName/retry/:queueStatus': 'queue.retry_jobs',
  'PUT /api/queues/:queueName/promote': 'queue.promote_jobs',
  'PUT /api/queues/:queueName/clean/:queueStatus': 'queue.clean',
  'PUT /api/queues/:queueName/pause': 'queue.pause',
  'PUT /api/queues/:queueName/resume': 'queue.resume',
  'PUT /api/queues/:queueName/concurrency': 'queue.set_concurrency',
  'PUT /api/queues/:queueName/rate-limit': 'queue.set_rate_limit',
  'PUT /api/queues/:queueName/rate-limit/release': 'queue.release_rate_limit',
  'PUT /api/queues/:queueName/empty': 'queue.empty',
  'PUT /api/queues/:queueName/obliterate': 'queue.obliterate',
  'PUT /api/queues/:queueName/job-schedulers/:schedulerId/remove': 'queue.remove_scheduler',
  'PATCH /api/queues/:queueName/job-schedulers/:schedulerId': 'queue.update_scheduler',
  'PUT /api/queues/:queueName/job-schedulers/:schedulerId/run': 'queue.run_scheduler',
  'PUT /api/queues/:queueName/:jobId/retry': 'queue.retry_job',
  'PUT /api/queues/:queueName/:jobId/clean': 'queue.remove_job',
  'PUT /api/queues/:queueName/:jobId/promote': 'queue.promote_job',
  'PATCH /api/queues/:queueName/:jobId/update-data': 'queue.update_job_data',
  'PATCH /api/queues/:queueName/:jobId/delay': 'queue.change_job_delay',
  'PATCH /api/queues/:queueName/:jobId/priority': 'queue.change_job_priority',
  'PUT /api/queues/:queueName/:jobId/remove-unprocessed-children': 'queue.remove_job_children',
  'POST /api/metrics/history/purge': 'queue.purge_history',
};

const READING_METHODS = new Set(['GET', 'HEAD']);

export interface QueueBoardOptions {
  queues: readonly Queue[];
  keys: ApiKeyBook;
  audit: AuditLog;
  logger: Logger;
}

/**
 * Bull Board at /queues, behind the console's API keys (HTTP Basic, the key as the password: a browser cannot
 * send a bearer token to a page). `queues.read` sees the board, read-only; only `queues.operate` (admins)
 * changes anything — any other method than GET or HEAD from anyone else is refused with 403 before Bull Board
 * sees it — and every change an admin makes is written to the audit log with its outcome before the answer
 * leaves.
 */
export async function serveQueueBoard(fastify: FastifyInstance, options: QueueBoardOptions): Promise<void> {
  const { keys, audit, logger } = options;
  // Who sent a request (by the request, and by its headers: what Bull Board's handler hooks see of it).
  const callers = new WeakMap<FastifyRequest, ApiKeyRecord>();
  const callersByHeaders = new WeakMap<IncomingHttpHeaders, ApiKeyRecord>();
  const mayOperate = (key: ApiKeyRecord | undefined) => key !== undefined && can(key.role, 'queues.operate');

  const board = new BullBoardFastifyAdapter();
  board.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: options.queues.map((queue) => new BullMQAdapter(queue)),
    serverAdapter: board,
    options: {
      uiConfig: { boardTitle: 'Tessera queues' },
      handlerHooks: {
        // The board hides its buttons for a read-only queue: a caller who may not operate sees every queue so.
        after: (context, result) => {
          if (mayOperate(callersByHeaders.get(context.request.headers))) return result;
          const body = result.body as { queues?: Array<Record<string, unknown>> } | undefined;
          for (const queue of body?.queues ?? [])
            Object.assign(queue, { readOnlyMode: true, allowRetries: false, allowCompletedRetries: false });
          return result;
        },
      },
    },
  });

  await fastify.register(async (scope) => {
    // The board's page carries inline styles (its loading screen) and its UI sets more at run time.
    widenContentSecurityPolicy(scope, { 'style-src': ["'self'", "'unsafe-inline'"] });
    // Bodies reach this scope raw (the app keeps them so for signatures); the board's add-job and edit-data
    // routes read JSON.
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'string' },
      scope.getDefaultJsonParser('error', 'ignore'),
    );

    scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const presented = basicPassword(request.headers.authorization);
      const key = presented === undefined ? undefined : await keys.authenticate(presented);
      if (key === undefined) {
        await reply
          .status(401)
          .header('www-authenticate', 'Basic realm="Tessera queues", charset="UTF-8"')
          .send({
            error: 'unauthorized',
            message: 'sign in with any user name and an API key as the password',
          });
        return reply;
      }
      if (!can(key.role, 'queues.read')) {
        await reply.status(403).send({ error: 'forbidden', message: refusal(key.role, 'queues.read') });
        return reply;
      }
      if (!READING_METHODS.has(request.method) && !can(key.role, 'queues.operate')) {
        logger.warn(
          { actor: `console:${key.id}`, method: request.method, url: request.url },
          'refused a change to the queues by a caller who may only read them',
        );
        await reply.status(403).send({ error: 'forbidden', message: refusal(key.role, 'queues.operate') });
        return reply;
      }
      callers.set(request, key);
      callersByHeaders.set(request.headers, key);
      return undefined;
    });

    scope.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const key = callers.get(request);
      if (key === undefined || READING_METHODS.has(request.method)) return payload;
      // Once per request: an error answered after a failed write comes back through this hook.
      callers.delete(request);
      const entry = auditEntry(request, reply.statusCode, `console:${key.id}`);
      try {
        await audit.record([entry]);
      } catch (error) {
        logger.error(
          { err: error, audit: entry },
          'a change to the queues could not be written to the audit log',
        );
        throw new Error(
          `the queues may have changed (${entry.action}) but the audit log could not record it: see the process log`,
        );
      }
      return payload;
    });

    await scope.register(board.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
  });
}

/** What an admin's change through the board was, and how it ended (no job data: it may hold anything). */
function auditEntry(request: FastifyRequest, status: number, actor: string): AuditInput {
  const route = (request.routeOptions.url ?? '').slice(QUEUE_BOARD_PATH.length) || request.url;
  const params = (request.params ?? {}) as Record<string, string | undefined>;
  const action = QUEUE_BOARD_ACTIONS[`${request.method} ${route}`] ?? 'queue.operate';
  return {
    actor,
    action,
    detail: {
      via: 'bull-board',
      method: request.method,
      route,
      queue: params['queueName'] ?? null,
      ...(params['jobId'] === undefined ? {} : { jobId: params['jobId'] }),
      ...(params['queueStatus'] === undefined ? {} : { jobStatus: params['queueStatus'] }),
      ...(params['schedulerId'] === undefined ? {} : { schedulerId: params['schedulerId'] }),
      outcome: status < 400 ? 'applied' : status < 500 ? 'refused' : 'failed',
      status,
    },
  };
}

function basicPassword(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}
