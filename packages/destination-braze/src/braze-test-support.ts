import {
  DestinationHarness,
  planSpecSuite,
  type ManualClock,
  type ProfileUpsert,
  type SubscriptionChange,
} from '@tessera/destination-kit';
import { brazeContract } from './braze-spec-corrections';
import { brazeDestination, type BrazeSettings } from './braze.destination';
import { BrazeEmulator } from './emulator/braze.emulator';

/*
 * What the destination specs share: a harness on the Braze emulator whose every request is checked against the
 * community Braze spec (as its own parameter tables correct it) when the spec folder exists.
 */

const plan = planSpecSuite('braze');
export const brazeSpecContract = plan.kind === 'run' ? brazeContract(plan.dir) : undefined;

export const API_KEY = 'braze-rest-key-0001';

export const member = (n: number, extra: Partial<ProfileUpsert> = {}): ProfileUpsert => ({
  customerId: `C${String(n).padStart(5, '0')}`,
  version: 1,
  email: `member${n}@example.com`,
  attributes: { first_name: `Ada${n}`, loyalty_tier: 'gold', points_balance: n * 10 },
  ...extra,
});

export const change = (n: number, channel: 'email' | 'sms'): SubscriptionChange => ({
  customerId: `C${String(n).padStart(5, '0')}`,
  channel,
  email: `member${n}@example.com`,
  phone: `+4477009001${String(n).padStart(2, '0')}`,
});

/** A harness on a fresh emulator that accepts only API_KEY (rate limits lifted unless a test says otherwise). */
export async function startBraze(
  settings: Partial<BrazeSettings> = {},
  clock?: ManualClock,
): Promise<{ emulator: BrazeEmulator; harness: DestinationHarness<BrazeSettings> }> {
  const emulator = new BrazeEmulator({ apiKey: API_KEY });
  const harness = await DestinationHarness.start<BrazeSettings>({
    definition: brazeDestination,
    emulator,
    settings: { apiKey: API_KEY, ...settings },
    ...(brazeSpecContract === undefined ? {} : { contract: brazeSpecContract }),
    ...(clock === undefined ? {} : { runner: { clock } }),
  });
  return { emulator, harness };
}

/** `METHOD /path` of every request sent so far, without the query. */
export function requestLines(harness: DestinationHarness<BrazeSettings>): string[] {
  return harness.requests().map((request) => `${request.method} ${request.path.split('?')[0]}`);
}
