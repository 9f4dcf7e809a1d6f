import type { EmulatorTools, EspEmulator, SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import {
  BRAZE_ENDPOINTS,
  BRAZE_MAX_BODY_BYTES,
  BRAZE_RATE_BUDGETS,
  type BrazeEndpoint,
  type BrazeEndpointName,
} from '../braze-endpoints';
import {
  emailBlocklist,
  emailBounceRemove,
  emailStatus,
  emailUnsubscribes,
  subscriptionStatusSet,
} from './braze-email-routes';
import { BadRequest, json, parseJson } from './braze-emulator-http';
import { usersDelete, usersExportIds, usersIdentify, usersMerge, usersTrack } from './braze-user-routes';
import { aliasKey, BrazeWorkspace, type BrazeEmulatorState, type BrazeStoredUser } from './braze-workspace';

export type { BrazeEmulatorState, BrazeStoredUser } from './braze-workspace';

export interface BrazeEmulatorOptions {
  /** The only REST API key accepted; any well-formed bearer key when unset. */
  apiKey?: string;
}

type Route = (
  workspace: BrazeWorkspace,
  body: Record<string, unknown>,
  tools: EmulatorTools,
) => SandboxResponse;

const POST_ROUTES: Record<Exclude<BrazeEndpointName, 'emailUnsubscribes'>, Route> = {
  usersTrack: (workspace, body) => usersTrack(workspace, body),
  usersDelete: (workspace, body) => usersDelete(workspace, body),
  usersIdentify: (workspace, body) => usersIdentify(workspace, body),
  usersMerge: (workspace, body) => usersMerge(workspace, body),
  usersExportIds: (workspace, body) => usersExportIds(workspace, body),
  emailBlocklist: (workspace, body, tools) => emailBlocklist(workspace, body, tools.clock),
  emailBounceRemove: (workspace, body) => emailBounceRemove(workspace, body),
  emailStatus: (workspace, body, tools) => emailStatus(workspace, body, tools.clock),
  subscriptionStatusSet: (workspace, body) => subscriptionStatusSet(workspace, body),
};

/**
 * A local stand-in for Braze's REST API, mounted by the sandbox at `/sandbox/braze`. It refuses bodies over
 * Braze's 4 MB payload limit (413), checks the bearer key (401 `{ message }`), validates bodies and the
 * per-request maxima (400 `{ message, errors }`), counts every request in its rate budget — the destination's
 * own BRAZE_RATE_BUDGETS table, per workspace (here: per API key) — answering 429 with Retry-After and Braze's
 * X-RateLimit headers, answers /users/track's per-object failures in a 2xx `errors` array, and keeps what it
 * accepted for `state()`.
 */
export class BrazeEmulator implements EspEmulator {
  readonly esp = 'braze';
  readonly maxBodyBytes = BRAZE_MAX_BODY_BYTES;
  private readonly workspace = new BrazeWorkspace();

  constructor(private readonly options: BrazeEmulatorOptions = {}) {}

  handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    if (request.rawBody.length > this.maxBodyBytes) {
      return this.errorResponse(413, requestTooLarge(request.rawBody.length, this.maxBodyBytes));
    }
    const apiKey = this.authenticate(request);
    if (typeof apiKey !== 'string') return apiKey;
    const route = findEndpoint(request.method, request.path);
    if (route === undefined) return this.errorResponse(404, `No route ${request.method} ${request.path}`);
    const [name, endpoint] = route;
    const throttled = this.throttle(endpoint, apiKey, tools);
    if (throttled !== undefined) return throttled;
    try {
      if (name === 'emailUnsubscribes') return emailUnsubscribes(this.workspace, request);
      return POST_ROUTES[name](this.workspace, parseJson(request), tools);
    } catch (error) {
      if (!(error instanceof BadRequest)) throw error;
      return json(400, { message: error.message, errors: error.errors });
    }
  }

  errorResponse(status: number, message: string): SandboxResponse {
    return json(status, { message });
  }

  /** Braze's paths carry no ids: a known endpoint is its own template. */
  endpointTemplate(method: string, path: string): string | undefined {
    return findEndpoint(method, path)?.[1].path;
  }

  /** Records an opt-out as if the member clicked unsubscribe in a Braze email (for poll tests and the demo). */
  markEmailUnsubscribed(email: string, atMs: number): void {
    this.workspace.markEmailUnsubscribed(email, atMs);
  }

  user(externalId: string): BrazeStoredUser | undefined {
    const user = this.workspace.users.get(externalId);
    return user === undefined ? undefined : structuredClone(user);
  }

  /** The alias-only user (guest) with this alias, if any. */
  aliasUser(aliasName: string, aliasLabel: string): BrazeStoredUser | undefined {
    const user = this.workspace.users.get(aliasKey(aliasName, aliasLabel));
    return user === undefined ? undefined : structuredClone(user);
  }

  state(): BrazeEmulatorState {
    return this.workspace.state();
  }

  reset(): void {
    this.workspace.reset();
  }

  /** The bearer key, or the 401 Braze answers without a (the expected) one. */
  private authenticate(request: SandboxRequest): string | SandboxResponse {
    const header = request.headers['authorization'] ?? '';
    const key = /^Bearer (\S+)$/.exec(header)?.[1];
    if (key === undefined) return this.errorResponse(401, 'Invalid API key: missing Bearer token');
    if (this.options.apiKey !== undefined && key !== this.options.apiKey) {
      return this.errorResponse(401, `Invalid API key: ${key.slice(0, 4)}…`);
    }
    return key;
  }

  /** Counts the request in its budget (per workspace: the emulator takes each API key for one); 429 when full. */
  private throttle(
    endpoint: BrazeEndpoint,
    apiKey: string,
    tools: EmulatorTools,
  ): SandboxResponse | undefined {
    const budget = BRAZE_RATE_BUDGETS[endpoint.budget];
    const waitMs = tools.rateLimit(`${endpoint.budget}:${apiKey}`, budget.windows);
    if (waitMs === undefined) return undefined;
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    const window = budget.windows[0];
    return json(
      429,
      { message: `API rate limit exceeded; retry in ${seconds} second(s)` },
      {
        'retry-after': String(seconds),
        'x-ratelimit-limit': String(window?.requests ?? 0),
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.ceil((tools.clock.now() + waitMs) / 1000)),
      },
    );
  }
}

function findEndpoint(method: string, path: string): [BrazeEndpointName, BrazeEndpoint] | undefined {
  return (Object.entries(BRAZE_ENDPOINTS) as [BrazeEndpointName, BrazeEndpoint][]).find(
    ([, endpoint]) => endpoint.method === method && endpoint.path === path,
  );
}

/** Braze's words for a body over its payload limit (HTTP 413 Request Entity Too Large). */
export function requestTooLarge(bytes: number, maxBytes: number): string {
  return `Request Entity Too Large: the body is ${bytes} bytes, Braze takes at most ${maxBytes} (4 MB)`;
}
