import { isAbsolute, resolve } from 'node:path';
import { AllowedDestinationHosts, AllowedHostsError } from '@tessera/destination-kit';

/** A setting that stops start-up: the message names the environment variable and what it accepts. */
export class ConfigurationError extends Error {
  constructor(
    readonly setting: string,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`${setting}: ${detail}`, options);
    this.name = 'ConfigurationError';
  }
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Settings {
  nodeEnv: string;
  production: boolean;
  port: number;
  host: string;
  redisUrl: string;
  /** False when REDIS_URL is unset: then Tessera may start a private redis-server. */
  redisUrlExplicit: boolean;
  /** Key prefix for every Redis key Tessera writes; the braces make it a Redis Cluster hash tag. */
  redisPrefix: string;
  databaseUrl?: string;
  dataDir: string;
  masterKey?: string;
  /** Older master keys, still accepted to open what they sealed while the current one seals (rotation). */
  previousMasterKeys: string[];
  workspaceFile?: string;
  logLevel: LogLevel;
  dedupeWindowSeconds: number;
  /** How often polling ESPs (Braze, Klaviyo) are asked for opt-outs. */
  inboundPollSeconds: number;
  /** Deliver jobs each worker process runs at once per destination (they mostly wait on the ESP). */
  deliverConcurrency: number;
  ingestMaxQueueDepth: number;
  sourceRateLimit: number;
  /** Destination packages this deployment runs (TESSERA_DESTINATIONS): `'all'` or their types. */
  destinations: 'all' | string[];
  /** TESSERA_ADMIN_KEY: the console's admin API key, when the deployment provides it (≥ 32 characters). */
  adminKey?: string;
  /**
   * TESSERA_SANDBOX: whether the all-in-one process mounts the ESP sandbox at /sandbox (unauthenticated and
   * writable, fault injection included). On by default, off by default when NODE_ENV=production.
   */
  sandbox: boolean;
  /** TESSERA_DEMO: whether an embedded start creates the demo workspace. As TESSERA_SANDBOX: off in production. */
  demo: boolean;
  /**
   * TESSERA_ALLOWED_DESTINATION_HOSTS: hosts (`host`, `host:port`, `*.corp.example`) and URL prefixes
   * (`http://10.0.0.5:4010/esp`) destinations may call besides their ESPs' own hosts, private addresses included.
   */
  allowedDestinationHosts: string[];
  /** TESSERA_METRICS_TOKEN: when set, `/metrics` answers only `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** TESSERA_HTTP_*: the time and size bounds of every HTTP server the processes start. */
  http: HttpServerSettings;
}

/** Bounds on what one HTTP client may hold: how long a request may take to arrive, and its headers' size. */
export interface HttpServerSettings {
  /** TESSERA_HTTP_HEADERS_TIMEOUT_MS: the request line and headers must arrive within this (408 after). */
  headersTimeoutMs: number;
  /** TESSERA_HTTP_REQUEST_TIMEOUT_MS: the whole request, body included, must arrive within this (408 after). */
  requestTimeoutMs: number;
  /** TESSERA_HTTP_KEEP_ALIVE_TIMEOUT_MS: an idle kept-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** TESSERA_HTTP_MAX_HEADER_BYTES: the request line and headers together (431 over it). */
  maxHeaderBytes: number;
}

