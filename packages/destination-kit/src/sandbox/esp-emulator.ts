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
  /** Forgets everything it holds. */
  reset(): void;
}

/**
 * What a destination package exports for registration: its definition and a factory of its sandbox emulator.
 * Adding an ESP to Tessera is one package plus one line listing its DestinationPackage.
 */
export interface DestinationPackage<Settings = Record<string, unknown>> {
  definition: DestinationDefinition<Settings>;
  createEmulator(): EspEmulator;
}
