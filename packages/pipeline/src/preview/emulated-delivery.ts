import { randomUUID } from 'node:crypto';
import {
  AllowedDestinationHosts,
  coalesceProfileUpdates,
  DestinationRunner,
  EspSandbox,
  MemoryTokenCache,
  resolveDestinationSettings,
  secretSettingNames,
  type AccessToken,
  type BatchResult,
  type DestinationDefinition,
  type DestinationPackage,
  type EmulatedWrites,
  type EmulatorTools,
  type EspEmulator,
  type OperationItems,
  type OperationName,
  type ProfileUpsert,
  type SandboxExchange,
  type SandboxRequest,
  type SandboxResponse,
  type TokenCache,
} from '@tessera/destination-kit';
import type { DestinationOperation } from '@tessera/transform';
import { OPERATION_ORDER } from '../stages/deliver-stage.service';

/** One request the destination would send to its ESP, credentials masked. */
export interface PreviewRequest {
  method: string;
  /** At the real ESP: the settings' own base URL (or endpoint setting) and the path the destination called. */
  url: string;
  headers: Record<string, string>;
  /** Parsed JSON, or the text as sent (a SOAP envelope); undefined without a body. */
  body: unknown;
}

export interface EmulatedDelivery {
  requests: PreviewRequest[];
  notes: string[];
}

export const MASKED = '***';

/** Headers that carry credentials by name, whatever their value. */
const CREDENTIAL_HEADER = /authorization|api[-_]?key|token|secret|password|signature|cookie/i;

/** Headers fetch adds on its own: not the destination's, and the host is the sandbox's. */
const TRANSPORT_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'content-length',
  'transfer-encoding',
  'accept-encoding',
  'accept-language',
  'sec-fetch-mode',
  'user-agent',
]);

const PROFILE_OPERATIONS = new Set<OperationName>(['upsertProfiles', 'updateAttributes']);

/**
 * One host of the ESP mounted under a name of its own, answered by the shared emulator: the mount a request
 * reached tells which setting's host it was meant for (SFMC calls three).
 */
class HostMount implements EspEmulator {
  constructor(
    readonly esp: string,
    private readonly emulator: EspEmulator,
  ) {}

  handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse | Promise<SandboxResponse> {
    return this.emulator.handle(request, tools);
  }

  errorResponse(status: number, message: string): SandboxResponse {
    return this.emulator.errorResponse(status, message);
  }

  state(): unknown {
    return this.emulator.state();
  }

  reset(): void {
    this.emulator.reset();
  }
}

/** The kit's in-memory token cache, remembering every token it was given so that none is shown. */
class RecordingTokenCache implements TokenCache {
  readonly issued: string[] = [];
  private readonly tokens = new MemoryTokenCache();

  get(key: string): Promise<AccessToken | undefined> {
    return this.tokens.get(key);
  }

  set(key: string, token: AccessToken): Promise<void> {
    this.issued.push(token.value);
    return this.tokens.set(key, token);
  }

  delete(key: string): Promise<void> {
    return this.tokens.delete(key);
  }
}

/**
 * Runs operations through the destination's own request builders — its runner, against a fresh instance of
 * its sandbox emulator on a private loopback port — in the order and shape the deliver stage would (the
 * record first, profile updates coalesced), and returns the requests as they would reach the real ESP.
 * Every URL setting points at the sandbox; a destination with any other URL in its settings is not run,
 * so nothing can reach the configured hosts.
 */
