import { randomUUID } from 'node:crypto';
import {
  type EmulatorTools,
  type EspEmulator,
  type InboundRequest,
  RateBudgets,
  SANDBOX_PREFIX,
  type SandboxRequest,
  type SandboxResponse,
} from '@tessera/destination-kit';
import type { EnsEvent } from '../inbound/ens-notification';
import { SFMC_LIMITS, SFMC_RATE_BUDGETS } from '../sfmc-endpoints';
import { child, parseXml, text } from '../soap/soap-xml';
import type { Row } from './data-extension-table';
import { DataExtensionApi } from './sfmc-data-extension-api';
import { EnsCallbacks, type SfmcEnsCallback } from './sfmc-ens-callbacks';
import {
  parseSfmcEmulatorConfig,
  type SfmcClientConfig,
  type SfmcEmulatorConfig,
} from './sfmc-emulator-config';
import {
  isRecord,
  JSON_HEADERS,
  oauthError,
  parseJson,
  rateLimited,
  restError,
  soapFault,
} from './sfmc-responses';
import { type SfmcStoredSubscriber, SoapSubscribers } from './sfmc-soap-subscribers';

export type { SfmcStoredSubscriber } from './sfmc-soap-subscribers';
export type { SfmcAsyncRequest } from './sfmc-data-extension-api';
export type { SfmcEnsCallback } from './sfmc-ens-callbacks';

export interface SfmcEmulatorOptions {
  /** The tenant's clients and data extensions (see `configure`); default: none, as a new tenant. */
  config?: unknown;
  /** `expires_in` of issued tokens, in seconds (default 1080, SFMC's). */
  tokenLifetimeSeconds?: number;
  /** How long after its submission an async request completes (checked when its status is read; default 0). */
  asyncCompletionMs?: number;
  /** Whether async row errors quote the row's primary key (default true; false models messages that do not). */
  rowErrorsNameKey?: boolean;
}

export interface SfmcEmulatorState {
  tokenRequests: number;
  dataExtensions: Record<string, Row[]>;
  asyncRequests: { requestId: string; key: string; rows: number; requestStatus: string; errors: number }[];
  subscribers: SfmcStoredSubscriber[];
  contactDeletions: { operationID: number; keys: string[] }[];
  callbacks: { callbackId: string; url: string; verified: boolean }[];
}

interface IssuedToken {
  clientId: string;
  expiresAt: number;
  revoked: boolean;
}

/** SFMC's answer to unknown client credentials (`/v2/token`, 401 invalid_client). */
export const INVALID_CLIENT_DESCRIPTION =
  'Client authentication failed. Make sure that the client ID and client secret are valid and that the package is installed and enabled.';

/** Paths with the ids and keys in them replaced, for the sandbox's request statistics. */
const ENDPOINT_TEMPLATES: [RegExp, string][] = [
  [/^\/hub\/v1\/dataevents\/key:[^/]+\/rowset$/, '/hub/v1/dataevents/key:{id}/rowset'],
  [/^\/data\/v1\/async\/dataextensions\/key:[^/]+\/rows$/, '/data/v1/async/dataextensions/key:{id}/rows'],
  [/^\/data\/v1\/async\/[^/]+\/(status|results)$/, '/data/v1/async/{id}/$1'],
  [/^\/data\/v1\/customobjectdata\/key\/[^/]+\/rowset$/, '/data/v1/customobjectdata/key/{id}/rowset'],
];

/**
 * A local stand-in for one SFMC tenant, mounted by the sandbox at `/sandbox/sfmc`: the auth, REST and SOAP
 * hosts under one root. It knows only the clients and data extensions of its configuration; it issues tokens
 * to configured clients (401 invalid_client otherwise) and checks them (REST 401 `Not Authorized`, SOAP
 * security fault), checks rows against the data extension's columns (rowset 400 with `additionalErrors`, async
 * row errors), refuses bodies over 5 MB (413), throttles from the destination's own `SFMC_RATE_BUDGETS` (REST
 * and tokens 429 + Retry-After, SOAP HTTP 500 + Server fault), runs async row requests, and keeps rows,
 * subscribers, contact deletions and ENS callbacks for `state()`.
 */
export class SfmcEmulator implements EspEmulator {
  readonly esp = 'sfmc';
  readonly maxBodyBytes = SFMC_LIMITS.requestBytes;
  private readonly tokenLifetimeSeconds: number;
  private readonly budgets = new RateBudgets(SFMC_RATE_BUDGETS);
  private config: SfmcEmulatorConfig = { clients: [], dataExtensions: [] };
  private readonly dataExtensions: DataExtensionApi;
  private tokens = new Map<string, IssuedToken>();
  private tokenRequests = 0;
  private readonly subscribers = new SoapSubscribers();
  private readonly callbacks = new EnsCallbacks();
  private contactDeletions: { operationID: number; keys: string[] }[] = [];
  private nextOperationId = 1;

