import { randomUUID } from 'node:crypto';
import {
  type EmulatorTools,
  type EspEmulator,
  type InboundRequest,
  SANDBOX_PREFIX,
  type SandboxRequest,
  type SandboxResponse,
} from '@tessera/destination-kit';
import { validateSoapEnvelope } from '../contract/soap-envelope.validator';
import {
  ENS_SIGNATURE_HEADER,
  ENS_UNSUBSCRIBE_EVENT,
  type EnsEvent,
  ensSignature,
} from '../inbound/ens-notification';
import {
  SFMC_LIMITS,
  SFMC_RATE_LIMITS,
  SOAP_NAMESPACES,
  SUBSCRIBER_STATUSES,
  type SubscriberStatus,
} from '../sfmc-endpoints';
import { child, children, escapeXml, isXmlNode, parseXml, text, type XmlNode } from '../soap/soap-xml';

type Row = Record<string, string | number | boolean>;

export interface SfmcEmulatorOptions {
  /** Credentials the token endpoint accepts (default: any non-empty pair). */
  clientId?: string;
  clientSecret?: string;
  /** `expires_in` of issued tokens, in seconds (default 1080, SFMC's). */
  tokenLifetimeSeconds?: number;
  /** How long after its submission an async request completes (checked when its status is read; default 0). */
  asyncCompletionMs?: number;
  /** Data extensions that exist (default: `TesseraProfiles`, primary key TesseraId, any column). */
  dataExtensions?: string[];
  /** Whether async row errors quote the row's TesseraId (default true; false models messages that do not). */
  rowErrorsNameKey?: boolean;
}

export interface SfmcStoredSubscriber {
  SubscriberKey: string;
  EmailAddress: string;
  Status: SubscriberStatus;
}

export interface SfmcAsyncRequest {
  requestId: string;
  key: string;
  rows: Row[];
  submittedAt: number;
  requestStatus: 'Pending' | 'Complete';
  errors: { status: 'Error'; errorCode: string; message: string }[];
}

export interface SfmcEnsCallback {
  callbackId: string;
  callbackName: string;
  url: string;
  signatureKey: string;
  verificationKey: string;
  verified: boolean;
}

export interface SfmcEmulatorState {
  tokenRequests: number;
  dataExtensions: Record<string, Row[]>;
  asyncRequests: { requestId: string; key: string; rows: number; requestStatus: string; errors: number }[];
  subscribers: SfmcStoredSubscriber[];
  contactDeletions: { operationID: number; keys: string[] }[];
  callbacks: { callbackId: string; url: string; verified: boolean }[];
}

const DEFAULT_DATA_EXTENSION = 'TesseraProfiles';
const PRIMARY_KEY = 'TesseraId';
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const JSON_HEADERS = { 'content-type': 'application/json' };
const XML_HEADERS = { 'content-type': 'text/xml; charset=utf-8' };

/**
 * A local stand-in for SFMC, mounted by the sandbox at `/sandbox/sfmc`: the auth, REST and SOAP hosts under
 * one root. It issues and checks tokens (REST 401 `{ message: "Not Authorized", errorcode: 0, documentation }`,
 * SOAP security fault), validates bodies (REST 400 `{ message, errorcode, documentation }`, SOAP Client faults
 * and per-object Results), enforces Tessera's declared pacing (REST 429 + Retry-After; SOAP 500 + Server
 * fault, as SFMC throttles SOAP), runs async row requests, and keeps rows, subscribers, contact deletions and
 * ENS callbacks for `state()`.
 */
export class SfmcEmulator implements EspEmulator {
  readonly esp = 'sfmc';
  private readonly options: Required<Omit<SfmcEmulatorOptions, 'clientId' | 'clientSecret'>> &
    Pick<SfmcEmulatorOptions, 'clientId' | 'clientSecret'>;
  private tokens = new Map<string, { expiresAt: number; revoked: boolean }>();
  private tokenRequests = 0;
  private rows = new Map<string, Map<string, Row>>();
  private asyncRequests = new Map<string, SfmcAsyncRequest>();
  private subscribers = new Map<string, SfmcStoredSubscriber>();
  private contactDeletions: { operationID: number; keys: string[] }[] = [];
  private callbacks = new Map<string, SfmcEnsCallback>();
  private nextOperationId = 1;

