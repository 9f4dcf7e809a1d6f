import {
  type Clock,
  DestinationHarness,
  type HarnessRequest,
  OpenApiContract,
  type TokenCache,
} from '@tessera/destination-kit';
import { SFMC_REST_OPENAPI } from '../contract/sfmc-rest.openapi';
import { validateSoapEnvelope } from '../contract/soap-envelope.validator';
import { SfmcEmulator, type SfmcEmulatorOptions } from '../emulator/sfmc.emulator';
import { sfmcDestination } from '../sfmc.destination';
import type { SfmcSettings } from '../sfmc-settings';

export const sfmcContract = OpenApiContract.fromDocuments([SFMC_REST_OPENAPI]);

export const TEST_SETTINGS = {
  subdomain: 'mc563885gzs27c5t9-63k636ttgm',
  clientId: 'tessera-client',
  clientSecret: 'tessera-secret',
  accountId: '100000001',
  dataExtensionKey: 'TesseraProfiles',
};

export interface SfmcHarnessOptions {
  settings?: Partial<SfmcSettings>;
  /** The emulator itself, or options for a new one. */
  emulator?: SfmcEmulator | SfmcEmulatorOptions;
  clock?: Clock;
  tokenCache?: TokenCache;
  limitsLifted?: boolean;
}

/** The destination against its emulator, every REST request checked by the OpenAPI document. */
export function startSfmcHarness(
  options: SfmcHarnessOptions = {},
): Promise<DestinationHarness<SfmcSettings>> {
  return DestinationHarness.start<SfmcSettings>({
    definition: sfmcDestination,
    emulator:
      options.emulator instanceof SfmcEmulator ? options.emulator : new SfmcEmulator(options.emulator),
    settings: { ...TEST_SETTINGS, ...options.settings },
    contract: sfmcContract,
    runner: {
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.tokenCache === undefined ? {} : { tokenCache: options.tokenCache }),
    },
    ...(options.limitsLifted === undefined ? {} : { limitsLifted: options.limitsLifted }),
  });
}

export const emulatorOf = (harness: DestinationHarness<SfmcSettings>): SfmcEmulator =>
  harness.emulator as SfmcEmulator;

/** `METHOD /path` of every request sent, query left out. */
export function requestLines(harness: DestinationHarness<SfmcSettings>): string[] {
  return harness.requests().map((request) => `${request.method} ${request.path.split('?')[0] ?? ''}`);
}

/** Violations of every request: the OpenAPI contract's, plus the SOAP validator's for SOAP envelopes. */
export function allViolations(harness: DestinationHarness<SfmcSettings>): string[] {
  const soap = harness
    .requests()
    .filter((request: HarnessRequest) => request.path === '/Service.asmx')
    .flatMap((request) =>
      validateSoapEnvelope({ headers: request.headers, body: String(request.body) }).map(
        (problem) => `SOAP ${request.path}: ${problem}`,
      ),
    );
  return [...harness.violations(), ...soap];
}
