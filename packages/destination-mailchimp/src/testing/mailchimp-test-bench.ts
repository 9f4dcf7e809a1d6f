import {
  type Clock,
  DestinationHarness,
  OpenApiContract,
  type ProfileUpsert,
  type SubscriptionChange,
} from '@tessera/destination-kit';
import { MAILCHIMP_REQUESTS_OPENAPI } from '../contract/mailchimp-requests.openapi';
import type { MailchimpEmulatorConfig } from '../emulator/emulator-configuration';
import { MailchimpEmulator, type MailchimpEmulatorOptions } from '../emulator/mailchimp.emulator';
import { mailchimpDestination } from '../mailchimp.destination';
import type { MailchimpSettings } from '../mailchimp-settings';
import { subscriberHash } from '../requests/member-identity';

/*
 * What the destination's specs share: the destination under the kit's harness, against an emulator configured
 * with a test audience, every request checked against the request contract.
 */

export const API_KEY = '0123456789abcdef0123456789abcdef-us21';
export const LIST = 'a6b5da1054';
export const WEBHOOK_SECRET = 'webhook-secret-0123456789';

export const contract = OpenApiContract.fromDocuments([MAILCHIMP_REQUESTS_OPENAPI]);

/** The test audience: Mailchimp's default merge fields, TESSERA_ID and the mapped TIER. */
export const TEST_AUDIENCES: MailchimpEmulatorConfig = {
  audiences: [
    {
      id: LIST,
      name: 'Summit members',
      mergeFields: [
        { tag: 'FNAME', type: 'text', name: 'First Name' },
        { tag: 'LNAME', type: 'text', name: 'Last Name' },
        { tag: 'ADDRESS', type: 'address', name: 'Address' },
        { tag: 'PHONE', type: 'phone', name: 'Phone Number' },
        { tag: 'BIRTHDAY', type: 'birthday', name: 'Birthday' },
        { tag: 'TESSERA_ID', type: 'text', name: 'Tessera customer id' },
        { tag: 'TIER', type: 'text', name: 'Loyalty tier' },
      ],
    },
  ],
};

export const member = (n: number, extra: Partial<ProfileUpsert> = {}): ProfileUpsert => ({
  customerId: `C${String(n).padStart(5, '0')}`,
  version: 1,
  email: `member${n}@example.com`,
  attributes: { first_name: `Ada${n}`, loyalty_tier: 'gold' },
  ...extra,
});

export const consent = (n: number, channel: 'email' | 'sms' = 'email'): SubscriptionChange => ({
  customerId: `C${String(n).padStart(5, '0')}`,
  channel,
  email: `member${n}@example.com`,
});

export const hashOf = (n: number): string => subscriberHash(`member${n}@example.com`);

export interface MailchimpTestBench {
  emulator: MailchimpEmulator;
  harness: DestinationHarness<MailchimpSettings>;
  /** `METHOD /path?query` of every request so far. */
  lines(): string[];
  /** The emulator's member `member{n}@example.com`. */
  stored(n: number): ReturnType<MailchimpEmulator['member']>;
}

export async function startMailchimpBench(
  settings: Partial<MailchimpSettings> = {},
  options: MailchimpEmulatorOptions & { audiences?: MailchimpEmulatorConfig } = {},
  runner: { clock?: Clock } = {},
): Promise<MailchimpTestBench> {
  const { audiences = TEST_AUDIENCES, ...emulatorOptions } = options;
  const emulator = new MailchimpEmulator({ apiKey: API_KEY, ...emulatorOptions });
  emulator.configure(audiences);
  const harness = await DestinationHarness.start<MailchimpSettings>({
    definition: mailchimpDestination,
    emulator,
    settings: {
      apiKey: API_KEY,
      listId: LIST,
      webhookSecret: WEBHOOK_SECRET,
      mergeFieldMapping: { loyalty_tier: 'TIER' },
      ...settings,
    },
    contract,
    ...(runner.clock === undefined ? {} : { runner: { clock: runner.clock } }),
  });
  return {
    emulator,
    harness,
    lines: () => harness.requests().map((request) => `${request.method} ${request.path}`),
    stored: (n) => emulator.member(LIST, `member${n}@example.com`),
  };
}
