import { fetch } from 'undici';
import type { ConnectionGate } from './connection-gate';
import { classifyResponse, RejectedError, RetryableError } from './delivery-errors';
import { ALLOWED_HOSTS_SETTING, DestinationHostError, type DestinationHostPolicy } from './destination-hosts';
import { type RateBudgetPacing, rateClaimsFor } from './rate-budgets';
import type { RateDone } from './rate-gate';
import { Clock, systemClock } from './retry-policy';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpClientOptions {
  /** Every request path is resolved against this URL; redirects may not leave its origin. */
  baseUrl: string;
  /**
   * Where requests may go: every URL (redirects included) is checked before it leaves, and every connection's
   * addresses after its host resolved. A refusal throws a DestinationHostError.
   */
  hosts: DestinationHostPolicy;
  /** Sent with every request (e.g. the ESP's auth header). */
  headers?: Record<string, string>;
  /** Per-request timeout in ms (default 30 s). */
  timeoutMs?: number;
  /** Redirects followed per request (default 5). */
  maxRedirects?: number;
  /** Used to resolve `Retry-After` dates. */
  clock?: Pick<Clock, 'now'>;
  /** Content type of JSON bodies (default `application/json`; Klaviyo's is `application/vnd.api+json`). */
  contentType?: string;
  /** Caps requests in flight: each request holds one of `limit` slots under `key` until its body is read. */
  connections?: { gate: ConnectionGate; key: string; limit: number };
  /**
   * Paces every request (redirects included) by the destination's rate budgets: each budget whose pattern
   * matches is acquired through the gate before the request leaves, after its connection slot.
   */
  rateBudgets?: RateBudgetPacing;
}

export interface RequestOptions {
  /** Serialised as JSON. */
  json?: unknown;
  /** A body sent as it is (a SOAP envelope, a form), with its `contentType`; ignored when `json` is set. */
  body?: string;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface HttpResponse<T> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response says it is JSON, the text otherwise, undefined when empty. */
  body: T;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** The `done` of a request no budget counts. */
const answered: RateDone = () => undefined;

/**
 * The one HTTP client destinations use: JSON in and out, a timeout on every request, same-origin
 * redirects only, and every non-2xx response thrown as a classified DeliveryError.
 */
export class DestinationHttpClient {
  private readonly base: URL;
  private readonly hosts: DestinationHostPolicy;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxRedirects: number;
  private readonly clock: Pick<Clock, 'now'>;
  private readonly contentType: string;
  private readonly connections: HttpClientOptions['connections'];
  private readonly rateBudgets: RateBudgetPacing | undefined;

  constructor(options: HttpClientOptions) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    this.hosts = options.hosts;
    this.headers = options.headers ?? {};
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxRedirects = options.maxRedirects ?? 5;
    this.clock = options.clock ?? systemClock;
    this.contentType = options.contentType ?? 'application/json';
    this.connections = options.connections;
    this.rateBudgets = options.rateBudgets;
  }

  get<T = unknown>(path: string, options?: RequestOptions): Promise<HttpResponse<T>> {
    return this.request<T>('GET', path, options);
  }

  post<T = unknown>(path: string, json?: unknown, options?: RequestOptions): Promise<HttpResponse<T>> {
    return this.request<T>('POST', path, { ...options, json });
  }

  put<T = unknown>(path: string, json?: unknown, options?: RequestOptions): Promise<HttpResponse<T>> {
    return this.request<T>('PUT', path, { ...options, json });
  }

  patch<T = unknown>(path: string, json?: unknown, options?: RequestOptions): Promise<HttpResponse<T>> {
    return this.request<T>('PATCH', path, { ...options, json });
  }

  delete<T = unknown>(path: string, options?: RequestOptions): Promise<HttpResponse<T>> {
    return this.request<T>('DELETE', path, options);
  }

