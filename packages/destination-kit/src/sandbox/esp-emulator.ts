import type { DestinationDefinition, RateWindow } from '../destination-definition';
import type { Clock } from '../retry-policy';

/** A request as the sandbox hands it to an emulator: the path is relative to the emulator's mount. */
export interface SandboxRequest {
  method: string;
  /** Path below `/sandbox/{esp}`, starting with `/` (e.g. `/api/profile-import`), without the query. */
  path: string;
  query: URLSearchParams;
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  /** The body exactly as sent (webhook-style checks and byte limits need it). */
  rawBody: Buffer;
}

export interface SandboxResponse {
  status: number;
  headers?: Record<string, string>;
  /** Serialised as JSON unless it is a string; omitted for 204. */
  body?: unknown;
}

/** What the sandbox lends an emulator. */
export interface EmulatorTools {
  clock: Clock;
  /**
   * Counts one request against `key`'s windows and returns how long the caller must wait (ms) when a window
   * is full, or undefined when the request may pass. Always undefined while the sandbox's limits are lifted.
   */
  rateLimit(key: string, windows: readonly RateWindow[]): number | undefined;
  /** True while rate limits are lifted (throughput benchmarks); emulators may also skip other throttles. */
  readonly limitsLifted: boolean;
}

/**
 * A local stand-in for one ESP, mounted by the sandbox at `/sandbox/{esp}/…`. It speaks the ESP's real API
 * shape — paths, auth headers, validation errors with the ESP's own status and body — and keeps what it
 * accepted so that tests and the demo can read the ESP-side state back.
 */
export interface EspEmulator {
  /** Mount segment, e.g. `klaviyo`. */
  readonly esp: string;
  handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse | Promise<SandboxResponse>;
  /** The ESP's own error shape for `status`, used when the sandbox injects a fault. */
  errorResponse(status: number, message: string): SandboxResponse;
  /** Everything the emulator holds, as plain JSON (profiles, lists, jobs…). */
  state(): unknown;
  /** Forgets everything it holds, but keeps its configuration. */
  reset(): void;
  /**
   * Changes how the emulator behaves (limits, account features…): validates `config` and throws an Error
   * whose message says what is wrong. The sandbox serves it at `PUT /sandbox/{esp}/_sandbox/config`.
   */
  configure?(config: unknown): void;
  /** The configuration in effect, as plain JSON (`GET /sandbox/{esp}/_sandbox/config`). */
  configuration?(): unknown;
  /** The largest request body the ESP accepts; the sandbox answers a larger one with `errorResponse(413, …)`. */
  readonly maxBodyBytes?: number;
  /**
   * The path's template for request statistics, ids replaced by `{id}` (`/lists/{id}/members`); undefined
   * (or no method) falls back to the sandbox's guess from what looks like an id.
   */
  endpointTemplate?(method: string, path: string): string | undefined;
}

/**
 * What a destination package exports for registration: its definition and a factory of its sandbox emulator.
 * Adding an ESP to Tessera is one package plus one line listing its DestinationPackage.
 */
export interface DestinationPackage<Settings = Record<string, unknown>> {
  definition: DestinationDefinition<Settings>;
  createEmulator(): EspEmulator;
  /**
   * For emulators that start empty (no account, audience or data extension until configured): the configuration
   * under which this destination, configured with `settings`, finds everything it writes — its credentials, its
   * audience or data extension with the fields and segments `writes` names. The mapping preview runs a fresh
   * emulator on it, so that it shows the requests the destination would send, not an emulator's refusals.
   */
  emulatorConfigFor?(settings: Settings, writes: EmulatedWrites): unknown;
}

/** What a preview's operations write: the attribute names of its profile updates, the segments it changes. */
export interface EmulatedWrites {
  attributes: readonly string[];
  segments: readonly string[];
}
