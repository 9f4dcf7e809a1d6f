import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '../retry-policy';
import type { EmulatorTools, EspEmulator, SandboxRequest, SandboxResponse } from './esp-emulator';
import { WindowRateLimiter } from './window-rate-limiter';

/** Where the sandbox is mounted in the all-in-one process. */
export const SANDBOX_PREFIX = '/sandbox';

/** The faults the sandbox can be told to inject in front of an emulator. */
export type SandboxFaultKind = 'server-error' | 'rate-limit' | 'timeout' | 'unauthorized';
export const SANDBOX_FAULT_KINDS: readonly SandboxFaultKind[] = [
  'server-error',
  'rate-limit',
  'timeout',
  'unauthorized',
];

export interface SandboxFault {
  kind: SandboxFaultKind;
  /** How many requests it hits before it wears off (default 1). */
  times?: number;
  /** Only requests whose path (below the mount) starts with this are hit. */
  pathPrefix?: string;
  /** `server-error`: the status (default 500). */
  status?: number;
  /** `rate-limit`: the Retry-After it announces, in seconds (default 1). */
  retryAfterSeconds?: number;
}

/** One request the sandbox saw, as the destination sent it. */
export interface SandboxExchange {
  esp: string;
  method: string;
  /** Path below the mount, with the query string. */
  path: string;
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
  status: number;
  /** The fault that answered it, if any. */
  fault?: SandboxFaultKind;
}

export interface EspSandboxOptions {
  clock?: Clock;
  /** How long a `timeout` fault holds a request before answering 504 (default 120 s; clients give up sooner). */
  holdMs?: number;
  /** Keep every exchange for `exchanges()` (tests and the harness; default false). */
  record?: boolean;
  /** Start with every emulator's rate limits lifted (default false). */
  limitsLifted?: boolean;
}

interface ArmedFault extends SandboxFault {
  remaining: number;
}

const CONTROL_SEGMENT = '/_sandbox';

class SandboxControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The ESP sandbox: routes `/sandbox/{esp}/…` to each destination's emulator, in front of which it can inject
 * faults (5xx, 429 storms, timeouts, 401) and enforce or lift the emulators' rate limits. Framework-free: the
 * all-in-one app mounts `handle` on its HTTP server; `listen` runs it alone.
 *
 * Control API, per emulator, under `/sandbox/{esp}/_sandbox/`: `GET state`, `POST reset`, `POST faults`
 * (a SandboxFault as JSON), `DELETE faults`, `POST limits` (`{"lifted": true|false}`).
 */
export class EspSandbox {
  private readonly emulators = new Map<string, EspEmulator>();
  private readonly faults = new Map<string, ArmedFault[]>();
  private readonly limiter: WindowRateLimiter;
  private readonly clock: Clock;
  private readonly holdMs: number;
  private readonly record: boolean;
  private readonly held = new Set<() => void>();
  private readonly log: SandboxExchange[] = [];
  private lifted: boolean;
  private closed = false;
  private server: Server | undefined;

  constructor(emulators: readonly EspEmulator[], options: EspSandboxOptions = {}) {
    for (const emulator of emulators) {
      if (!/^[a-z][a-z0-9-]*$/.test(emulator.esp)) {
        throw new Error(`Emulator mount "${emulator.esp}" must be lower-case letters, digits and dashes`);
      }
      if (this.emulators.has(emulator.esp)) throw new Error(`Two emulators are mounted at "${emulator.esp}"`);
      this.emulators.set(emulator.esp, emulator);
    }
    this.clock = options.clock ?? systemClock;
    this.limiter = new WindowRateLimiter(this.clock);
    this.holdMs = options.holdMs ?? 120_000;
    this.record = options.record ?? false;
    this.lifted = options.limitsLifted ?? false;
  }

  /** The mounted ESPs, e.g. `['klaviyo']`. */
  get esps(): string[] {
    return [...this.emulators.keys()];
  }

  emulator<E extends EspEmulator = EspEmulator>(esp: string): E {
    const emulator = this.emulators.get(esp);
    if (emulator === undefined) throw new Error(`No emulator is mounted at "${esp}"`);
    return emulator as E;
  }

  get limitsLifted(): boolean {
    return this.lifted;
  }

  /** Lifts (or restores) every emulator's rate limits. */
  liftLimits(lifted = true): void {
    this.lifted = lifted;
    if (lifted) this.limiter.reset();
  }

  /** Arms a fault in front of `esp`'s emulator. */
  injectFault(esp: string, fault: SandboxFault): void {
    this.emulator(esp);
    const problem = faultProblem(fault);
    if (problem !== undefined) throw new SandboxControlError(400, problem);
    const armed = this.faults.get(esp) ?? [];
    armed.push({ ...fault, remaining: fault.times ?? 1 });
    this.faults.set(esp, armed);
  }