  /** Resolves a path (leading slash or not) against the base URL, keeping the base URL's path prefix. */
  url(path: string, query?: RequestOptions['query']): URL {
    const url = new URL(path.replace(/^\/+/, ''), this.base);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  async request<T = unknown>(
    method: HttpMethod,
    path: string,
    options: RequestOptions = {},
  ): Promise<HttpResponse<T>> {
    // The slot is taken before the budget: a request counted while it waits for a connection would reach
    // the ESP later than it was counted, and the ESP counts arrivals.
    if (this.connections === undefined) return this.send<T>(method, path, options);
    const { gate, key, limit } = this.connections;
    const release = await gate.acquire(key, limit);
    try {
      return await this.send<T>(method, path, options);
    } finally {
      release();
    }
  }

  /** Refuses a URL the destination may not call, before anything is counted or sent. */
  private checkHost(url: URL): void {
    const refusal = this.hosts.refusal(url);
    if (refusal !== undefined) throw new DestinationHostError(`Destination host refused: ${refusal}`);
  }

  /**
   * Waits until every rate budget this request counts against has room, and takes it; the returned function is
   * called once the ESP has answered (the gate then counts the request from that moment).
   */
  private async pace(method: HttpMethod, url: URL): Promise<RateDone> {
    if (this.rateBudgets === undefined) return answered;
    const claims = rateClaimsFor(this.rateBudgets, method, url);
    return claims.length === 0 ? answered : this.rateBudgets.gate.acquireAll(claims);
  }

  private async send<T>(method: HttpMethod, path: string, options: RequestOptions): Promise<HttpResponse<T>> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    let url = this.url(path, options.query);
    this.checkHost(url);
    // The timeout starts once the request may leave: waiting for a budget is not the ESP being slow.
    let done = await this.pace(method, url);
    const signal = AbortSignal.timeout(timeoutMs);
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...this.headers,
      ...options.headers,
    };
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = this.contentType;
    } else if (options.body !== undefined) {
      body = options.body;
      headers['content-type'] = options.contentType ?? 'text/plain; charset=utf-8';
    }
    let currentMethod: HttpMethod = method;
    try {
      for (let redirects = 0; ; redirects++) {
        if (redirects > 0) {
          // Same origin, but perhaps out of the path the deployment allows (the embedded sandbox's).
          this.checkHost(url);
          done = await this.pace(currentMethod, url);
        }
        let response: Awaited<ReturnType<typeof fetch>>;
        try {
          response = await fetch(url, {
            method: currentMethod,
            headers,
            body,
            redirect: 'manual',
            signal,
            dispatcher: this.hosts.dispatcherFor(url),
          });
        } finally {
          // Answered (or failed): the ESP has seen the request by now, if it ever will.
          done();
        }
        const location = response.headers.get('location');
        if (REDIRECT_STATUSES.has(response.status) && location !== null) {
          await response.body?.cancel();
          const target = new URL(location, url);
          if (target.origin !== this.base.origin) {
            throw new RejectedError(
              `Refused redirect to another host: ${target.host} (only same-origin redirects are followed)`,
              { status: response.status },
            );
          }
          if (redirects >= this.maxRedirects) {
            throw new RejectedError(
              `Too many redirects (more than ${this.maxRedirects}) from ${method} ${path}`,
              {
                status: response.status,
              },
            );
          }
          if (response.status === 303) {
            currentMethod = 'GET';
            body = undefined;
            delete headers['content-type'];
          }
          url = target;
          continue;
        }
        const text = await response.text();
        const error = classifyResponse(response.status, response.headers, text, this.clock);
        if (error) throw error;
        return {
          status: response.status,
          // undici's own Headers: the same interface as the global one.
          headers: response.headers as unknown as Headers,
          body: parseBody(response.headers, text) as T,
        };
      }
    } catch (error) {
      // undici's errors come from another realm than jest's globals: compare names, not classes.
      const { name, message, cause } = (error ?? {}) as {
        name?: unknown;
        message?: unknown;
        cause?: unknown;
      };
      if (name === 'TimeoutError') {
        throw new RetryableError(`Request timed out after ${timeoutMs} ms: ${method} ${path}`);
      }
      if (name === 'TypeError' && message === 'fetch failed') {
        const causeMessage = (cause as { message?: unknown } | undefined)?.message;
        // The connection's lookup refused the addresses the host resolved to: for good, naming host and address.
        if ((cause as { name?: unknown } | undefined)?.name === 'DestinationAddressError') {
          throw new DestinationHostError(
            `Destination host refused: ${String(causeMessage)}; ${ALLOWED_HOSTS_SETTING} can allow it`,
          );
        }
        const detail = typeof causeMessage === 'string' ? `: ${causeMessage}` : '';
        throw new RetryableError(`Network error on ${method} ${path}${detail}`);
      }
      throw error;
    }
  }
}

function parseBody(headers: Pick<Headers, 'get'>, text: string): unknown {
  if (text === '') return undefined;
  const type = headers.get('content-type') ?? '';
  return /[/+]json\b/i.test(type) ? JSON.parse(text) : text;
}