  constructor(options: SfmcEmulatorOptions = {}) {
    this.options = {
      ...options,
      tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? SFMC_LIMITS.tokenLifetimeSeconds,
      asyncCompletionMs: options.asyncCompletionMs ?? 0,
      dataExtensions: options.dataExtensions ?? [DEFAULT_DATA_EXTENSION],
      rowErrorsNameKey: options.rowErrorsNameKey ?? true,
    };
    this.reset();
  }

  handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    const route = `${request.method} ${request.path}`;
    if (route === 'POST /v2/token') return this.issueToken(request, tools);
    if (route === 'POST /Service.asmx') return this.soap(request, tools);
    if (!this.authorized(request.headers['authorization'], tools)) {
      return this.errorResponse(401, 'Not Authorized');
    }
    const waitMs = tools.rateLimit('rest', SFMC_RATE_LIMITS);
    if (waitMs !== undefined) {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      const response = this.errorResponse(429, 'Too Many Requests');
      return { ...response, headers: { ...response.headers, 'retry-after': String(seconds) } };
    }
    let match: RegExpExecArray | null;
    if (
      request.method === 'POST' &&
      (match = /^\/hub\/v1\/dataevents\/key:([^/]+)\/rowset$/.exec(request.path))
    ) {
      return this.upsertRowset(decodeURIComponent(match[1] ?? ''), request);
    }
    if (
      request.method === 'PUT' &&
      (match = /^\/data\/v1\/async\/dataextensions\/key:([^/]+)\/rows$/.exec(request.path))
    ) {
      return this.submitAsyncRows(decodeURIComponent(match[1] ?? ''), request, tools);
    }
    if (
      request.method === 'GET' &&
      (match = /^\/data\/v1\/async\/([^/]+)\/(status|results)$/.exec(request.path))
    ) {
      return this.asyncRequest(decodeURIComponent(match[1] ?? ''), match[2] === 'status', tools);
    }
    if (
      request.method === 'GET' &&
      (match = /^\/data\/v1\/customobjectdata\/key\/([^/]+)\/rowset$/.exec(request.path))
    ) {
      return this.queryRows(decodeURIComponent(match[1] ?? ''), request);
    }
    if (route === 'POST /contacts/v1/contacts/actions/delete') return this.deleteContacts(request);
    if (route === 'POST /platform/v1/ens-verify') return this.verifyCallback(request);
    if (route === 'GET /platform/v1/tokenContext') {
      return {
        status: 200,
        headers: JSON_HEADERS,
        body: {
          enterprise: { id: 100000001 },
          organization: { id: 100000001, enterprise_id: 100000001, region: 'SANDBOX' },
          user: { id: 1, email: 'integration@tessera.invalid', culture: 'en-US', timezone: { offset: 0 } },
          application: { id: 'tessera-sandbox', features: {}, userId: '1' },
        },
      };
    }
    return this.errorResponse(404, `Resource not found: ${request.method} ${request.path}`, 404);
  }

  errorResponse(status: number, message: string, errorcode = 0): SandboxResponse {
    return { status, headers: JSON_HEADERS, body: { message, errorcode, documentation: '' } };
  }

  state(): SfmcEmulatorState {
    const dataExtensions: Record<string, Row[]> = {};
    for (const [key, rows] of this.rows) dataExtensions[key] = [...rows.values()].map((row) => ({ ...row }));
    return {
      tokenRequests: this.tokenRequests,
      dataExtensions,
      asyncRequests: [...this.asyncRequests.values()].map((job) => ({
        requestId: job.requestId,
        key: job.key,
        rows: job.rows.length,
        requestStatus: job.requestStatus,
        errors: job.errors.length,
      })),
      subscribers: [...this.subscribers.values()].map((subscriber) => ({ ...subscriber })),
      contactDeletions: this.contactDeletions.map((deletion) => ({ ...deletion, keys: [...deletion.keys] })),
      callbacks: [...this.callbacks.values()].map(({ callbackId, url, verified }) => ({
        callbackId,
        url,
        verified,
      })),
    };
  }

  reset(): void {
    this.tokens = new Map();
    this.tokenRequests = 0;
    this.rows = new Map(this.options.dataExtensions.map((key) => [key, new Map<string, Row>()]));
    this.asyncRequests = new Map();
    this.subscribers = new Map();
    this.contactDeletions = [];
    this.callbacks = new Map();
    this.nextOperationId = 1;
  }

  /** Makes every token issued so far fail, as when an admin revokes the package's tokens. */
  revokeTokens(): void {
    for (const token of this.tokens.values()) token.revoked = true;
  }

  /** Registers an ENS callback (what `POST /platform/v1/ens-callbacks` does) and returns its secrets. */
  createCallback(url: string, callbackName = 'tessera-unsubscribes'): SfmcEnsCallback {
    const callback: SfmcEnsCallback = {
      callbackId: randomUUID(),
      callbackName,
      url,
      signatureKey: Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64'),
      verificationKey: randomUUID(),
      verified: false,
    };
    this.callbacks.set(callback.callbackId, callback);
    return { ...callback };
  }

  /** The verification post ENS sends to a newly registered callback. */
  verificationRequest(callbackId: string): InboundRequest {
    const callback = this.callback(callbackId);
    return {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      rawBody: Buffer.from(JSON.stringify({ callbackId, verificationKey: callback.verificationKey })),
    };
  }

  /**
   * Records that a member clicked unsubscribe in an SFMC email (the subscriber becomes Unsubscribed) and
   * returns the ENS notification the callback receives, signed with its signature key.
   */
  recordUnsubscribe(input: {
    subscriberKey: string;
    email: string;
    callbackId?: string;
    atMs?: number;
  }): InboundRequest & { event: EnsEvent } {
    const callback = this.callback(input.callbackId ?? [...this.callbacks.keys()][0] ?? '');
    this.subscribers.set(input.subscriberKey, {
      SubscriberKey: input.subscriberKey,
      EmailAddress: input.email,
      Status: 'Unsubscribed',
    });
    const jobId = String(this.nextOperationId++);
    const event: EnsEvent = {
      eventCategoryType: ENS_UNSUBSCRIBE_EVENT,
      timestampUTC: input.atMs ?? Date.now(),
      compositeId: `${jobId}.1.${input.subscriberKey}.${ENS_UNSUBSCRIBE_EVENT}`,
      composite: { jobId, batchId: '1', listId: '1' },
      mid: 100000001,
      eid: 100000001,
      info: { subscriberKey: input.subscriberKey, emailAddress: input.email },
    };
    const rawBody = Buffer.from(JSON.stringify([event]));
    return {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [ENS_SIGNATURE_HEADER]: ensSignature(callback.signatureKey, rawBody),
      },
      rawBody,
      event,
    };
  }

  private callback(callbackId: string): SfmcEnsCallback {
    const callback = this.callbacks.get(callbackId);
    if (callback === undefined) throw new Error(`No ENS callback ${callbackId}: call createCallback first`);
    return callback;
  }

  private authorized(header: string | undefined, tools: EmulatorTools): boolean {
    const token = /^Bearer (\S+)$/.exec(header ?? '')?.[1];
    return token !== undefined && this.tokenValid(token, tools);
  }

  private tokenValid(token: string, tools: EmulatorTools): boolean {
    const known = this.tokens.get(token);
    return known !== undefined && !known.revoked && tools.clock.now() < known.expiresAt;
  }

  private issueToken(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    this.tokenRequests++;
    const body = parseJson(request.rawBody);
    if (!isRecord(body) || body['grant_type'] !== 'client_credentials') {
      return oauthError(400, 'unsupported_grant_type', 'Use "grant_type":"client_credentials".');
    }
    const { client_id: clientId, client_secret: clientSecret, account_id: accountId } = body;
    const accepted =
      typeof clientId === 'string' &&
      typeof clientSecret === 'string' &&
      clientId !== '' &&
      clientSecret !== '' &&
      (this.options.clientId === undefined || this.options.clientId === clientId) &&
      (this.options.clientSecret === undefined || this.options.clientSecret === clientSecret);
    if (!accepted) return oauthError(401, 'invalid_client', 'Client authentication failed.');
    if (accountId !== undefined && !/^[0-9]+$/.test(String(accountId))) {
      return oauthError(400, 'invalid_request', 'account_id must be the MID of a business unit.');
    }
    const token = `sfmc-sandbox-${randomUUID()}`;
    this.tokens.set(token, {
      expiresAt: tools.clock.now() + this.options.tokenLifetimeSeconds * 1000,
      revoked: false,
    });
    const root = `http://${request.headers['host'] ?? 'localhost'}${SANDBOX_PREFIX}/${this.esp}/`;
    return {
      status: 200,
      headers: JSON_HEADERS,
      body: {
        access_token: token,
        token_type: 'Bearer',
        expires_in: this.options.tokenLifetimeSeconds,
        scope:
          'data_extensions_read data_extensions_write list_and_subscribers_read list_and_subscribers_write',
        soap_instance_url: root,
        rest_instance_url: root,
      },
    };
  }

  private dataExtension(key: string): Map<string, Row> | undefined {
    return this.rows.get(key);
  }

  private missingDataExtension(key: string): SandboxResponse {
    return this.errorResponse(400, `Data extension with external key '${key}' does not exist`, 10000);
  }

  /** Synchronous upsert: every row is checked first and nothing is saved when one is invalid. */
  private upsertRowset(key: string, request: SandboxRequest): SandboxResponse {
    const rows = this.dataExtension(key);
    if (rows === undefined) return this.missingDataExtension(key);
    if (!isJson(request)) return this.errorResponse(415, 'Content-Type must be application/json');
    const body = parseJson(request.rawBody);
    if (!Array.isArray(body) || body.length === 0) {
      return this.errorResponse(
        400,
        'Request body must be a non-empty array of { keys, values } rows',
        10001,
      );
    }
    const parsed: Row[] = [];
    for (const [index, entry] of body.entries()) {
      const keys = isRecord(entry) ? entry['keys'] : undefined;
      const values = isRecord(entry) ? (entry['values'] ?? {}) : undefined;
      if (!isRecord(keys) || !isRecord(values)) {
        return this.errorResponse(
          400,
          `Row ${index} must be an object with "keys" and "values" objects`,
          10001,
        );
      }
      const row = { ...values, ...keys };
      const problem = rowProblem(row);
      if (problem !== undefined) {
        return {
          status: 400,
          headers: JSON_HEADERS,
          body: {
            message: `Unable to save rows for data extension ${key}`,
            errorcode: 10006,
            documentation: '',
            additionalErrors: [{ message: problem, errorcode: 10000, documentation: '' }],
          },
        };
      }
      parsed.push(row as Row);
    }
    for (const row of parsed) saveRow(rows, row);
    return { status: 200, headers: JSON_HEADERS, body };
  }

  private submitAsyncRows(key: string, request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    if (this.dataExtension(key) === undefined) return this.missingDataExtension(key);
    if (!isJson(request)) return this.errorResponse(415, 'Content-Type must be application/json');
    if (request.rawBody.length > SFMC_LIMITS.asyncRequestBytes) {
      return this.errorResponse(413, `Request body exceeds ${SFMC_LIMITS.asyncRequestBytes} bytes`, 10001);
    }
    const body = parseJson(request.rawBody);
    const items = isRecord(body) ? body['items'] : undefined;
    if (!Array.isArray(items) || items.length === 0) {
      return this.errorResponse(400, 'Request body must be an object with a non-empty "items" array', 10001);
    }
    if (items.length > SFMC_LIMITS.asyncRowsPerRequest) {
      return this.errorResponse(
        400,
        `"items" holds ${items.length} rows; at most ${SFMC_LIMITS.asyncRowsPerRequest} are accepted per request`,
        10001,
      );
    }
    if (!items.every(isRecord))
      return this.errorResponse(400, 'Every item must be an object of column values', 10001);
    const requestId = randomUUID();
    this.asyncRequests.set(requestId, {
      requestId,
      key,
      rows: items as Row[],
      submittedAt: tools.clock.now(),
      requestStatus: 'Pending',
      errors: [],
    });
    return { status: 202, headers: JSON_HEADERS, body: { requestId, resultMessages: [] } };
  }

  private asyncRequest(requestId: string, wantsStatus: boolean, tools: EmulatorTools): SandboxResponse {
    const job = this.asyncRequests.get(requestId);
    if (job === undefined) return this.errorResponse(404, `Request ${requestId} was not found`, 10002);
    if (
      job.requestStatus === 'Pending' &&
      tools.clock.now() >= job.submittedAt + this.options.asyncCompletionMs
    ) {
      this.completeAsync(job);
    }
    if (wantsStatus) {
      const at = new Date(tools.clock.now()).toISOString();
      return {
        status: 200,
        headers: JSON_HEADERS,
        body: {
          requestId,
          status: {
            callDateTime: new Date(job.submittedAt).toISOString(),
            ...(job.requestStatus === 'Complete' ? { completionDateTime: at, pickupDateTime: at } : {}),
            hasErrors: job.errors.length > 0,
            requestStatus: job.requestStatus,
            resultStatus:
              job.requestStatus === 'Pending' ? 'Pending' : job.errors.length > 0 ? 'Error' : 'OK',
            requestId,
          },
          resultMessages: [],
        },
      };
    }
    if (job.requestStatus === 'Pending') {
      return this.errorResponse(400, `Request ${requestId} has not completed; read its status first`, 10003);
    }
    return {
      status: 200,
      headers: JSON_HEADERS,
      body: {
        page: 1,
        pageSize: Math.max(50, job.errors.length),
        count: job.errors.length,
        items: job.errors,
        requestId,
      },
    };
  }

  /** Applies an async request row by row: valid rows are saved, invalid ones become errors. */
  private completeAsync(job: SfmcAsyncRequest): void {
    const rows = this.dataExtension(job.key) ?? new Map<string, Row>();
    for (const row of job.rows) {
      const problem = rowProblem(row);
      if (problem === undefined) {
        saveRow(rows, row);
        continue;
      }
      const key = row[PRIMARY_KEY];
      job.errors.push({
        status: 'Error',
        errorCode: 'InvalidValue',
        message:
          this.options.rowErrorsNameKey && typeof key === 'string'
            ? `${problem} (${PRIMARY_KEY} '${key}')`
            : problem,
      });
    }
    job.requestStatus = 'Complete';
  }

  private queryRows(key: string, request: SandboxRequest): SandboxResponse {
    const rows = this.dataExtension(key);
    if (rows === undefined) return this.missingDataExtension(key);
    const filter = request.query.get('$filter');
    const match = /^(\w+) eq '((?:[^']|'')*)'$/.exec(filter ?? '');
    if (filter !== null && match === null) {
      return this.errorResponse(
        400,
        `Unsupported $filter: ${filter} (emulated: "<Field> eq '<value>'")`,
        10001,
      );
    }
    const field = match?.[1]?.toLowerCase();
    const value = match?.[2]?.replace(/''/g, "'");
    const found = [...rows.values()].filter((row) =>
      field === undefined
        ? true
        : Object.entries(row).some(([name, cell]) => name.toLowerCase() === field && String(cell) === value),
    );
    const items = found.map((row) => {
      const values: Record<string, unknown> = {};
      for (const [name, cell] of Object.entries(row)) {
        if (name !== PRIMARY_KEY) values[name.toLowerCase()] = typeof cell === 'string' ? cell : String(cell);
      }
      return { keys: { [PRIMARY_KEY.toLowerCase()]: row[PRIMARY_KEY] }, values };
    });
    return {
      status: 200,
      headers: JSON_HEADERS,
      body: { customObjectKey: key, pageSize: 2500, page: 1, count: items.length, items },
    };
  }

  private deleteContacts(request: SandboxRequest): SandboxResponse {
    if (request.query.get('type') !== 'keys') {
      return this.errorResponse(
        400,
        'Query parameter type must be "keys" for deletion by contact key',
        10001,
      );
    }
    const body = parseJson(request.rawBody);
    const values = isRecord(body) ? body['values'] : undefined;
    if (
      !Array.isArray(values) ||
      values.length === 0 ||
      !values.every((value) => typeof value === 'string' && value !== '')
    ) {
      return this.errorResponse(400, '"values" must be a non-empty array of contact keys', 10001);
    }
    if (isRecord(body) && body['DeleteOperationType'] !== 'ContactAndAttributes') {
      return this.errorResponse(400, 'DeleteOperationType must be "ContactAndAttributes"', 10001);
    }
    const keys = values as string[];
    for (const key of keys) {
      this.subscribers.delete(key);
      for (const rows of this.rows.values()) rows.delete(key);
    }
    const operationID = this.nextOperationId++;
    this.contactDeletions.push({ operationID, keys: [...keys] });
    return {
      status: 200,
      headers: JSON_HEADERS,
      body: {
        operationID,
        operationInitiated: true,
        requestServiceMessageID: randomUUID(),
        responseDateTime: new Date().toISOString(),
        hasErrors: false,
        resultMessages: [],
        serviceMessageID: randomUUID(),
      },
    };
  }

  private verifyCallback(request: SandboxRequest): SandboxResponse {
    const body = parseJson(request.rawBody);
    const callbackId = isRecord(body) ? body['callbackId'] : undefined;
    const verificationKey = isRecord(body) ? body['verificationKey'] : undefined;
    const callback = typeof callbackId === 'string' ? this.callbacks.get(callbackId) : undefined;
    if (callback === undefined || callback.verificationKey !== verificationKey) {
      return this.errorResponse(400, 'Invalid callbackId or verificationKey', 10001);
    }
    callback.verified = true;
    return {
      status: 200,
      headers: JSON_HEADERS,
      body: { callbackId: callback.callbackId, callbackName: callback.callbackName, url: callback.url },
    };
  }

  private soap(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    const document = parseXml(request.rawBody.toString('utf8'));
    const envelope = child(document, 'Envelope');
    if (envelope === undefined)
      return soapFault('soap:Client', 'Server was unable to read request. The body is not a SOAP envelope.');
    const token = text(child(envelope, 'Header'), 'fueloauth');
    if (token === undefined || !this.tokenValid(token.trim(), tools)) {
      return soapFault(
        'q0:Security',
        'Login Failed',
        `xmlns:q0="http://schemas.xmlsoap.org/ws/2002/12/secext"`,
      );
    }
    if (tools.rateLimit('soap', SFMC_RATE_LIMITS) !== undefined) {
      return soapFault('soap:Server', 'The server is busy: too many requests. Please retry after some time.');
    }
    const body = child(envelope, 'Body');
    const method = (['Create', 'Update'] as const).find((name) => isXmlNode(body?.[`${name}Request`]));
    if (method === undefined)
      return soapFault(
        'soap:Client',
        'Server was unable to read request. Body has no CreateRequest or UpdateRequest.',
      );
    const structural = validateSoapEnvelope({
      headers: request.headers,
      body: request.rawBody.toString('utf8'),
    }).filter((problem) => /Status must be|SOAPAction|xsi:type|has no Objects/.test(problem));
    if (structural.length > 0) {
      return soapFault('soap:Client', `Server was unable to read request. ${structural.join('; ')}`);
    }
    const methodRequest = body?.[`${method}Request`];
    const upsert = children(child(child(methodRequest, 'Options'), 'SaveOptions'), 'SaveOption').some(
      (option) => text(option, 'SaveAction') === 'UpdateAdd',
    );
    const results = children(methodRequest, 'Objects').map((object, ordinal) =>
      this.saveSubscriber(
        object,
        ordinal,
        method === 'Update' || upsert ? (method === 'Update' ? 'update' : 'upsert') : 'create',
      ),
    );
    const failed = results.filter((result) => result.statusCode !== 'OK').length;
    const overall = failed === 0 ? 'OK' : failed === results.length ? 'Error' : 'Has Errors';
    const xml =
      '<?xml version="1.0" encoding="utf-8"?>' +
      `<soap:Envelope xmlns:soap="${SOAP_NAMESPACES.envelope}" xmlns:xsi="${SOAP_NAMESPACES.xsi}">` +
      `<soap:Body><${method}Response xmlns="${SOAP_NAMESPACES.partnerApi}">` +
      results
        .map(
          (result) =>
            `<Results><StatusCode>${result.statusCode}</StatusCode><StatusMessage>${escapeXml(result.statusMessage)}</StatusMessage>` +
            `<OrdinalID>${result.ordinal}</OrdinalID>${result.errorCode === undefined ? '' : `<ErrorCode>${result.errorCode}</ErrorCode>`}` +
            '<NewID>0</NewID></Results>',
        )
        .join('') +
      `<RequestID>${randomUUID()}</RequestID><OverallStatus>${overall}</OverallStatus>` +
      `</${method}Response></soap:Body></soap:Envelope>`;
    return { status: 200, headers: XML_HEADERS, body: xml };
  }

  private saveSubscriber(
    object: unknown,
    ordinal: number,
    mode: 'create' | 'update' | 'upsert',
  ): { statusCode: 'OK' | 'Error'; statusMessage: string; ordinal: number; errorCode?: string } {
    const node: XmlNode = isXmlNode(object) ? object : {};
    const key = text(node, 'SubscriberKey');
    const email = text(node, 'EmailAddress');
    const status = (text(node, 'Status') ?? 'Active') as SubscriberStatus;
    if (key === undefined || key === '') {
      return {
        statusCode: 'Error',
        statusMessage: 'SubscriberKey is required.',
        ordinal,
        errorCode: '12000',
      };
    }
    if (email === undefined || !EMAIL.test(email)) {
      return { statusCode: 'Error', statusMessage: 'Invalid email address.', ordinal, errorCode: '12001' };
    }
    const existing = this.subscribers.get(key);
    if (existing === undefined && mode === 'update') {
      return {
        statusCode: 'Error',
        statusMessage: 'The subscriber does not exist.',
        ordinal,
        errorCode: '12003',
      };
    }
    if (existing !== undefined && mode === 'create') {
      return {
        statusCode: 'Error',
        statusMessage: 'The subscriber already exists.',
        ordinal,
        errorCode: '12014',
      };
    }
    if (!(SUBSCRIBER_STATUSES as readonly string[]).includes(status)) {
      return { statusCode: 'Error', statusMessage: 'Invalid status.', ordinal, errorCode: '12002' };
    }
    this.subscribers.set(key, { SubscriberKey: key, EmailAddress: email, Status: status });
    return {
      statusCode: 'OK',
      statusMessage: existing === undefined ? 'Created Subscriber.' : 'Updated Subscriber.',
      ordinal,
    };
  }
}