  clearFaults(esp?: string): void {
    if (esp === undefined) this.faults.clear();
    else this.faults.delete(esp);
  }

  /** Requests seen so far (only with `record: true`). */
  exchanges(esp?: string): SandboxExchange[] {
    return esp === undefined ? [...this.log] : this.log.filter((exchange) => exchange.esp === esp);
  }

  clearExchanges(): void {
    this.log.length = 0;
  }

  /** Resets every emulator, fault, limit window and recorded exchange. */
  reset(): void {
    for (const emulator of this.emulators.values()) emulator.reset();
    this.faults.clear();
    this.limiter.reset();
    this.log.length = 0;
  }

  /**
   * Answers one request. `url` is the request target as received (`/sandbox/klaviyo/api/profiles?x=1`), or,
   * when `mounted` is false, a path without the `/sandbox` prefix (`/klaviyo/api/profiles`).
   */
  async handle(
    method: string,
    url: string,
    headers: Record<string, string | string[] | undefined>,
    rawBody: Buffer,
  ): Promise<SandboxResponse> {
    const parsed = new URL(url, 'http://sandbox.invalid');
    let path = parsed.pathname;
    if (path === SANDBOX_PREFIX || path.startsWith(`${SANDBOX_PREFIX}/`))
      path = path.slice(SANDBOX_PREFIX.length);
    const [, esp = '', ...rest] = path.split('/');
    if (esp === '') return json(200, { esps: this.esps, limitsLifted: this.lifted });
    const emulator = this.emulators.get(esp);
    if (emulator === undefined) {
      return json(404, {
        error: `No emulator is mounted at "${esp}"; mounted: ${this.esps.join(', ') || 'none'}`,
      });
    }
    const below = `/${rest.join('/')}`;
    if (below === CONTROL_SEGMENT || below.startsWith(`${CONTROL_SEGMENT}/`)) {
      return this.control(esp, method.toUpperCase(), below.slice(CONTROL_SEGMENT.length), rawBody);
    }
    const request: SandboxRequest = {
      method: method.toUpperCase(),
      path: below,
      query: parsed.searchParams,
      headers: lowerCaseHeaders(headers),
      rawBody,
    };
    const fault = this.nextFault(esp, below);
    let response: SandboxResponse;
    if (fault !== undefined) {
      response = await this.answerFault(emulator, fault);
    } else {
      const tools: EmulatorTools = {
        clock: this.clock,
        rateLimit: (key, windows) => (this.lifted ? undefined : this.limiter.take(`${esp}:${key}`, windows)),
        limitsLifted: this.lifted,
      };
      try {
        response = await emulator.handle(request, tools);
      } catch (error) {
        response = emulator.errorResponse(500, `Emulator failure: ${(error as Error).message}`);
      }
    }
    if (this.record) {
      this.log.push({
        esp,
        method: request.method,
        path: `${below}${parsed.search}`,
        headers: request.headers,
        rawBody,
        status: response.status,
        ...(fault === undefined ? {} : { fault: fault.kind }),
      });
    }
    return response;
  }

