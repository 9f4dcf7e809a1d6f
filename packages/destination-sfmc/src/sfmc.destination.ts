import { defineDestination, type OperationDefinition, type ProfileUpsert } from '@tessera/destination-kit';
import { fetchSfmcToken, sfmcRequestHeaders } from './auth/access-token.request';
import { answerEnsVerification, parseEnsNotification } from './inbound/ens-notification';
import { deleteContacts } from './requests/contact-deletion.request';
import { upsertProfileRows, upsertSegmentRows } from './requests/data-extension-rows.request';
import { fetchRows } from './requests/row-query.request';
import { setSubscriberStatus } from './requests/subscriber-status.request';
import { SFMC_ENDPOINTS, SFMC_LIMITS, SFMC_RATE_LIMITS } from './sfmc-endpoints';
import { resolveSfmcSettings, sfmcSettingsSchema, type SfmcSettings } from './sfmc-settings';

/** Items per upsert call: one asynchronous request of rows, a few MB at most. */
const ROWS_PER_BATCH = 10_000;

/** An upsert costs its requests: one synchronous call, or the async call plus a few status polls. */
const rowsRequestCost = (items: unknown[], settings: SfmcSettings): number =>
  items.length <= settings.asyncRowsThreshold
    ? 1
    : 4 * Math.ceil(items.length / SFMC_LIMITS.asyncRowsPerRequest);

const profileRows: OperationDefinition<ProfileUpsert, SfmcSettings> = {
  batchSize: ROWS_PER_BATCH,
  rateLimits: SFMC_RATE_LIMITS,
  requestCost: rowsRequestCost,
  perform: upsertProfileRows,
};

/**
 * The Salesforce Marketing Cloud Engagement destination.
 *
 * - Auth: OAuth client credentials on the auth host; the runner caches the token (expires_in 1080 s) and
 *   refreshes it once on a 401 or a SOAP security fault.
 * - `upsertProfiles` / `updateAttributes`: rows of the `dataExtensionKey` data extension keyed by TesseraId
 *   (synchronous rowset up to `asyncRowsThreshold` rows, the asynchronous rows API above).
 * - `addToSegment` / `removeFromSegment`: the segment's boolean column of the same rows, true or false.
 * - `subscribe` / `unsubscribe` / `suppress`: the All Subscribers status over SOAP (Active / Unsubscribed /
 *   Unsubscribed); sms items are rejected (MobileConnect is not covered).
 * - `unsuppress` is not declared: SFMC has one subscriber status, so lifting a suppression could not be told
 *   apart from resubscribing a member who unsubscribed; `subscribe` (from the consent ledger) is the way back.
 * - `deleteProfiles`: contact deletion by key (ContactAndAttributes).
 * - `fetchProfiles`: the data extension row, filtered by TesseraId.
 * - Inbound: ENS EmailUnsubscribe notifications, signed; the callback verification is answered.
 */
export const sfmcDestination = defineDestination<SfmcSettings>({
  type: 'sfmc',
  name: 'Salesforce Marketing Cloud',
  settingsSchema: sfmcSettingsSchema,
  resolveSettings: resolveSfmcSettings,
  requestHeaders: sfmcRequestHeaders,
  authentication: { fetchToken: fetchSfmcToken },
  testConnection: async ({ http }) => {
    // The runner fetched a token to get here (credentials work); tokenContext proves the REST host takes it.
    await http.get(SFMC_ENDPOINTS.tokenContext.path);
  },
  operations: {
    upsertProfiles: profileRows,
    updateAttributes: profileRows,
    addToSegment: {
      batchSize: ROWS_PER_BATCH,
      rateLimits: SFMC_RATE_LIMITS,
      requestCost: rowsRequestCost,
      perform: (items, context) => upsertSegmentRows(items, true, context),
    },
    removeFromSegment: {
      batchSize: ROWS_PER_BATCH,
      rateLimits: SFMC_RATE_LIMITS,
      requestCost: rowsRequestCost,
      perform: (items, context) => upsertSegmentRows(items, false, context),
    },
    subscribe: {
      batchSize: SFMC_LIMITS.soapObjectsPerRequest,
      rateLimits: SFMC_RATE_LIMITS,
      perform: (items, context) => setSubscriberStatus(items, 'Active', context),
    },
    unsubscribe: {
      batchSize: SFMC_LIMITS.soapObjectsPerRequest,
      rateLimits: SFMC_RATE_LIMITS,
      perform: (items, context) => setSubscriberStatus(items, 'Unsubscribed', context),
    },
    suppress: {
      batchSize: SFMC_LIMITS.soapObjectsPerRequest,
      rateLimits: SFMC_RATE_LIMITS,
      // Held is SFMC's own verdict after bounces and cannot be relied on through the API; Unsubscribed at the
      // All Subscribers level is what stops every commercial send, the honest meaning of "suppress".
      perform: (items, context) => setSubscriberStatus(items, 'Unsubscribed', context),
    },
    deleteProfiles: {
      batchSize: SFMC_LIMITS.contactDeletesPerRequest,
      rateLimits: SFMC_RATE_LIMITS,
      perform: deleteContacts,
    },
    fetchProfiles: {
      batchSize: 50,
      rateLimits: SFMC_RATE_LIMITS,
      requestCost: (items) => items.length,
      perform: fetchRows,
    },
  },
  parseInboundUnsubscribes: parseEnsNotification,
  answerInboundHandshake: answerEnsVerification,
});
