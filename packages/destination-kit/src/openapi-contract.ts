import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** One HTTP request as a destination sent it (captured by a sandbox or a recording client). */
export interface CapturedRequest {
  method: string;
  /** The request path, optionally with `?query`; a full URL is accepted too (its origin is ignored). */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body, if any. */
  body?: unknown;
}

/** One way a captured request breaks the ESP's published contract. */
export interface ContractViolation {
  where: 'path' | 'header' | 'query' | 'body';
  /**
   * A JSON Pointer into the body ('' for the root), the header or query parameter name, or for `path`
   * the request path (without its query).
   */
  pointer: string;
  message: string;
}

type Json = Record<string, unknown>;

interface Operation {
  method: string;
  pathTemplate: string;
  operationId?: string;
  docId: string;
  doc: Json;
  op: Json;
  pathItem: Json;
  matcher: RegExp;
  literalSegments: number;
}

interface ParameterSpec {
  name: string;
  in: string;
  required: boolean;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const JSON_CONTENT_TYPES = ['application/vnd.api+json', 'application/json'];

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Follows a local `$ref` (`#/components/...`) inside one document; other values are returned as they are. */
function deref(doc: Json, value: unknown): unknown {
  let current = value;
  for (let hops = 0; hops < 16 && isObject(current) && typeof current['$ref'] === 'string'; hops++) {
    const ref = current['$ref'];
    if (!ref.startsWith('#/')) return current;
    let target: unknown = doc;
    for (const raw of ref.slice(2).split('/')) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      target = isObject(target) ? target[key] : undefined;
    }
    current = target;
  }
  return current;
}

/**
 * OpenAPI 3.0 documents put `nullable: true` beside `$ref` or `oneOf` with no `type`, which Ajv rejects: rewrite
 * such a schema as `anyOf: [<schema>, { type: 'null' }]`. Works on a copy, never on the caller's document.
 */
function normalizeNullable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalizeNullable);
  if (!isObject(value)) return value;
  const copy: Json = {};
  for (const [key, child] of Object.entries(value)) copy[key] = normalizeNullable(child);
  if (typeof copy['nullable'] !== 'boolean' || copy['type'] !== undefined) return copy;
  const { nullable, description, example, ...schema } = copy;
  const annotations = {
    ...(description === undefined ? {} : { description }),
    ...(example === undefined ? {} : { example }),
  };
  return nullable === true
    ? { ...annotations, anyOf: [schema, { type: 'null' }] }
    : { ...annotations, ...schema };
}

function templateMatcher(template: string): { matcher: RegExp; literalSegments: number } {
  let literalSegments = 0;
  const pattern = template
    .split('/')
    .map((segment) => {
      if (!/\{[^}]+\}/.test(segment)) {
        literalSegments++;
        return escapeRegExp(segment);
      }
      return segment
        .split(/(\{[^}]+\})/)
        .map((part) => (/^\{[^}]+\}$/.test(part) ? '[^/]+' : escapeRegExp(part)))
        .join('');
    })
    .join('/');
  return { matcher: new RegExp(`^${pattern}/?$`), literalSegments };
}

function headerValue(headers: CapturedRequest['headers'], name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return Array.isArray(value) ? value.join(', ') : value;
  }
  return undefined;
}

function hasQueryParam(query: URLSearchParams, name: string): boolean {
  for (const key of query.keys()) {
    if (key === name || key.startsWith(`${name}[`)) return true;
  }
  return false;
}

function describeError(error: ErrorObject): string {
  const where = error.instancePath === '' ? 'body' : error.instancePath;
  let message = `${where} ${error.message ?? 'is invalid'}`;
  const params: Record<string, unknown> = error.params;
  if (typeof params['missingProperty'] === 'string') {
    message = `${where} is missing required property '${params['missingProperty']}'`;
  } else if (Array.isArray(params['allowedValues'])) {
    message += `: ${params['allowedValues'].map((value) => JSON.stringify(value)).join(', ')}`;
  } else if (typeof params['additionalProperty'] === 'string') {
    message += `: '${params['additionalProperty']}'`;
  }
  return message;
}

/**
 * Validates captured ESP requests against the ESP's OpenAPI 3.0 documents: the operation (method and path
 * template), required header and query parameters, the security header, and the JSON request body.
 */
export class OpenApiContract {
  private readonly ops: Operation[] = [];
  private readonly ajv: Ajv;
  private readonly validators = new Map<string, ValidateFunction | null>();

