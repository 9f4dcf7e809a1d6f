import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHttpApp } from '@tessera/nest-platform';
import type { TestRuntime } from '@tessera/testing';
import { PipelineModule } from '@tessera/worker';
import { ConsoleModule } from '../src';

/** What the control-plane API answered: the status and the parsed JSON body (`{}` when empty). */
export type ApiAnswer = {
  status: number;
  body: Record<string, unknown> & { message?: string; error?: string };
};

/** The console API as it runs in the worker (Fastify's inject, nothing mocked), ready for requests. */
export async function startConsoleApp(runtime: TestRuntime['runtime']): Promise<NestFastifyApplication> {
  const app = await createHttpApp(runtime, [ConsoleModule.forRoot(PipelineModule)]);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

/** Calls the API as a client would: an API key as a bearer token, a JSON body when one is given. */
export function apiCaller(
  app: () => NestFastifyApplication,
): (method: string, url: string, key?: string, body?: unknown) => Promise<ApiAnswer> {
  return async (method, url, key, body) => {
    const response = await app().inject({
      method: method as 'GET',
      url,
      headers: {
        ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    return {
      status: response.statusCode,
      body: response.body === '' ? {} : (JSON.parse(response.body) as ApiAnswer['body']),
    };
  };
}