export async function deliverToEmulator(
  destinationPackage: DestinationPackage,
  settings: Record<string, unknown>,
  operations: readonly DestinationOperation[],
  options: { timeoutMs?: number } = {},
): Promise<EmulatedDelivery> {
  const notes: string[] = [];
  const definition = destinationPackage.definition as DestinationDefinition<Record<string, unknown>>;
  const real = resolveDestinationSettings(definition, settings);
  if (!real.ok) {
    const problems = real.errors.map((issue) => `${issue.pointer} ${issue.message}`).join('; ');
    return {
      requests: [],
      notes: [`the destination's settings are invalid (${problems}): no request built`],
    };
  }
  const endpoints = [
    'baseUrl',
    ...Object.entries(definition.settingsSchema.properties)
      .filter(([name, property]) => name !== 'baseUrl' && property['x-endpoint'] === true)
      .map(([name]) => name),
  ];
  const emulator = destinationPackage.createEmulator();
  // A strict emulator starts empty: give it the account, audience or data extension the settings imply.
  const config = destinationPackage.emulatorConfigFor?.(real.settings, writesOf(operations));
  if (config !== undefined) emulator.configure?.(config);
  const mounts = endpoints.map((_, index) => new HostMount(`${emulator.esp}-host-${index}`, emulator));
  const sandbox = new EspSandbox(mounts, { record: true, limitsLifted: true });
  try {
    const root = await sandbox.listen();
    const pointed: Record<string, unknown> = { ...settings };
    mounts.forEach((mount, index) => (pointed[endpoints[index] as string] = `${root}/${mount.esp}`));
    const tokens = new RecordingTokenCache();
    const runner = new DestinationRunner(definition, {
      settings: pointed,
      tokenCache: tokens,
      instanceKey: `preview:${randomUUID()}`,
      timeoutMs: options.timeoutMs ?? 10_000,
      // Only the private sandbox: the real hosts are never called from a preview.
      allowedHosts: AllowedDestinationHosts.none.with(root),
    });
    const elsewhere = Object.entries(runner.settings).filter(
      ([, value]) => typeof value === 'string' && /^https?:\/\//i.test(value) && !value.startsWith(root),
    );
    if (elsewhere.length > 0) {
      const names = elsewhere.map(([name]) => name).join(', ');
      notes.push(`settings ${names} name hosts the sandbox does not stand in for: no request built`);
      return { requests: [], notes };
    }

    await runInDeliveryOrder(runner, operations, notes);

    const secrets = [
      ...secretSettingNames(definition.settingsSchema)
        .map((name) => real.settings[name])
        .filter((value): value is string => typeof value === 'string' && value !== ''),
      ...tokens.issued,
    ];
    const hostOf = new Map(
      mounts.map((mount, index) => [
        mount.esp,
        String(real.settings[endpoints[index] as string]).replace(/\/+$/, ''),
      ]),
    );
    const requests = sandbox.exchanges().map((exchange) => {
      const request = previewRequestOf(exchange, hostOf.get(exchange.esp) ?? '', secrets);
      if (exchange.status >= 400) {
        notes.push(`the ESP's emulator answered ${exchange.status} to ${request.method} ${request.url}`);
      }
      return request;
    });
    return { requests, notes };
  } finally {
    await sandbox.close();
  }
}

/** The deliver stage's order and grouping: one call per operation, profile updates coalesced per customer. */
async function runInDeliveryOrder(
  runner: DestinationRunner<Record<string, unknown>>,
  operations: readonly DestinationOperation[],
  notes: string[],
): Promise<void> {
  for (const name of OPERATION_ORDER) {
    let items: unknown[] = operations
      .filter((operation) => operation.operation === name)
      .map((operation) => operation.item);
    if (items.length === 0) continue;
    if (runner.definition.operations[name] === undefined) {
      notes.push(`${runner.definition.name} has no ${name} operation: the deliver stage could not send it`);
      continue;
    }
    if (PROFILE_OPERATIONS.has(name)) items = coalesceProfileUpdates(items as ProfileUpsert[]).profiles;
    let results: BatchResult;
    try {
      results = await runner.run(name, items as OperationItems[typeof name][]);
    } catch (error) {
      notes.push(`${name} failed at the ESP's emulator, later operations not sent: ${messageOf(error)}`);
      return;
    }
    results.forEach((result) => {
      if (result.status === 'rejected') notes.push(`${name} would be rejected by the ESP: ${result.reason}`);
      if (result.status === 'retry') notes.push(`${name} would be retried: ${result.reason}`);
    });
  }
}

function previewRequestOf(
  exchange: SandboxExchange,
  host: string,
  secrets: readonly string[],
): PreviewRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(exchange.headers)) {
    if (value === undefined || TRANSPORT_HEADERS.has(name)) continue;
    headers[name] =
      CREDENTIAL_HEADER.test(name) || secrets.some((secret) => value.includes(secret)) ? MASKED : value;
  }
  return {
    method: exchange.method,
    url: `${host}${exchange.path}`,
    headers,
    body: maskSecrets(bodyOf(exchange.rawBody), secrets),
  };
}

function bodyOf(rawBody: Buffer): unknown {
  if (rawBody.length === 0) return undefined;
  const text = rawBody.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Every secret setting's value and token, wherever a body carries it (a token in a SOAP envelope). */
function maskSecrets(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') {
    return secrets.reduce((masked, secret) => masked.split(secret).join(MASKED), value);
  }
  if (Array.isArray(value)) return value.map((entry) => maskSecrets(entry, secrets));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, entry]) => [key, maskSecrets(entry, secrets)]),
    );
  }
  return value;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The attribute names and segments the operations write (what a strict emulator must know to accept them). */
function writesOf(operations: readonly DestinationOperation[]): EmulatedWrites {
  const attributes = new Set<string>();
  const segments = new Set<string>();
  for (const operation of operations) {
    const item = operation.item as { attributes?: Record<string, unknown>; segment?: string };
    if (item.attributes !== undefined) for (const name of Object.keys(item.attributes)) attributes.add(name);
    if (typeof item.segment === 'string') segments.add(item.segment);
  }
  return { attributes: [...attributes], segments: [...segments] };
}