  private constructor(documents: object[]) {
    this.ajv = new Ajv({ strict: false, allErrors: true, logger: false });
    addFormats(this.ajv);
    documents.forEach((original, index) => {
      const document = normalizeNullable(original);
      if (!isObject(document) || !isObject(document['paths'])) {
        throw new Error(`document ${index} is not an OpenAPI document (no "paths")`);
      }
      const docId = `https://contracts.tessera.invalid/openapi/${index}.json`;
      this.ajv.addSchema(document, docId);
      for (const [pathTemplate, rawItem] of Object.entries(document['paths'])) {
        const pathItem = deref(document, rawItem);
        if (!isObject(pathItem)) continue;
        for (const method of HTTP_METHODS) {
          const op = pathItem[method];
          if (!isObject(op)) continue;
          const operationId = typeof op['operationId'] === 'string' ? op['operationId'] : undefined;
          this.ops.push({
            method: method.toUpperCase(),
            pathTemplate,
            ...(operationId === undefined ? {} : { operationId }),
            docId,
            doc: document,
            op,
            pathItem,
            ...templateMatcher(pathTemplate),
          });
        }
      }
    });
  }

  /** Loads every `*.json` OpenAPI document in `dir` (sorted by file name). */
  static fromFolder(dir: string): OpenApiContract {
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new Error(`spec folder ${dir} does not exist`);
    const files = readdirSync(dir)
      .filter((name) => name.endsWith('.json'))
      .sort();
    const documents = files.map((name) => {
      const parsed: unknown = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      if (!isObject(parsed)) throw new Error(`${join(dir, name)} is not a JSON object`);
      return parsed;
    });
    return new OpenApiContract(documents);
  }

  static fromDocuments(documents: object[]): OpenApiContract {
    return new OpenApiContract(documents);
  }

  operations(): Array<{ method: string; pathTemplate: string; operationId?: string }> {
    return this.ops.map(({ method, pathTemplate, operationId }) =>
      operationId === undefined ? { method, pathTemplate } : { method, pathTemplate, operationId },
    );
  }

  validate(request: CapturedRequest): ContractViolation[] {
    const url = new URL(request.path, 'http://request.invalid');
    const path = url.pathname;
    const method = request.method.toUpperCase();
    const operation = this.findOperation(method, path);
    if (operation === undefined) {
      return [{ where: 'path', pointer: path, message: `no operation ${method} ${path} in the contract` }];
    }
    return [
      ...this.checkParameters(operation, request, url.searchParams),
      ...this.checkSecurity(operation, request, url.searchParams),
      ...this.checkBody(operation, request),
    ];
  }

  private findOperation(method: string, path: string): Operation | undefined {
    const candidates = this.ops.filter((op) => op.method === method && op.matcher.test(path));
    // A literal segment beats a template parameter (`/profiles/me` over `/profiles/{id}`).
    candidates.sort((a, b) => b.literalSegments - a.literalSegments);
    return candidates[0];
  }

  private parameters(operation: Operation): ParameterSpec[] {
    const byKey = new Map<string, ParameterSpec>();
    const collect = (list: unknown): void => {
      if (!Array.isArray(list)) return;
      for (const raw of list) {
        const param = deref(operation.doc, raw);
        if (!isObject(param) || typeof param['name'] !== 'string' || typeof param['in'] !== 'string')
          continue;
        const spec = { name: param['name'], in: param['in'], required: param['required'] === true };
        byKey.set(`${spec.in}:${spec.in === 'header' ? spec.name.toLowerCase() : spec.name}`, spec);
      }
    };
    collect(operation.pathItem['parameters']);
    collect(operation.op['parameters']); // operation-level parameters override path-level ones
    return [...byKey.values()];
  }

  private checkParameters(
    operation: Operation,
    request: CapturedRequest,
    query: URLSearchParams,
  ): ContractViolation[] {
    const violations: ContractViolation[] = [];
    for (const param of this.parameters(operation)) {
      if (!param.required) continue;
      if (param.in === 'header' && headerValue(request.headers, param.name) === undefined) {
        violations.push({
          where: 'header',
          pointer: param.name,
          message: `required header '${param.name}' is missing`,
        });
      } else if (param.in === 'query' && !hasQueryParam(query, param.name)) {
        violations.push({
          where: 'query',
          pointer: param.name,
          message: `required query parameter '${param.name}' is missing`,
        });
      }
    }
    return violations;
  }

