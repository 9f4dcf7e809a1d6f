import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '../retry-policy';
import type { EmulatorTools, EspEmulator, SandboxRequest, SandboxResponse } from './esp-emulator';
import { type ArmedFault, faultProblem, type SandboxFault, type SandboxFaultKind } from './sandbox-faults';
import { defaultEndpointTemplate, type SandboxStats, SandboxStatsCounter } from './sandbox-stats';
import { WindowRateLimiter } from './window-rate-limiter';

/** Where the sandbox is mounted in the all-in-one process. */
export const SANDBOX_PREFIX = '/sandbox';

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
  /**
   * Per mount, the configuration its emulator starts with (the demo's DEMO_SANDBOX_CONFIG): applied to each
   * mounted emulator that declares `configure`; entries for other mounts are ignored. A bad one throws.
   */
  configuration?: Record<string, unknown>;
}

const CONTROL_SEGMENT = '/_sandbox';

/** A control request the sandbox refuses: answered `status` with `{"error": message}`. */
export class SandboxControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SandboxControlError';
  }
}

/**
 * The ESP sandbox: routes `/sandbox/{esp}/…` to each destination's emulator, in front of which it can inject
 * faults (5xx, 429 storms, timeouts, 401) and enforce or lift the emulators' rate limits. Framework-free: the
 * all-in-one app mounts `handle` on its HTTP server; `listen` runs it alone.
 *
 * Control API, per emulator, under `/sandbox/{esp}/_sandbox/`: `GET state`, `POST reset` (data and stats;
 * the configuration stays), `GET stats` (SandboxStats), `GET config` and `PUT config` (the emulator's own
 * configuration), `GET faults`, `POST faults` (a SandboxFault as JSON), `DELETE faults`, `POST limits`
 * (`{"lifted": true|false}`). Problems are answered `{"error": "<message>"}` with 400 (bad input) or 404.
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
  private readonly counters = new Map<string, SandboxStatsCounter>();
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
      this.counters.set(emulator.esp, new SandboxStatsCounter());
    }
    this.clock = options.clock ?? systemClock;
    this.limiter = new WindowRateLimiter(this.clock);
    this.holdMs = options.holdMs ?? 120_000;
    this.record = options.record ?? false;
    this.lifted = options.limitsLifted ?? false;
    for (const [esp, config] of Object.entries(options.configuration ?? {})) {
      const emulator = this.emulators.get(esp);
      if (emulator?.configure === undefined) continue;
      try {
        emulator.configure(config);
      } catch (error) {
        throw new Error(`The ${esp} emulator refused its configuration: ${(error as Error).message}`);
      }
    }
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

  /** The requests `esp`'s mount was sent since the start or the last reset. */
  stats(esp: string): SandboxStats {
    this.emulator(esp);
    return (this.counters.get(esp) as SandboxStatsCounter).snapshot();
  }

  /**
   * Hands `config` to `esp`'s emulator. Throws a SandboxControlError: 404 when the emulator takes no
   * configuration, 400 with the emulator's message when it refuses this one.
   */
  configure(esp: string, config: unknown): void {
    const emulator = this.emulator(esp);
    if (emulator.configure === undefined) {
      throw new SandboxControlError(404, `The ${esp} emulator takes no configuration`);
    }
    try {
      emulator.configure(config);
    } catch (error) {
      throw new SandboxControlError(400, error instanceof Error ? error.message : String(error));
    }
  }

  /** Resets every emulator (its data, not its configuration), fault, limit window, statistic and exchange. */
  reset(): void {
    for (const emulator of this.emulators.values()) emulator.reset();
    for (const counter of this.counters.values()) counter.reset();
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
      response = await this.answerFault(emulator, fault, rawBody);
    } else if (emulator.maxBodyBytes !== undefined && rawBody.length > emulator.maxBodyBytes) {
      // The ESP's edge refuses it before any handler reads it, in the ESP's own error format.
      response = emulator.errorResponse(
        413,
        `Request body is ${rawBody.length} bytes; the largest accepted is ${emulator.maxBodyBytes} bytes`,
      );
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
    const template = emulator.endpointTemplate?.(request.method, below) ?? defaultEndpointTemplate(below);
    this.counters
      .get(esp)
      ?.count(`${request.method} ${template}`, request.method, response.status, fault !== undefined);
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

  private async answerFault(
    emulator: EspEmulator,
    fault: ArmedFault,
    body: Buffer,
  ): Promise<SandboxResponse> {
    switch (fault.kind) {
      case 'echo-rejection':
        return emulator.errorResponse(
          fault.status ?? 400,
          `Invalid request (sandbox fault): ${body.toString('utf8').slice(0, 2_000)}`,
        );
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
          this.counters.get(esp)?.reset();
          this.faults.delete(esp);
          return json(200, { reset: esp });
        case 'GET /stats':
          return json(200, this.stats(esp));
        case 'GET /config':
          if (emulator.configure === undefined && emulator.configuration === undefined) {
            throw new SandboxControlError(404, `The ${esp} emulator takes no configuration`);
          }
          return json(200, emulator.configuration?.() ?? null);
        case 'PUT /config':
          this.configure(esp, parseJson(rawBody));
          return json(200, emulator.configuration?.() ?? null);
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
            error: `Unknown sandbox control ${route}; known: GET state, POST reset, GET stats, GET|PUT config, GET|POST|DELETE faults, POST limits`,
          });
      }
    } catch (error) {
      if (error instanceof SandboxControlError) return json(error.status, { error: error.message });
      throw error;
    }
  }
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
