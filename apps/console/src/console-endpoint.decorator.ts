import {
  applyDecorators,
  createParamDecorator,
  type ExecutionContext,
  SetMetadata,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import type { Permission } from '@tessera/control-plane';
import { ConsoleAccessGuard } from './console-access.guard';
import { ControlPlaneErrorFilter } from './control-plane-error.filter';
import type { ConsoleRequest } from './console-request';

/** A JSON Schema, as ajv compiles it and the OpenAPI document shows it. */
export type JsonSchema = Record<string, unknown>;

/** What a control-plane route declares: the one place its permission, input schemas and docs live. */
export interface EndpointSpec {
  /** The permission a key needs; with several, one of them suffices (the service checks the finer rule). */
  permission: Permission | Permission[];
  summary: string;
  /** The OpenAPI tag (the console's section). */
  tag: string;
  body?: JsonSchema;
  query?: JsonSchema;
  /** 201 for creations; 200 otherwise. */
  status?: 200 | 201;
  /** The response's schema, for the OpenAPI document. */
  response?: JsonSchema;
  /** `text/event-stream` routes: EventSource cannot send headers, so `?key=` is accepted too. */
  stream?: boolean;
  /** A download (`application/json` attachment). */
  download?: boolean;
}

export const ENDPOINT_SPEC = 'tessera:console-endpoint';

/** Declares a control-plane route: key and permission checked, body and query validated, errors mapped. */
export function Endpoint(spec: EndpointSpec): MethodDecorator {
  return applyDecorators(
    SetMetadata(ENDPOINT_SPEC, spec),
    UseGuards(ConsoleAccessGuard),
    UseFilters(ControlPlaneErrorFilter),
  );
}

/** The request's body, parsed and validated against the route's `body` schema. */
export const ValidBody = createParamDecorator(
  (_data: unknown, context: ExecutionContext) =>
    context.switchToHttp().getRequest<ConsoleRequest>().validBody,
);

/** The request's query, validated (and coerced) against the route's `query` schema. */
export const ValidQuery = createParamDecorator(
  (_data: unknown, context: ExecutionContext) =>
    context.switchToHttp().getRequest<ConsoleRequest>().validQuery,
);

/** Who is calling: the API key's id, name and role. */
export const Caller = createParamDecorator(
  (_data: unknown, context: ExecutionContext) => context.switchToHttp().getRequest<ConsoleRequest>().caller,
);