type Env = Record<string, string | undefined>;

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigurationError(name, `expected a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

/** `all` (the default) or a comma-separated list of destination types; the registry checks they exist. */
function destinationList(env: Env): 'all' | string[] {
  const raw = text(env, 'TESSERA_DESTINATIONS');
  if (raw === undefined || raw.toLowerCase() === 'all') return 'all';
  const names = raw.split(',').map((name) => name.trim().toLowerCase());
  const bad = names.find((name) => !/^[a-z][a-z0-9-]*$/.test(name));
  if (bad !== undefined) {
    throw new ConfigurationError(
      'TESSERA_DESTINATIONS',
      `expected "all" or a comma-separated list of destination types (e.g. "klaviyo,braze"), got "${raw}"`,
    );
  }
  return [...new Set(names)];
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigurationError(name, `expected a URL (${protocols.map((p) => `${p}//…`).join(' or ')})`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigurationError(name, `expected ${protocols.join(' or ')} URL, got ${parsed.protocol}`);
  }
  return raw;
}

function adminKey(env: Env): string | undefined {
  const key = text(env, 'TESSERA_ADMIN_KEY');
  if (key !== undefined && (key.length < 32 || key.length > 512 || /\s/.test(key))) {
    throw new ConfigurationError(
      'TESSERA_ADMIN_KEY',
      'expected 32 to 512 characters without spaces (e.g. tsk_ + 43 random base64url characters)',
    );
  }
  return key;
}

/** An explicit `on` or `off`; unset, the fallback. */
function onOff(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const value = raw.toLowerCase();
  if (value !== 'on' && value !== 'off')
    throw new ConfigurationError(name, `expected "on" or "off", got "${raw}"`);
  return value === 'on';
}

function metricsToken(env: Env): string | undefined {
  const token = text(env, 'TESSERA_METRICS_TOKEN');
  // Visible ASCII only: the token travels in an Authorization header.
  if (token !== undefined && !/^[\x21-\x7e]{32,512}$/.test(token)) {
    throw new ConfigurationError(
      'TESSERA_METRICS_TOKEN',
      'expected 32 to 512 visible ASCII characters without spaces (e.g. openssl rand -hex 32)',
    );
  }
  return token;
}

/** Comma-separated hosts and URL prefixes, each checked the way destinations' requests are matched to it. */
function allowedDestinationHosts(env: Env): string[] {
  try {
    return [...AllowedDestinationHosts.parse(text(env, 'TESSERA_ALLOWED_DESTINATION_HOSTS')).entries];
  } catch (error) {
    if (!(error instanceof AllowedHostsError)) throw error;
    throw new ConfigurationError(
      'TESSERA_ALLOWED_DESTINATION_HOSTS',
      `${error.message} (expected a comma-separated list of hosts, host:port, *.domain or http(s) URL prefixes)`,
    );
  }
}

function httpServer(env: Env): HttpServerSettings {
  const headersTimeoutMs = integer(env, 'TESSERA_HTTP_HEADERS_TIMEOUT_MS', 10_000, 500, 600_000);
  const requestTimeoutMs = integer(env, 'TESSERA_HTTP_REQUEST_TIMEOUT_MS', 30_000, 500, 3_600_000);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigurationError(
      'TESSERA_HTTP_HEADERS_TIMEOUT_MS',
      `must not exceed TESSERA_HTTP_REQUEST_TIMEOUT_MS (${requestTimeoutMs}), got ${headersTimeoutMs}`,
    );
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    // 72 s (Fastify's default) outlasts the 60 s idle timeout of common load balancers: they close first.
    keepAliveTimeoutMs: integer(env, 'TESSERA_HTTP_KEEP_ALIVE_TIMEOUT_MS', 72_000, 1_000, 600_000),
    maxHeaderBytes: integer(env, 'TESSERA_HTTP_MAX_HEADER_BYTES', 16_384, 1_024, 1_048_576),
  };
}

/** Reads and validates every setting once, at start-up. */
export function loadSettings(env: Env = process.env, cwd: string = process.cwd()): Settings {
  const nodeEnv = text(env, 'NODE_ENV') ?? 'development';
  const production = nodeEnv === 'production';
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  const logLevel = (text(env, 'LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigurationError('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const redisPrefix = text(env, 'TESSERA_REDIS_PREFIX') ?? '{tessera}';
  if (!/^\{[A-Za-z0-9_.-]{1,40}\}$/.test(redisPrefix)) {
    throw new ConfigurationError(
      'TESSERA_REDIS_PREFIX',
      'expected a hash tag such as {tessera} (letters, digits, _ . -)',
    );
  }
  const masterKey = text(env, 'TESSERA_MASTER_KEY');
  if (masterKey === undefined && production) {
    throw new ConfigurationError(
      'TESSERA_MASTER_KEY',
      'is required when NODE_ENV=production (32 random bytes, base64)',
    );
  }
  const dataDir = text(env, 'TESSERA_DATA_DIR') ?? '.tessera';
  const workspaceFile = text(env, 'TESSERA_WORKSPACE_FILE');
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  // The embedded store means one box: loopback unless told (a proxy in front). Production on PostgreSQL runs
  // processes behind a load balancer or in containers, which must be reached from outside.
  const host = text(env, 'HOST') ?? (production && databaseUrl !== undefined ? '0.0.0.0' : '127.0.0.1');
  // Production mounts no sandbox and creates no demo unless asked: both exist to try Tessera out.
  const sandbox = onOff(env, 'TESSERA_SANDBOX', !production);
  const demo = onOff(env, 'TESSERA_DEMO', !production);
  if (demo && !sandbox && databaseUrl === undefined) {
    throw new ConfigurationError(
      'TESSERA_SANDBOX',
      "the demo workspace delivers to this process's ESP sandbox: set TESSERA_DEMO=off too, or TESSERA_SANDBOX=on",
    );
  }
  return {
    nodeEnv,
    production,
    port: integer(env, 'PORT', 8080, 0, 65535),
    host,
    redisUrl: redisUrl ?? 'redis://127.0.0.1:6379',
    redisUrlExplicit: redisUrl !== undefined,
    redisPrefix,
    databaseUrl,
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(cwd, dataDir),
    masterKey,
    previousMasterKeys: (text(env, 'TESSERA_PREVIOUS_MASTER_KEYS') ?? '')
      .split(',')
      .map((key) => key.trim())
      .filter((key) => key !== ''),
    workspaceFile: workspaceFile === undefined ? undefined : resolve(cwd, workspaceFile),
    logLevel,
    dedupeWindowSeconds: integer(env, 'TESSERA_DEDUPE_WINDOW_SECONDS', 3600, 60, 30 * 24 * 3600),
    inboundPollSeconds: integer(env, 'TESSERA_INBOUND_POLL_SECONDS', 300, 1, 24 * 3600),
    deliverConcurrency: integer(env, 'TESSERA_DELIVER_CONCURRENCY', 4, 1, 64),
    ingestMaxQueueDepth: integer(env, 'TESSERA_INGEST_MAX_QUEUE_DEPTH', 100_000, 1, 100_000_000),
    sourceRateLimit: integer(env, 'TESSERA_SOURCE_RATE_LIMIT', 5_000, 1, 10_000_000),
    destinations: destinationList(env),
    adminKey: adminKey(env),
    sandbox,
    demo,
    metricsToken: metricsToken(env),
    http: httpServer(env),
    allowedDestinationHosts: allowedDestinationHosts(env),
  };
}
