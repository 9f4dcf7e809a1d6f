import { Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { encodeSandboxResponse, EspSandbox, SANDBOX_PREFIX } from '@tessera/destination-kit';
import { selectDestinationPackages } from '@tessera/destination-registry';
import { RUNTIME } from '@tessera/nest-platform';
import type { TesseraRuntime } from '@tessera/runtime';

/** Bulk jobs carry up to 5 MB (Klaviyo's limit); the emulators must see such bodies to refuse bigger ones. */
export const SANDBOX_BODY_LIMIT = 8 * 1024 * 1024;

/** Mounts the sandbox's `handle` on the app's Fastify instance at `/sandbox` and `/sandbox/*`. */
class SandboxRoutes implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(EspSandbox) private readonly sandbox: EspSandbox,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const response = await this.sandbox.handle(request.method, request.url, request.headers, body);
      const { headers, payload } = encodeSandboxResponse(response);
      await reply.status(response.status).headers(headers).send(payload);
    };
    for (const url of [SANDBOX_PREFIX, `${SANDBOX_PREFIX}/*`]) {
      fastify.route({
        method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
        url,
        bodyLimit: SANDBOX_BODY_LIMIT,
        handler,
      });
    }
  }

  onApplicationShutdown(): Promise<void> {
    return this.sandbox.close();
  }
}

/** The ESP sandbox in a Nest process: the emulators of the destinations TESSERA_DESTINATIONS selects. */
@Module({
  providers: [
    {
      provide: EspSandbox,
      inject: [RUNTIME],
      useFactory: (runtime: TesseraRuntime) =>
        new EspSandbox(
          selectDestinationPackages(runtime.settings.destinations).map((entry) => entry.createEmulator()),
        ),
    },
    SandboxRoutes,
  ],
  exports: [EspSandbox],
})
export class SandboxModule {}