  private checkSecurity(
    operation: Operation,
    request: CapturedRequest,
    query: URLSearchParams,
  ): ContractViolation[] {
    const requirements = operation.op['security'] ?? operation.doc['security'];
    if (!Array.isArray(requirements) || requirements.length === 0) return [];
    const components = isObject(operation.doc['components']) ? operation.doc['components'] : {};
    const schemes = isObject(components['securitySchemes']) ? components['securitySchemes'] : {};
    const alternatives: ContractViolation[][] = requirements.map((requirement) => {
      if (!isObject(requirement)) return [];
      const missing: ContractViolation[] = [];
      for (const schemeName of Object.keys(requirement)) {
        const scheme = deref(operation.doc, schemes[schemeName]);
        if (!isObject(scheme)) continue;
        if (scheme['type'] === 'apiKey' && typeof scheme['name'] === 'string') {
          const name = scheme['name'];
          if (scheme['in'] === 'header' && headerValue(request.headers, name) === undefined) {
            missing.push({
              where: 'header',
              pointer: name,
              message: `security scheme '${schemeName}' needs the '${name}' header`,
            });
          } else if (scheme['in'] === 'query' && !query.has(name)) {
            missing.push({
              where: 'query',
              pointer: name,
              message: `security scheme '${schemeName}' needs the '${name}' query parameter`,
            });
          }
        } else if (scheme['type'] === 'http' && typeof scheme['scheme'] === 'string') {
          const value = headerValue(request.headers, 'Authorization');
          const expected = scheme['scheme'].toLowerCase();
          if (value === undefined || !value.toLowerCase().startsWith(`${expected} `)) {
            missing.push({
              where: 'header',
              pointer: 'Authorization',
              message: `security scheme '${schemeName}' needs an 'Authorization: ${scheme['scheme']} …' header`,
            });
          }
        }
      }
      return missing;
    });
    // Any one satisfied requirement object is enough; otherwise report the first alternative's gaps.
    if (alternatives.some((missing) => missing.length === 0)) return [];
    return alternatives[0] ?? [];
  }

  private checkBody(operation: Operation, request: CapturedRequest): ContractViolation[] {
    const requestBody = deref(operation.doc, operation.op['requestBody']);
    if (!isObject(requestBody)) return [];
    if (request.body === undefined) {
      return requestBody['required'] === true
        ? [{ where: 'body', pointer: '', message: 'the request body is required' }]
        : [];
    }
    const content = isObject(requestBody['content']) ? requestBody['content'] : {};
    const sent = headerValue(request.headers, 'Content-Type')?.split(';')[0]?.trim().toLowerCase();
    const contentType =
      sent !== undefined && isObject(content[sent]) && JSON_CONTENT_TYPES.includes(sent)
        ? sent
        : JSON_CONTENT_TYPES.find((type) => isObject(content[type]));
    if (contentType === undefined) return [];
    const validator = this.validator(operation, contentType);
    if (validator === null || validator(request.body)) return [];
    return (validator.errors ?? []).map((error) => ({
      where: 'body',
      pointer: error.instancePath,
      message: describeError(error),
    }));
  }

  private validator(operation: Operation, contentType: string): ValidateFunction | null {
    const pointer = [
      'paths',
      operation.pathTemplate,
      operation.method.toLowerCase(),
      'requestBody',
      'content',
      contentType,
      'schema',
    ]
      .map(escapePointer)
      .join('/');
    const key = `${operation.docId}#/${pointer}`;
    const cached = this.validators.get(key);
    if (cached !== undefined) return cached;
    const media = isObject(operation.op['requestBody'])
      ? deref(operation.doc, operation.op['requestBody'])
      : undefined;
    const content = isObject(media) && isObject(media['content']) ? media['content'] : {};
    const mediaType = content[contentType];
    const hasSchema = isObject(mediaType) && isObject(mediaType['schema']);
    // A `$ref`'d requestBody lives elsewhere in the document: compile its schema by its own location.
    const location =
      isObject(operation.op['requestBody']) && typeof operation.op['requestBody']['$ref'] === 'string'
        ? `${operation.op['requestBody']['$ref']}/content/${escapePointer(contentType)}/schema`
        : `#/${pointer}`;
    const validator = hasSchema ? this.ajv.compile({ $ref: `${operation.docId}${location}` }) : null;
    this.validators.set(key, validator);
    return validator;
  }
}

/** The folder holding one sub-folder of OpenAPI documents per ESP: `TESSERA_SPECS_DIR`, else `<repo>/../shared/specs`. */
export function specsDir(): string {
  const fromEnv = process.env['TESSERA_SPECS_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  const repoRoot = join(__dirname, '..', '..', '..');
  return resolve(repoRoot, '..', 'shared', 'specs');
}

/** Whether `<specsDir>/<esp>` exists. */
export function specsAvailable(esp: string): boolean {
  const dir = join(specsDir(), esp);
  return existsSync(dir) && statSync(dir).isDirectory();
}
