import {
  DestinationHarness,
  type ManualClock,
  OpenApiContract,
  planSpecSuite,
  type ProfileUpsert,
  type RateGate,
} from '@tessera/destination-kit';
import { KlaviyoEmulator, type KlaviyoEmulatorOptions } from './emulator';
import { KLAVIYO_REVISION } from './api-revision';
import { klaviyoDestination } from './klaviyo.destination';
import type { KlaviyoSettings } from './klaviyo-settings';

/* Test support for the destination's specs (not exported from the package). */

// Every request the destination sends is checked against Klaviyo's published operations when the spec folder
// is present (CI requires it: see klaviyo.contract.spec.ts).
const plan = planSpecSuite('klaviyo');
export const contract = plan.kind === 'run' ? OpenApiContract.fromFolder(plan.dir) : undefined;

export const WEBHOOK_SECRET = 'whsec-klaviyo-sandbox-0001';

export const member = (n: number, extra: Partial<ProfileUpsert> = {}): ProfileUpsert => ({
  customerId: `C${String(n).padStart(5, '0')}`,
  version: 1,
  email: `member${n}@example.com`,
  attributes: { first_name: `Ada${n}`, loyalty_tier: 'gold', points_balance: n * 10 },
  ...extra,
});

export type KlaviyoHarness = DestinationHarness<KlaviyoSettings>;

export async function startHarness(
  settings: Partial<KlaviyoSettings> = {},
  options: {
    timeoutMs?: number;
    clock?: ManualClock;
    /** Options of the emulator, or an emulator of the test's own (a subclass injecting a fault). */
    emulator?: KlaviyoEmulatorOptions | KlaviyoEmulator;
    /** Paces requests by the definition's rate budgets (none by default: the runner sends at once). */
    rateGate?: RateGate;
    /** The emulator enforces Klaviyo's limits only when false (default true: lifted). */
    limitsLifted?: boolean;
  } = {},
): Promise<KlaviyoHarness> {
  return DestinationHarness.start<KlaviyoSettings>({
    definition: klaviyoDestination,
    emulator:
      options.emulator instanceof KlaviyoEmulator ? options.emulator : new KlaviyoEmulator(options.emulator),
    settings: {
      apiKey: 'pk_sandbox_test',
      webhookSecret: WEBHOOK_SECRET,
      propertyMapping: { loyalty_tier: 'Loyalty Tier' },
      ...settings,
    },
    ...(contract === undefined ? {} : { contract }),
    ...(options.limitsLifted === undefined ? {} : { limitsLifted: options.limitsLifted }),
    runner: {
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.rateGate === undefined ? {} : { rateGate: options.rateGate }),
    },
  });
}

export async function createList(harness: KlaviyoHarness, name: string): Promise<string> {
  const response = await fetch(`${harness.baseUrl}/api/lists`, {
    method: 'POST',
    headers: {
      authorization: 'Klaviyo-API-Key pk_sandbox_test',
      revision: KLAVIYO_REVISION,
      'content-type': 'application/vnd.api+json',
    },
    body: JSON.stringify({ data: { type: 'list', attributes: { name } } }),
  });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { data: { id: string } };
  harness.clearRequests();
  return body.data.id;
}

export const emulatorOf = (harness: KlaviyoHarness) => harness.emulator as KlaviyoEmulator;

/** `METHOD /path` of every request sent so far, without the query. */
export const requestLines = (harness: KlaviyoHarness) =>
  harness.requests().map((request) => `${request.method} ${request.path.split('?')[0] ?? ''}`);
