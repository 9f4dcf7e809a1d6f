import { defineDestination } from '@tessera/destination-kit';
import { SFMC_API_VERSION } from './api-version';
import {
  buildUpsertProfilesBody,
  UPSERT_PROFILES_MAX_BATCH,
  UPSERT_PROFILES_PATH,
  UPSERT_PROFILES_RATE_LIMITS,
  upsertProfilesResults,
  type UpsertProfilesResponse,
} from './requests/upsert-profiles.request';

/** Settings of one Sfmc destination instance; the JSON Schema below is what validates them. */
export type SfmcSettings = {
  /** Sfmc's API root (the sandbox points it at the emulator). */
  baseUrl: string;
  /** Private API key, sent as a bearer token. */
  apiKey: string;
};

/** A cheap authenticated call: `testConnection` succeeds when the key works. */
export const PING_PATH = '/ping';

export const sfmcDestination = defineDestination<SfmcSettings>({
  type: 'sfmc',
  name: 'Sfmc',
  settingsSchema: {
    type: 'object',
    properties: {
      baseUrl: {
        type: 'string',
        default: 'https://api.sfmc.example',
        description: 'Sfmc API root',
      },
      apiKey: {
        type: 'string',
        minLength: 1,
        'x-secret': true,
        description: 'Sfmc private API key',
      },
    },
    required: ['apiKey'],
    additionalProperties: false,
  },
  requestHeaders: (settings): Record<string, string> => ({
    authorization: `Bearer ${settings.apiKey}`,
    'x-api-version': SFMC_API_VERSION,
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
