import { defineDestination } from '@tessera/destination-kit';
import { MAILCHIMP_API_VERSION } from './api-version';
import {
  buildUpsertProfilesBody,
  UPSERT_PROFILES_MAX_BATCH,
  UPSERT_PROFILES_PATH,
  UPSERT_PROFILES_RATE_LIMITS,
  upsertProfilesResults,
  type UpsertProfilesResponse,
} from './requests/upsert-profiles.request';

/** Settings of one Mailchimp destination instance; the JSON Schema below is what validates them. */
export type MailchimpSettings = {
  /** Mailchimp's API root (the sandbox points it at the emulator). */
  baseUrl: string;
  /** Private API key, sent as a bearer token. */
  apiKey: string;
};

/** A cheap authenticated call: `testConnection` succeeds when the key works. */
export const PING_PATH = '/ping';

export const mailchimpDestination = defineDestination<MailchimpSettings>({
  type: 'mailchimp',
  name: 'Mailchimp',
  settingsSchema: {
    type: 'object',
    properties: {
      baseUrl: {
        type: 'string',
        default: 'https://api.mailchimp.example',
        description: 'Mailchimp API root',
      },
      apiKey: {
        type: 'string',
        minLength: 1,
        'x-secret': true,
        description: 'Mailchimp private API key',
      },
    },
    required: ['apiKey'],
    additionalProperties: false,
  },
  requestHeaders: (settings): Record<string, string> => ({
    authorization: `Bearer ${settings.apiKey}`,
    'x-api-version': MAILCHIMP_API_VERSION,
  }),
  testConnection: async ({ http }) => {
    await http.get(PING_PATH);
  },
  operations: {
    upsertProfiles: {
      batchSize: UPSERT_PROFILES_MAX_BATCH,
      rateLimits: UPSERT_PROFILES_RATE_LIMITS,
      perform: async (items, { http }) => {
        const response = await http.post<UpsertProfilesResponse>(
          UPSERT_PROFILES_PATH,
          buildUpsertProfilesBody(items),
        );
        return upsertProfilesResults(items, response.body);
      },
    },
  },
});