  constructor(options: SfmcEmulatorOptions = {}) {
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? SFMC_LIMITS.tokenLifetimeSeconds;
    this.dataExtensions = new DataExtensionApi({
      asyncCompletionMs: options.asyncCompletionMs ?? 0,
      rowErrorsNameKey: options.rowErrorsNameKey ?? true,
    });
    if (options.config !== undefined) this.configure(options.config);
  }

  /**
   * Sets the tenant's clients and data extensions (`SfmcEmulatorConfig`), after validating it: a bad one
   * throws an Error listing each problem with its JSON pointer. Rows and tokens are forgotten.
   */
  configure(config: unknown): void {
    this.config = parseSfmcEmulatorConfig(config);
    this.dataExtensions.configure(this.config.dataExtensions);
    this.reset();
  }

  configuration(): SfmcEmulatorConfig {
    return structuredClone(this.config);
  }

  endpointTemplate(_method: string, path: string): string | undefined {
    for (const [pattern, template] of ENDPOINT_TEMPLATES) {
      if (pattern.test(path)) return path.replace(pattern, template);
    }
    return undefined;
  }

  handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    const throttled = this.throttle(request, tools);
    if (throttled !== undefined) return throttled;
    const route = `${request.method} ${request.path}`;
    if (route === 'POST /v2/token') return this.issueToken(request, tools);
    if (route === 'POST /Service.asmx') return this.soap(request, tools);
    const client = this.clientOf(request.headers['authorization'], tools);
    if (client === undefined) return this.errorResponse(401, 'Not Authorized');
    let match: RegExpExecArray | null;
    if (
      request.method === 'POST' &&
      (match = /^\/hub\/v1\/dataevents\/key:([^/]+)\/rowset$/.exec(request.path))
    ) {
      return this.dataExtensions.upsertRowset(decodeURIComponent(match[1] ?? ''), request);
    }
    if (
      request.method === 'PUT' &&
      (match = /^\/data\/v1\/async\/dataextensions\/key:([^/]+)\/rows$/.exec(request.path))
    ) {
      return this.dataExtensions.submitAsyncRows(decodeURIComponent(match[1] ?? ''), request, tools);
    }
    if (
      request.method === 'GET' &&
      (match = /^\/data\/v1\/async\/([^/]+)\/(status|results)$/.exec(request.path))
    ) {
      return this.dataExtensions.asyncRequest(
        decodeURIComponent(match[1] ?? ''),
        match[2] === 'status',
        tools,
      );
    }
    if (
      request.method === 'GET' &&
      (match = /^\/data\/v1\/customobjectdata\/key\/([^/]+)\/rowset$/.exec(request.path))
    ) {
      return this.dataExtensions.queryRows(decodeURIComponent(match[1] ?? ''), request);
    }
    if (route === 'POST /contacts/v1/contacts/actions/delete') return this.deleteContacts(request);
    if (route === 'POST /platform/v1/ens-verify') return this.callbacks.verify(request.rawBody);
    if (route === 'GET /platform/v1/tokenContext') return this.tokenContext(client);
    return this.errorResponse(404, `Resource not found: ${request.method} ${request.path}`, 404);
  }

  errorResponse(status: number, message: string, errorcode = 0): SandboxResponse {
    return restError(status, message, errorcode);
  }

  state(): SfmcEmulatorState {
    return {
      tokenRequests: this.tokenRequests,
      dataExtensions: this.dataExtensions.rows(),
      asyncRequests: this.dataExtensions.asyncSummary(),
      subscribers: this.subscribers.all(),
      contactDeletions: this.contactDeletions.map((deletion) => ({ ...deletion, keys: [...deletion.keys] })),
      callbacks: this.callbacks.list(),
    };
  }

  /** Forgets rows, tokens, subscribers, requests and callbacks; the configuration stays. */
  reset(): void {
    this.tokens = new Map();
    this.tokenRequests = 0;
    this.dataExtensions.clear();
    this.subscribers.clear();
    this.contactDeletions = [];
    this.callbacks.clear();
    this.nextOperationId = 1;
  }

  /** Makes every token issued so far fail, as when an admin revokes the package's tokens. */
  revokeTokens(): void {
    for (const token of this.tokens.values()) token.revoked = true;
  }

  /** Registers an ENS callback (what `POST /platform/v1/ens-callbacks` does) and returns its secrets. */
  createCallback(url: string, callbackName = 'tessera-unsubscribes'): SfmcEnsCallback {
    return this.callbacks.create(url, callbackName);
  }

  /** The verification post ENS sends to a newly registered callback. */
  verificationRequest(callbackId: string): InboundRequest {
    return this.callbacks.verificationRequest(callbackId);
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
    const notification = this.callbacks.unsubscribeNotification(input);
    this.subscribers.set({
      SubscriberKey: input.subscriberKey,
      EmailAddress: input.email,
      Status: 'Unsubscribed',
    });
    return notification;
  }

  /**
   * Counts the request against every budget of `SFMC_RATE_BUDGETS` it falls under — the table the destination
   * paces itself by — and answers as SFMC throttles when one is full: 429 + Retry-After on REST and token
   * requests, HTTP 500 with a Server fault on SOAP.
   */
  private throttle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse | undefined {
    for (const budget of this.budgets.matching(request.method, request.path)) {
      const waitMs = tools.rateLimit(budget.name, budget.windows);
      if (waitMs === undefined) continue;
      return budget.name === 'soap'
        ? soapFault('soap:Server', 'The server is busy: too many requests. Please retry after some time.')
        : rateLimited(waitMs);
    }
    return undefined;
  }

  private clientOf(header: string | undefined, tools: EmulatorTools): SfmcClientConfig | undefined {
    const token = /^Bearer (\S+)$/.exec(header ?? '')?.[1];
    return token === undefined ? undefined : this.tokenClient(token, tools);
  }

  /** The configured client a live token was issued to. */
  private tokenClient(token: string, tools: EmulatorTools): SfmcClientConfig | undefined {
    const known = this.tokens.get(token);
    if (known === undefined || known.revoked || tools.clock.now() >= known.expiresAt) return undefined;
    return this.config.clients.find((client) => client.clientId === known.clientId);
  }

  private issueToken(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    this.tokenRequests++;
    const body = parseJson(request.rawBody);
    if (!isRecord(body) || body['grant_type'] !== 'client_credentials') {
      return oauthError(
        400,
        'unsupported_grant_type',
        'Use "authorization_code" or "refresh_token" or "client_credentials" or "urn:ietf:params:oauth:grant-type:jwt-bearer" as the grant_type.',
      );
    }
    const { client_id: clientId, client_secret: clientSecret, account_id: accountId } = body;
    const client = this.config.clients.find(
      (candidate) => candidate.clientId === clientId && candidate.clientSecret === clientSecret,
    );
    if (client === undefined) return oauthError(401, 'invalid_client', INVALID_CLIENT_DESCRIPTION);
    if (accountId !== undefined && !/^[0-9]+$/.test(String(accountId))) {
      return oauthError(400, 'invalid_request', 'account_id must be the MID of a business unit.');
    }
    const token = `sfmc-sandbox-${randomUUID()}`;
    this.tokens.set(token, {
      clientId: client.clientId,
      expiresAt: tools.clock.now() + this.tokenLifetimeSeconds * 1000,
      revoked: false,
    });
    const root = `http://${request.headers['host'] ?? 'localhost'}${SANDBOX_PREFIX}/${this.esp}/`;
    return {
      status: 200,
      headers: JSON_HEADERS,
      body: {
        access_token: token,
        token_type: 'Bearer',
        expires_in: this.tokenLifetimeSeconds,
        scope:
          'data_extensions_read data_extensions_write list_and_subscribers_read list_and_subscribers_write',
        soap_instance_url: root,
        rest_instance_url: root,
      },
    };
  }

  private tokenContext(client: SfmcClientConfig): SandboxResponse {
    const mid = Number(client.accountId ?? 100000001);
    return {
      status: 200,
      headers: JSON_HEADERS,
      body: {
        enterprise: { id: 100000001 },
        organization: { id: mid, enterprise_id: 100000001, region: 'SANDBOX' },
        user: { id: 1, email: 'integration@tessera.invalid', culture: 'en-US', timezone: { offset: 0 } },
        application: { id: client.clientId, features: {}, userId: '1' },
      },
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
      this.dataExtensions.deleteContact(key);
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

  private soap(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    const envelope = child(parseXml(request.rawBody.toString('utf8')), 'Envelope');
    if (envelope === undefined) {
      return soapFault('soap:Client', 'Server was unable to read request. The body is not a SOAP envelope.');
    }
    const token = text(child(envelope, 'Header'), 'fueloauth');
    if (token === undefined || this.tokenClient(token.trim(), tools) === undefined) {
      return soapFault(
        'q0:Security',
        'Login Failed',
        `xmlns:q0="http://schemas.xmlsoap.org/ws/2002/12/secext"`,
      );
    }
    return this.subscribers.answer(request, envelope);
  }
}
