import { defineDestination, type OperationDefinition, type ProfileUpsert } from '@tessera/destination-kit';
import { fetchSfmcToken, sfmcRequestHeaders } from './auth/access-token.request';
import { answerEnsVerification, parseEnsNotification } from './inbound/ens-notification';
import { deleteContacts, removeRetiredContacts } from './requests/contact-deletion.request';
import { upsertProfileRows, upsertSegmentRows } from './requests/data-extension-rows.request';
import { fetchRows } from './requests/row-query.request';
import { setSubscriberStatus } from './requests/subscriber-status.request';
import { SFMC_ENDPOINTS, SFMC_HOSTS, SFMC_LIMITS, SFMC_RATE_BUDGETS } from './sfmc-endpoints';
import { resolveSfmcSettings, sfmcSettingsSchema, type SfmcSettings } from './sfmc-settings';

/**
 * Items per upsert call. Above `asyncRowsThreshold` they go as asynchronous requests (≤ 32,000 rows and 5 MB
 * each), below it as rowsets of ≤ 50 rows; 10,000 rows keep one call's work and retry unit moderate.
 */
const ROWS_PER_BATCH = 10_000;

const profileRows: OperationDefinition<ProfileUpsert, SfmcSettings> = {
  batchSize: ROWS_PER_BATCH,
  perform: upsertProfileRows,
};

/** The tenant: SFMC throttles every installed package and business unit of a tenant together. */
export function sfmcAccountKey(settings: Pick<SfmcSettings, 'subdomain'>): string {
  return settings.subdomain;
}

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
 * - `mergeProfiles`: SFMC cannot merge contacts, so the retired contact key is deleted the same way, after the
 *   kit's `mergeCoolingOffMinutes`; the survivor keeps its contact.
 * - `fetchProfiles`: the data extension row, filtered by TesseraId.
 * - Inbound: ENS EmailUnsubscribe notifications, signed; the callback verification is answered.
 * - Pacing: one REST budget for the whole tenant, one for SOAP, one for tokens (`SFMC_RATE_BUDGETS`), shared by
 *   every destination instance on the tenant (`accountKey` = subdomain).
 */
export const sfmcDestination = defineDestination<SfmcSettings>({
  type: 'sfmc',
  name: 'Salesforce Marketing Cloud',
  hosts: SFMC_HOSTS,
  // Profiles are keyed by the Tessera customer id: unchanged contact points need not travel again.
  profileKey: 'customerId',
  settingsSchema: sfmcSettingsSchema,
  resolveSettings: resolveSfmcSettings,
  requestHeaders: sfmcRequestHeaders,
  rateBudgets: SFMC_RATE_BUDGETS,
  accountKey: sfmcAccountKey,
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
      perform: (items, context) => upsertSegmentRows(items, true, context),
    },
    removeFromSegment: {
      batchSize: ROWS_PER_BATCH,
      perform: (items, context) => upsertSegmentRows(items, false, context),
    },
    subscribe: {
      batchSize: SFMC_LIMITS.soapObjectsPerRequest,
      perform: (items, context) => setSubscriberStatus(items, 'Active', context),
    },
    unsubscribe: {
      batchSize: SFMC_LIMITS.soapObjectsPerRequest,
      perform: (items, context) => setSubscriberStatus(items, 'Unsubscribed', context),
    },
    suppress: {
      batchSize: SFMC_LIMITS.soapObjectsPerRequest,
      // Held is SFMC's own verdict after bounces and cannot be relied on through the API; Unsubscribed at the
      // All Subscribers level is what stops every commercial send, the honest meaning of "suppress".
      perform: (items, context) => setSubscriberStatus(items, 'Unsubscribed', context),
    },
    deleteProfiles: {
      batchSize: SFMC_LIMITS.contactDeletesPerRequest,
      perform: deleteContacts,
    },
    fetchProfiles: {
      batchSize: 50,
      perform: fetchRows,
    },
    mergeProfiles: {
      batchSize: SFMC_LIMITS.contactDeletesPerRequest,
      perform: removeRetiredContacts,
    },
  },
  parseInboundUnsubscribes: parseEnsNotification,
  answerInboundHandshake: answerEnsVerification,
});
