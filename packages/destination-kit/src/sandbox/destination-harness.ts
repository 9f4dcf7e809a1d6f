import {
  pointSettingsAt,
  type BatchResult,
  type DestinationDefinition,
  type OperationItems,
  type OperationName,
} from '../destination-definition';
import { AllowedDestinationHosts } from '../destination-hosts';
import { DestinationRunner, type DestinationRunnerOptions } from '../destination-runner';
import type { ContractViolation, OpenApiContract } from '../openapi-contract';
import type { EmulatorTools, EspEmulator, SandboxRequest, SandboxResponse } from './esp-emulator';
import { EspSandbox } from './esp-sandbox';

/** Answers every request with `respond`, keeping nothing: the capture server of the harness. */
export class CaptureEmulator implements EspEmulator {
  readonly esp = 'capture';

  constructor(
    private readonly respond: (
      request: SandboxRequest,
      tools: EmulatorTools,
    ) => SandboxResponse | Promise<SandboxResponse> = () => ({
      status: 200,
      body: {},
    }),
  ) {}

  handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse | Promise<SandboxResponse> {
    return this.respond(request, tools);
  }

  errorResponse(status: number, message: string): SandboxResponse {
    return { status, body: { message } };
  }

  state(): unknown {
    return {};
  }

  reset(): void {
    // Nothing is kept.
  }
}

export interface HarnessOptions<Settings> {
  definition: DestinationDefinition<Settings>;
  /** The ESP's emulator; omit for a capture server answering with `respond`. */
  emulator?: EspEmulator;
  respond?: (request: SandboxRequest, tools: EmulatorTools) => SandboxResponse | Promise<SandboxResponse>;
  /** Settings of the destination under test; `baseUrl` and `x-endpoint` settings are pointed at the harness's sandbox. */
  settings: Record<string, unknown>;
  /** Every request sent is validated against it. */
  contract?: OpenApiContract;
  runner?: Omit<DestinationRunnerOptions, 'settings'>;
  /** Start with the emulator's rate limits lifted (default true: tests exercise limits on purpose). */
  limitsLifted?: boolean;
}

/** One request the destination sent, with what the contract says of it. */
export interface HarnessRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  body: unknown;
  status: number;
  violations: ContractViolation[];
}

/**
 * The destination author's test bench: a private sandbox (the ESP's emulator, or a capture server) on a free
 * loopback port (allowed to the runner), a runner whose `baseUrl` points at it, and every request recorded and checked against the
 * ESP's OpenAPI contract.
 */
export class DestinationHarness<Settings extends Record<string, unknown> = Record<string, unknown>> {
  private constructor(
    readonly sandbox: EspSandbox,
    readonly runner: DestinationRunner<Settings>,
    readonly baseUrl: string,
    private readonly esp: string,
    private readonly contract: OpenApiContract | undefined,
  ) {}

  static async start<Settings extends Record<string, unknown>>(
    options: HarnessOptions<Settings>,
  ): Promise<DestinationHarness<Settings>> {
    const emulator = options.emulator ?? new CaptureEmulator(options.respond);
    const sandbox = new EspSandbox([emulator], {
      record: true,
      limitsLifted: options.limitsLifted ?? true,
      ...(options.runner?.clock === undefined ? {} : { clock: options.runner.clock }),
    });
    const root = await sandbox.listen();
    const baseUrl = `${root}/${emulator.esp}`;
    try {
      const runner = new DestinationRunner(options.definition, {
        ...options.runner,
        settings: pointSettingsAt(options.definition.settingsSchema, options.settings, baseUrl),
        // The harness's own sandbox on loopback stands in for the ESP's hosts.
        allowedHosts: (options.runner?.allowedHosts ?? AllowedDestinationHosts.none).with(root),
      });
      return new DestinationHarness(sandbox, runner, baseUrl, emulator.esp, options.contract);
    } catch (error) {
      await sandbox.close();
      throw error;
    }
  }

  get emulator(): EspEmulator {
    return this.sandbox.emulator(this.esp);
  }

  run<K extends OperationName>(name: K, items: OperationItems[K][]): Promise<BatchResult> {
    return this.runner.run(name, items);
  }

  /** Every request sent so far, oldest first. */
  requests(): HarnessRequest[] {
    return this.sandbox.exchanges(this.esp).map((exchange) => {
      const body = parseBody(exchange.rawBody);
      const violations =
        this.contract?.validate({
          method: exchange.method,
          path: exchange.path,
          headers: exchange.headers,
          ...(body === undefined ? {} : { body }),
        }) ?? [];
      return {
        method: exchange.method,
        path: exchange.path,
        headers: exchange.headers,
        body,
        status: exchange.status,
        violations,
      };
    });
  }

  /** Contract violations of every request sent so far, each prefixed with its request line. */
  violations(): string[] {
    return this.requests().flatMap((request) =>
      request.violations.map(
        (violation) => `${request.method} ${request.path}: [${violation.where}] ${violation.message}`,
      ),
    );
  }

  /** Forgets recorded requests (the emulator keeps its state). */
  clearRequests(): void {
    this.sandbox.clearExchanges();
  }

  close(): Promise<void> {
    return this.sandbox.close();
  }
}

function parseBody(rawBody: Buffer): unknown {
  if (rawBody.length === 0) return undefined;
  const text = rawBody.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
