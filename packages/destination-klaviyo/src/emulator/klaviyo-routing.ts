import type { SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import { isPublishedRevision } from '../api-revision';
import { KLAVIYO_LIMITS } from '../klaviyo-endpoints';
import { JSON_API, KlaviyoApiError } from './klaviyo-errors';

/* How the emulator finds the handler of a request and checks what every Klaviyo request must carry. */

/** What a handler gets: the request, the sandbox time, the path parameters, the parsed body, the link base. */
export interface RouteContext {
  request: SandboxRequest;
  now: number;
  params: string[];
  body: unknown;
  base: string;
}

export interface Route {
  name: string;
  method: string;
  /** The path as Klaviyo's reference writes it (`/api/lists/{id}/relationships/profiles`). */
  template: string;
  pattern: RegExp;
  /** Whether the request carries a JSON body (content type and parse checks apply). */
  hasBody: boolean;
  maxBytes?: number;
  handle(context: RouteContext): SandboxResponse;
}

/** A route whose `{…}` path parameters match one path segment each (a trailing slash is optional). */
export function route(
  name: string,
  method: string,
  template: string,
  handle: (context: RouteContext) => SandboxResponse,
  extra: { hasBody?: boolean; maxBytes?: number } = {},
): Route {
  return {
    name,
    method,
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '([^/]+)')}/?$`),
    hasBody: extra.hasBody ?? (method === 'POST' || method === 'PATCH'),
    ...(extra.maxBytes === undefined ? {} : { maxBytes: extra.maxBytes }),
    handle,
  };
}

/** A JSON:API document answer. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): SandboxResponse {
  return { status, headers: { 'content-type': JSON_API, ...headers }, body };
}

/** The route for the request and its path parameters; 404 for an unknown path, 405 for a wrong method. */
export function findRoute(
  routes: readonly Route[],
  request: SandboxRequest,
): { route: Route; params: string[] } {
  const matching = routes
    .map((route) => ({ route, match: route.pattern.exec(request.path) }))
    .filter((candidate) => candidate.match !== null);
  if (matching.length === 0) {
    throw new KlaviyoApiError(404, `No route matches ${request.method.toUpperCase()} ${request.path}.`);
  }
  const method = request.method.toUpperCase();
  const chosen = matching.find((candidate) => candidate.route.method === method);
  if (chosen === undefined || chosen.match === null) {
    throw new KlaviyoApiError(
      405,
      `Method "${method}" not allowed.`,
      {},
      {
        headers: {
          allow: [...new Set(matching.map((candidate) => candidate.route.method))].join(', '),
        },
      },
    );
  }
  return {
    route: chosen.route,
    params: chosen.match.slice(1).map((part) => decodeURIComponent(part)),
  };
}

/** The private API key of `Authorization: Klaviyo-API-Key pk_…`, or a 401. */
export function authenticate(request: SandboxRequest): string {
  const header = request.headers['authorization'] ?? '';
  const match = /^Klaviyo-API-Key\s+(\S+)\s*$/i.exec(header);
  const key = match?.[1];
  if (key === undefined || !key.startsWith('pk_')) {
    throw new KlaviyoApiError(
      401,
      key === undefined
        ? 'Missing or invalid authorization scheme. Please use Klaviyo-API-Key.'
        : 'Incorrect authentication credentials.',
    );
  }
  return key;
}

const REVISION_FORMAT = /^\d{4}-\d{2}-\d{2}(\.pre)?$/;

/**
 * The `revision` header must name a revision Klaviyo publishes: missing, malformed or unknown, the request is
 * answered 400 (`invalid`, `source.parameter: revision`) before anything else happens.
 */
export function checkRevision(request: SandboxRequest): void {
  const revision = request.headers['revision'];
  const problem =
    revision === undefined
      ? "The 'revision' header is required (YYYY-MM-DD)."
      : !REVISION_FORMAT.test(revision)
        ? `Invalid 'revision' header '${revision}': expected YYYY-MM-DD or YYYY-MM-DD.pre.`
        : !isPublishedRevision(revision)
          ? `'${revision}' is not a valid revision: see https://developers.klaviyo.com/en/docs/changelog_ for the published ones.`
          : undefined;
  if (problem !== undefined) throw new KlaviyoApiError(400, problem, { parameter: 'revision' });
}

/** Klaviyo's 413 for a body over `maxBytes`. */
export function payloadTooLarge(bytes: number, maxBytes: number): KlaviyoApiError {
  return new KlaviyoApiError(
    413,
    `The request body is ${bytes} bytes; the maximum allowed payload size is ${maxBytes} bytes.`,
  );
}

/** The JSON body of a request, after the route's size limit and the content type are checked. */
export function parseBody(request: SandboxRequest, route: Route): unknown {
  const maxBytes = route.maxBytes ?? KLAVIYO_LIMITS.requestBodyBytes;
  if (request.rawBody.length > maxBytes) throw payloadTooLarge(request.rawBody.length, maxBytes);
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (contentType !== 'application/vnd.api+json' && contentType !== 'application/json') {
    throw new KlaviyoApiError(
      415,
      `Unsupported media type "${contentType}" in request. Use application/vnd.api+json or application/json.`,
    );
  }
  try {
    return JSON.parse(request.rawBody.toString('utf8')) as unknown;
  } catch (error) {
    throw new KlaviyoApiError(
      400,
      `JSON parse error - ${(error as Error).message}`,
      {},
      { code: 'parse_error' },
    );
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Length of the array at `path` inside an unvalidated body (size limits are checked before the schema). */
function arrayLength(body: unknown, path: readonly string[]): number | undefined {
  let current: unknown = body;
  for (const key of path) current = isRecord(current) ? current[key] : undefined;
  return Array.isArray(current) ? current.length : undefined;
}

/** Klaviyo's 400 for a request listing more than `max` entries at `path`. */
export function tooMany(body: unknown, path: readonly string[], max: number, what: string): void {
  const count = arrayLength(body, path);
  if (count !== undefined && count > max) {
    throw new KlaviyoApiError(400, `A maximum of ${max} ${what} is allowed per request; got ${count}.`, {
      pointer: `/${path.join('/')}`,
    });
  }
}