  /** A Node request listener answering `handle` (used by `listen`, and by any plain http server). */
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.handle(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks)).then(
        (response) => writeResponse(res, response),
        (error: unknown) => writeResponse(res, json(500, { error: (error as Error).message })),
      );
    });
  };

  /** Serves the sandbox alone on `port` (0 picks a free one); resolves with its base URL. */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer(this.listener);
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return `http://${host}:${(server.address() as AddressInfo).port}${SANDBOX_PREFIX}`;
  }

  /** Releases held requests and stops the server started by `listen`. */
  async close(): Promise<void> {
    this.closed = true;
    for (const release of [...this.held]) release();
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private nextFault(esp: string, path: string): ArmedFault | undefined {
    const armed = this.faults.get(esp);
    if (armed === undefined) return undefined;
    const fault = armed.find(
      (candidate) => candidate.pathPrefix === undefined || path.startsWith(candidate.pathPrefix),
    );
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) armed.splice(armed.indexOf(fault), 1);
    return fault;
  }

  private async answerFault(emulator: EspEmulator, fault: ArmedFault): Promise<SandboxResponse> {
    switch (fault.kind) {
      case 'server-error':
        return emulator.errorResponse(fault.status ?? 500, 'Injected server error (sandbox fault)');
      case 'unauthorized':
        return emulator.errorResponse(401, 'Injected authentication failure (sandbox fault)');
      case 'rate-limit': {
        const seconds = fault.retryAfterSeconds ?? 1;
        const response = emulator.errorResponse(
          429,
          `Request was throttled. Expected available in ${seconds} second(s).`,
        );
        return { ...response, headers: { ...response.headers, 'retry-after': String(seconds) } };
      }
      case 'timeout':
        // Hold the request until the client gives up (or the sandbox closes), then answer what a gateway would.
        await this.hold();
        return emulator.errorResponse(504, 'Injected timeout (sandbox fault)');
    }
  }

  private hold(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(release, this.holdMs);
      const held = this.held;
      function release(): void {
        clearTimeout(timer);
        held.delete(release);
        resolve();
      }
      held.add(release);
    });
  }

  private control(esp: string, method: string, action: string, rawBody: Buffer): SandboxResponse {
    try {
      const emulator = this.emulator(esp);
      const route = `${method} ${action}`;
      switch (route) {
        case 'GET /state':
          return json(200, emulator.state());
        case 'POST /reset':
          emulator.reset();
          this.faults.delete(esp);
          return json(200, { reset: esp });
        case 'GET /faults':
          return json(200, { faults: this.faults.get(esp) ?? [] });
        case 'POST /faults': {
          const fault = parseJson(rawBody) as SandboxFault;
          this.injectFault(esp, fault);
          return json(201, { faults: this.faults.get(esp) ?? [] });
        }
        case 'DELETE /faults':
          this.clearFaults(esp);
          return json(200, { faults: [] });
        case 'POST /limits': {
          const body = parseJson(rawBody) as { lifted?: unknown };
          if (typeof body?.lifted !== 'boolean') {
            throw new SandboxControlError(400, 'Body must be {"lifted": true} or {"lifted": false}');
          }
          this.liftLimits(body.lifted);
          return json(200, { limitsLifted: this.lifted });
        }
        default:
          return json(404, {
            error: `Unknown sandbox control ${route}; known: GET state, POST reset, GET|POST|DELETE faults, POST limits`,
          });
      }
    } catch (error) {
      if (error instanceof SandboxControlError) return json(error.status, { error: error.message });
      throw error;
    }
  }
}

function faultProblem(fault: SandboxFault): string | undefined {
  if (typeof fault !== 'object' || fault === null) return 'A fault must be a JSON object';
  if (!SANDBOX_FAULT_KINDS.includes(fault.kind)) {
    return `Unknown fault kind ${JSON.stringify(fault.kind)}; known: ${SANDBOX_FAULT_KINDS.join(', ')}`;
  }
  if (fault.times !== undefined && !(Number.isInteger(fault.times) && fault.times > 0)) {
    return `times must be a positive integer (got ${JSON.stringify(fault.times)})`;
  }
  if (
    fault.status !== undefined &&
    !(Number.isInteger(fault.status) && fault.status >= 500 && fault.status <= 599)
  ) {
    return `status must be a 5xx status (got ${JSON.stringify(fault.status)})`;
  }
  if (
    fault.retryAfterSeconds !== undefined &&
    !(Number.isInteger(fault.retryAfterSeconds) && fault.retryAfterSeconds >= 0)
  ) {
    return `retryAfterSeconds must be a non-negative integer (got ${JSON.stringify(fault.retryAfterSeconds)})`;
  }
  if (
    fault.pathPrefix !== undefined &&
    (typeof fault.pathPrefix !== 'string' || !fault.pathPrefix.startsWith('/'))
  ) {
    return 'pathPrefix must be a path starting with "/"';
  }
  return undefined;
}

function parseJson(rawBody: Buffer): unknown {
  try {
    return JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw new SandboxControlError(400, 'Body must be JSON');
  }
}

function json(status: number, body: unknown): SandboxResponse {
  return { status, headers: { 'content-type': 'application/json' }, body };
}

function lowerCaseHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | undefined> {
  const lower: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    lower[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return lower;
}

/** Serialises a SandboxResponse: strings as they are, anything else as JSON, nothing for 204. */
export function encodeSandboxResponse(response: SandboxResponse): {
  headers: Record<string, string>;
  payload: string;
} {
  const headers = { ...response.headers };
  if (response.status === 204 || response.body === undefined) return { headers, payload: '' };
  if (typeof response.body === 'string') return { headers, payload: response.body };
  const hasType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
  if (!hasType) headers['content-type'] = 'application/json';
  return { headers, payload: JSON.stringify(response.body) };
}

function writeResponse(res: ServerResponse, response: SandboxResponse): void {
  if (res.destroyed) return;
  const { headers, payload } = encodeSandboxResponse(response);
  res.writeHead(response.status, headers);
  res.end(payload);
}
