import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { ApiKeyBook } from '@tessera/control-plane';
import { RUNTIME } from '@tessera/nest-platform';
import { PipelineWorker } from '@tessera/pipeline';
import { ConfigurationError, type TesseraRuntime } from '@tessera/runtime';
import { CONSOLE_CONTROLLERS } from './console-controllers';
import { ConsoleDependencies } from './console-dependencies';
import { openApiDocument } from './openapi-document';
import { serveQueueBoard } from './queue-board.plugin';

/** Where the web UI's build is: `npx nx run console-web:build` (run by `npm start` when it is missing). */
export const CONSOLE_WEB_DIST = join(__dirname, '..', '..', 'console-web', 'dist');
const SWAGGER_UI_DIST = dirname(require.resolve('swagger-ui-dist/package.json'));

const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tessera control plane — API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="api"></div><script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-initializer.js"></script></body></html>`;
const DOCS_INITIALIZER = `window.onload = () => { window.ui = SwaggerUIBundle({ url: '/docs/openapi.json', dom_id: '#api', persistAuthorization: true }); };`;

/**
 * What the console serves besides its API: the first admin key, the web UI at /console, the OpenAPI document
 * and its reader at /docs, and Bull Board at /queues (HTTP Basic with an API key; read-only but for admins,
 * whose changes are audited: queue-board.plugin.ts).
 */
@Injectable()
export class ConsoleSurface implements OnModuleInit {
  constructor(
    @Inject(RUNTIME) private readonly runtime: TesseraRuntime,
    @Inject(ApiKeyBook) private readonly keys: ApiKeyBook,
    @Inject(PipelineWorker) private readonly worker: PipelineWorker,
    @Inject(HttpAdapterHost) private readonly host: HttpAdapterHost,
    @Inject(ConsoleDependencies) private readonly deps: ConsoleDependencies,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.ensureAdminKey();
    const fastify = this.host.httpAdapter.getInstance<FastifyInstance>();
    this.serveWebUi(fastify);
    this.serveDocs(fastify);
    await this.serveQueues(fastify);
  }

  /** The first admin key: TESSERA_ADMIN_KEY, or made at the first start and handed over in a file. */
  private async ensureAdminKey(): Promise<void> {
    const { settings, logger, demoCredentialsFile } = this.runtime;
    if (
      settings.adminKey === undefined &&
      settings.production &&
      (await this.keys.list()).every((key) => key.role !== 'admin' || key.revokedAt !== null)
    )
      throw new ConfigurationError(
        'TESSERA_ADMIN_KEY',
        'no admin API key exists yet: set TESSERA_ADMIN_KEY for the first start in production',
      );
    const created = await this.keys.ensureAdmin(settings.adminKey);
    if (created === undefined) return;
    if (demoCredentialsFile !== undefined && existsSync(demoCredentialsFile)) {
      const credentials = JSON.parse(readFileSync(demoCredentialsFile, 'utf8')) as Record<string, unknown>;
      const temporary = `${demoCredentialsFile}.tmp`;
      writeFileSync(temporary, `${JSON.stringify({ ...credentials, adminApiKey: created }, null, 2)}\n`, {
        mode: 0o600,
      });
      renameSync(temporary, demoCredentialsFile);
      logger.info(
        { file: demoCredentialsFile },
        `created the first admin API key; it is in ${demoCredentialsFile}`,
      );
      return;
    }
    const file = join(settings.dataDir, 'admin-credentials.json');
    writeFileSync(
      file,
      `${JSON.stringify({ note: 'The first admin API key of this Tessera console. Keep it private; create named keys in the console and revoke this one.', adminApiKey: created }, null, 2)}\n`,
      { mode: 0o600 },
    );
    logger.warn({ file }, `created the first admin API key; it is in ${file}`);
  }

  private serveWebUi(fastify: FastifyInstance): void {
    fastify.get('/console', (_request, reply) => reply.redirect('/console/'));
    if (!existsSync(join(CONSOLE_WEB_DIST, 'index.html'))) {
      fastify.get('/console/*', (_request, reply) =>
        reply.status(503).send({
          error: 'unavailable',
          message: 'the web UI is not built: run `npx nx run console-web:build` (npm start builds it)',
        }),
      );
      this.runtime.logger.warn(`the console web UI is not built (${CONSOLE_WEB_DIST}); npm start builds it`);
      return;
    }
    void fastify.register(fastifyStatic, {
      root: CONSOLE_WEB_DIST,
      prefix: '/console/',
      decorateReply: false,
      index: ['index.html'],
    });
  }

  private serveDocs(fastify: FastifyInstance): void {
    const document = openApiDocument(CONSOLE_CONTROLLERS, '1');
    fastify.get('/docs', (_request, reply) => reply.type('text/html').send(DOCS_PAGE));
    fastify.get('/docs/swagger-initializer.js', (_request, reply) =>
      reply.type('text/javascript').send(DOCS_INITIALIZER),
    );
    fastify.get('/docs/openapi.json', (_request, reply) => reply.send(document));
    void fastify.register(fastifyStatic, {
      root: SWAGGER_UI_DIST,
      prefix: '/docs/assets/',
      decorateReply: false,
    });
  }

  private serveQueues(fastify: FastifyInstance): Promise<void> {
    return serveQueueBoard(fastify, {
      queues: this.worker.queues.map((queue) => queue.queue),
      keys: this.keys,
      audit: this.deps.audit,
      logger: this.runtime.logger,
    });
  }
}