/** What SFMC would refuse in a row (the emulator's data extension: TesseraId key, EmailAddress typed, booleans). */
function rowProblem(row: Record<string, unknown>): string | undefined {
  const key = row[PRIMARY_KEY];
  if (typeof key !== 'string' || key === '') return `The primary key column ${PRIMARY_KEY} is required`;
  if (key.length > 254) return `${PRIMARY_KEY} is longer than 254 characters`;
  for (const [column, value] of Object.entries(row)) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      return `The value of column ${column} must be a string, number or boolean`;
    }
  }
  const email = row['EmailAddress'];
  if (email !== undefined && email !== '' && (typeof email !== 'string' || !EMAIL.test(email))) {
    return `EmailAddress '${String(email)}' is not a valid email address`;
  }
  return undefined;
}

function saveRow(rows: Map<string, Row>, row: Row): void {
  const key = String(row[PRIMARY_KEY]);
  rows.set(key, { ...rows.get(key), ...row });
}

function soapFault(code: string, message: string, namespace = ''): SandboxResponse {
  return {
    status: 500,
    headers: XML_HEADERS,
    body:
      '<?xml version="1.0" encoding="utf-8"?>' +
      `<soap:Envelope xmlns:soap="${SOAP_NAMESPACES.envelope}"><soap:Body><soap:Fault>` +
      `<faultcode${namespace === '' ? '' : ` ${namespace}`}>${code}</faultcode><faultstring>${escapeXml(message)}</faultstring>` +
      '</soap:Fault></soap:Body></soap:Envelope>',
  };
}

function oauthError(status: number, error: string, description: string): SandboxResponse {
  return {
    status,
    headers: JSON_HEADERS,
    body: { error, error_description: description, error_uri: 'https://developer.salesforce.com/docs' },
  };
}

function isJson(request: SandboxRequest): boolean {
  return /^application\/json\b/i.test(request.headers['content-type'] ?? '');
}

function parseJson(rawBody: Buffer): unknown {
  try {
    return JSON.parse(rawBody.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
