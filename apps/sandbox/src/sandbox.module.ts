import { Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { encodeSandboxResponse, EspSandbox, SANDBOX_PREFIX } from '@tessera/destination-kit';
import { RUNTIME } from '@tessera/nest-platform';
import type { TesseraRuntime } from '@tessera/runtime';
import { createSandbox } from './sandbox-configuration';

/**
 * The largest body the sandbox's routes read. It must stay above every emulator's `maxBodyBytes` (the largest
 * today: Klaviyo's bulk import jobs, 5 MiB, and SFMC's rowsets, 5 MB; Braze takes 4 MB), so that the emulator
 * itself refuses a larger body with 413 in its ESP's error format instead of Fastify answering in its own.
 * The sandbox module's spec holds every registered emulator to it.
 */
export const SANDBOX_BODY_LIMIT = 12 * 1024 * 1024;

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

/**
 * The ESP sandbox in a Nest process: the emulators of the destinations TESSERA_DESTINATIONS selects, configured
 * for the demo when the demo workspace is active (an embedded start with TESSERA_DEMO on). Unauthenticated and
 * writable (fault injection included): the all-in-one mounts it only while TESSERA_SANDBOX is on.
 */
@Module({
  providers: [
    {
      provide: EspSandbox,
      inject: [RUNTIME],
      useFactory: (runtime: TesseraRuntime) =>
        createSandbox(runtime.settings.destinations, runtime.demoCredentialsFile !== undefined),
    },
    SandboxRoutes,
  ],
  exports: [EspSandbox],
})
export class SandboxModule {}
