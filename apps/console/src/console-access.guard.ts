import {
  BadRequestException,
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { ApiKeyBook, can, type Permission, refusal } from '@tessera/control-plane';
import type { EndpointSpec, JsonSchema } from './console-endpoint.decorator';
import { ENDPOINT_SPEC } from './console-endpoint.decorator';
import type { ConsoleRequest } from './console-request';

const bodies = new Ajv({ allErrors: true, strict: false, useDefaults: true });
const queries = new Ajv({ allErrors: true, strict: false, useDefaults: true, coerceTypes: true });
addFormats(bodies);
addFormats(queries);
const compiled = new WeakMap<JsonSchema, ValidateFunction>();

function validatorOf(ajv: Ajv, schema: JsonSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** ajv's errors as `{path, message}` with a JSON Pointer, the first one in the message. */
function issuesOf(errors: readonly ErrorObject[], root: string) {
  return errors.map((error) => {
    const params = error.params as {
      missingProperty?: string;
      additionalProperty?: string;
      allowedValues?: unknown[];
    };
    const leaf = params.missingProperty ?? params.additionalProperty;
    const path = `${root}${error.instancePath}${leaf === undefined ? '' : `/${leaf}`}`;
    const message =
      params.additionalProperty !== undefined
        ? 'is not a known property'
        : params.missingProperty !== undefined
          ? 'is required'
          : params.allowedValues !== undefined
            ? `must be one of: ${params.allowedValues.join(', ')}`
            : (error.message ?? 'is invalid');
    return { path: path === '' ? '/' : path, message };
  });
}

function keyOf(request: ConsoleRequest, spec: EndpointSpec): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match !== null) return match[1];
  }
  const apiKey = request.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey !== '') return apiKey;
  if (spec.stream === true) {
    const query = request.query as Record<string, unknown> | undefined;
    if (typeof query?.['key'] === 'string') return query['key'];
  }
  return undefined;
}

/**
 * Every control-plane route passes here first: the API key (401 when missing, unknown or revoked), the
 * route's permission for the key's role (403 naming both), then the body and query against the route's
 * schemas (400 with a JSON Pointer per problem). Nothing runs for a request refused here.
 */
@Injectable()
export class ConsoleAccessGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(ApiKeyBook) private readonly keys: ApiKeyBook,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const spec = this.reflector.get<EndpointSpec | undefined>(ENDPOINT_SPEC, context.getHandler());
    if (spec === undefined) return false;
    const request = context.switchToHttp().getRequest<ConsoleRequest>();
    const presented = keyOf(request, spec);
    if (presented === undefined)
      throw new UnauthorizedException('missing API key: send "Authorization: Bearer <key>"');
    const key = await this.keys.authenticate(presented);
    if (key === undefined) throw new UnauthorizedException('unknown or revoked API key');
    const needed: Permission[] = Array.isArray(spec.permission) ? spec.permission : [spec.permission];
    if (!needed.some((permission) => can(key.role, permission))) {
      throw new ForbiddenException(refusal(key.role, needed[0] ?? 'workspace.read'));
    }
    request.caller = { key, actor: `console:${key.id}` };
    if (spec.query !== undefined) {
      const query = { ...((request.query as Record<string, unknown> | undefined) ?? {}) };
      delete query['key'];
      const validate = validatorOf(queries, spec.query);
      if (!validate(query)) throw badRequest(issuesOf(validate.errors ?? [], '?'));
      request.validQuery = query;
    }
    if (spec.body !== undefined) {
      const raw = request.body;
      let body: unknown = {};
      if (Buffer.isBuffer(raw) && raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch (error) {
          throw new BadRequestException({
            error: 'bad_request',
            message: `the body is not valid JSON: ${(error as Error).message}`,
          });
        }
      }
      const validate = validatorOf(bodies, spec.body);
      if (!validate(body)) throw badRequest(issuesOf(validate.errors ?? [], ''));
      request.validBody = body;
    }
    return true;
  }
}

function badRequest(issues: { path: string; message: string }[]): BadRequestException {
  const [first] = issues;
  return new BadRequestException({
    error: 'bad_request',
    message: first === undefined ? 'invalid input' : `${first.path} ${first.message}`,
    errors: issues,
  });
}
