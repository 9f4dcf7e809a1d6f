import {
  type Clock,
  DestinationHarness,
  type HarnessRequest,
  OpenApiContract,
  type ProfileUpsert,
  type RateGate,
  type TokenCache,
} from '@tessera/destination-kit';
import { SFMC_REST_OPENAPI } from '../contract/sfmc-rest.openapi';
import { validateSoapEnvelope } from '../contract/soap-envelope.validator';
import { SfmcEmulator, type SfmcEmulatorOptions } from '../emulator/sfmc.emulator';
import type { SfmcEmulatorConfig } from '../emulator/sfmc-emulator-config';
import { sfmcDestination } from '../sfmc.destination';
import { SFMC_LIMITS } from '../sfmc-endpoints';
import type { SfmcSettings } from '../sfmc-settings';

export const sfmcContract = OpenApiContract.fromDocuments([SFMC_REST_OPENAPI]);

export const TEST_SETTINGS = {
  subdomain: 'mc563885gzs27c5t9-63k636ttgm',
  clientId: 'tessera-client',
  clientSecret: 'tessera-secret',
  accountId: '100000001',
  dataExtensionKey: 'TesseraProfiles',
};

/**
 * The tenant the tests run against: the TEST_SETTINGS client, and the profiles data extension with every
 * column the tests write (attributes by their own names or mapped, segments as Boolean columns).
 */
export const TEST_EMULATOR_CONFIG: SfmcEmulatorConfig = {
  clients: [{ clientId: 'tessera-client', clientSecret: 'tessera-secret', accountId: '100000001' }],
  dataExtensions: [
    {
      key: 'TesseraProfiles',
      primaryKeys: ['TesseraId'],
      columns: [
        { name: 'TesseraId', type: 'Text', maxLength: 254, required: true },
        { name: 'EmailAddress', type: 'EmailAddress' },
        { name: 'Phone', type: 'Phone' },
        { name: 'FirstName', type: 'Text', maxLength: 100 },
        { name: 'LastName', type: 'Text', maxLength: 100 },
        { name: 'loyalty_tier', type: 'Text', maxLength: 50 },
        { name: 'LoyaltyTier', type: 'Text', maxLength: 50 },
        { name: 'points_balance', type: 'Number' },
        { name: 'joined', type: 'Date' },
        { name: 'tags', type: 'Text' },
        { name: 'gone', type: 'Text' },
        { name: 'Gold', type: 'Boolean' },
        { name: 'Lapsed', type: 'Boolean' },
        { name: 'SegmentGoldTier', type: 'Boolean' },
      ],
    },
  ],
};

export interface SfmcHarnessOptions {
  settings?: Partial<SfmcSettings>;
  /** The emulator itself (configured by the caller), or options for a new one (default TEST_EMULATOR_CONFIG). */
  emulator?: SfmcEmulator | SfmcEmulatorOptions;
  clock?: Clock;
  tokenCache?: TokenCache;
  /** Paces every request by the destination's rate budgets, as the pipeline does. */
  rateGate?: RateGate;
  limitsLifted?: boolean;
}

/** The destination against its emulator, every REST request checked by the OpenAPI document. */
export function startSfmcHarness(
  options: SfmcHarnessOptions = {},
): Promise<DestinationHarness<SfmcSettings>> {
  return DestinationHarness.start<SfmcSettings>({
    definition: sfmcDestination,
    emulator:
      options.emulator instanceof SfmcEmulator
        ? options.emulator
        : new SfmcEmulator({ config: TEST_EMULATOR_CONFIG, ...options.emulator }),
    settings: { ...TEST_SETTINGS, ...options.settings },
    contract: sfmcContract,
    runner: {
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.tokenCache === undefined ? {} : { tokenCache: options.tokenCache }),
      ...(options.rateGate === undefined ? {} : { rateGate: options.rateGate }),
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

/**
 * Violations of every request: the OpenAPI contract's, the SOAP validator's for SOAP envelopes, and SFMC's
 * 5 MB cap on any body.
 */
export function allViolations(harness: DestinationHarness<SfmcSettings>): string[] {
  const oversized = harness.sandbox
    .exchanges()
    .filter((exchange) => exchange.rawBody.length > SFMC_LIMITS.requestBytes)
    .map(
      (exchange) =>
        `${exchange.method} ${exchange.path}: body of ${exchange.rawBody.length} bytes is over ${SFMC_LIMITS.requestBytes}`,
    );
  const soap = harness
    .requests()
    .filter((request: HarnessRequest) => request.path === '/Service.asmx')
    .flatMap((request) =>
      validateSoapEnvelope({ headers: request.headers, body: String(request.body) }).map(
        (problem) => `SOAP ${request.path}: ${problem}`,
      ),
    );
  return [...harness.violations(), ...soap, ...oversized];
}

/** Request lines of the data extension endpoints, async request ids replaced by `{id}` (see `requestLinesOf`). */
export const REQUEST_LINES = {
  rowset: 'POST /hub/v1/dataevents/key:TesseraProfiles/rowset',
  asyncRows: 'PUT /data/v1/async/dataextensions/key:TesseraProfiles/rows',
  asyncStatus: 'GET /data/v1/async/{id}/status',
  asyncResults: 'GET /data/v1/async/{id}/results',
} as const;

/** `requestLines` with async request ids replaced by `{id}`. */
export function requestLinesOf(harness: DestinationHarness<SfmcSettings>): string[] {
  return requestLines(harness).map((line) => line.replace(/async\/[0-9a-f-]+\//, 'async/{id}/'));
}

/** Member `n`: customer `C0000n`, an email, a first name, a tier and points. */
export const member = (n: number, extra: Partial<ProfileUpsert> = {}): ProfileUpsert => ({
  customerId: `C${String(n).padStart(5, '0')}`,
  version: 1,
  email: `member${n}@example.com`,
  attributes: { first_name: `Ada${n}`, loyalty_tier: 'gold', points_balance: n * 10 },
  ...extra,
});
