import { RequestMethod, type Type } from '@nestjs/common';
import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { ENDPOINT_SPEC, type EndpointSpec, type JsonSchema } from './console-endpoint.decorator';

const ERROR = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: { path: { type: 'string' }, message: { type: 'string' }, expression: { type: 'string' } },
      },
    },
  },
};

const joinPath = (...parts: string[]) =>
  `/${parts
    .flatMap((part) => part.split('/'))
    .filter((part) => part !== '')
    .map((part) => (part.startsWith(':') ? `{${part.slice(1)}}` : part))
    .join('/')}`;

/** The query schema as OpenAPI parameters: one per property. */
function queryParameters(schema: JsonSchema | undefined) {
  const properties = (schema?.['properties'] ?? {}) as Record<string, JsonSchema>;
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: false,
    schema: property,
  }));
}

/**
 * The control plane's OpenAPI 3.1 document, read from the routes themselves: each `@Endpoint` declares its
 * permission, schemas and summary next to its handler, so the document cannot drift from what is served.
 */
export function openApiDocument(controllers: readonly Type[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const controller of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    const prototype = controller.prototype as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const handler = prototype[name];
      if (typeof handler !== 'function') continue;
      const spec = Reflect.getMetadata(ENDPOINT_SPEC, handler) as EndpointSpec | undefined;
      if (spec === undefined) continue;
      const method =
        RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod].toLowerCase();
      const path = joinPath(base, String(Reflect.getMetadata(PATH_METADATA, handler) ?? ''));
      const permissions = Array.isArray(spec.permission) ? spec.permission : [spec.permission];
      const pathParameters = [...path.matchAll(/\{(\w+)\}/g)].map((match) => ({
        name: match[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      }));
      const status = String(spec.status ?? 200);
      paths[path] = {
        ...paths[path],
        [method]: {
          operationId: `${controller.name.replace(/Controller$/, '')}.${name}`,
          tags: [spec.tag],
          summary: spec.summary,
          description: `Needs the permission ${permissions.map((permission) => `\`${permission}\``).join(' or ')}.`,
          'x-permissions': permissions,
          parameters: [...pathParameters, ...queryParameters(spec.query)],
          ...(spec.body === undefined
            ? {}
            : { requestBody: { required: true, content: { 'application/json': { schema: spec.body } } } }),
          responses: {
            [status]: {
              description: 'OK',
              content: spec.stream
                ? { 'text/event-stream': { schema: { type: 'string' } } }
                : { 'application/json': { schema: spec.response ?? { type: 'object' } } },
            },
            ...(spec.body === undefined && spec.query === undefined
              ? {}
              : {
                  '400': {
                    description: 'The input fails its schema',
                    content: { 'application/json': { schema: ERROR } },
                  },
                }),
            '401': {
              description: 'Missing, unknown or revoked API key',
              content: { 'application/json': { schema: ERROR } },
            },
            '403': {
              description: "The key's role lacks the permission",
              content: { 'application/json': { schema: ERROR } },
            },
          },
        },
      };
    }
  }
  const sorted = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tessera control plane',
      version,
      description:
        'Brands, sources, destinations, mappings, profiles, dead letters, reviews, DSR and the audit log. ' +
        'Authenticate with an API key: `Authorization: Bearer tsk_…`.',
    },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'A Tessera API key (tsk_…)' },
      },
    },
    paths: sorted,
  };
}
