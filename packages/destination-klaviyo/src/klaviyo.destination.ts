import { defineDestination } from '@tessera/destination-kit';
import { KLAVIYO_HOSTS, KLAVIYO_REVISION } from './api-revision';
import { KLAVIYO_ENDPOINTS, KLAVIYO_LIMITS, KLAVIYO_RATE_BUDGETS } from './klaviyo-endpoints';
import { type KlaviyoSettings, klaviyoSettingsSchema } from './klaviyo-settings';
import { pollUnsubscribes } from './inbound/subscription-poll';
import { parseUnsubscribeWebhook } from './inbound/unsubscribe-webhook';
import { changeListMembership } from './requests/list-membership.request';
import { deleteProfiles } from './requests/profile-deletion.request';
import { mergeProfiles } from './requests/profile-merge.request';
import { profilesByCustomerId, toRemoteProfile } from './requests/profile-query.request';
import { upsertProfiles } from './requests/profile-upsert.request';
import { changeSuppression, subscribeProfiles, unsubscribeProfiles } from './requests/subscription.request';

const E = KLAVIYO_ENDPOINTS;

/** Klaviyo: profiles, list membership, subscriptions and suppressions on Klaviyo's JSON:API (see README). */
export const klaviyoDestination = defineDestination<KlaviyoSettings>({
  type: 'klaviyo',
  name: 'Klaviyo',
  hosts: KLAVIYO_HOSTS,
  settingsSchema: klaviyoSettingsSchema,
  contentType: 'application/vnd.api+json',
  requestHeaders: (settings) => ({
    authorization: `Klaviyo-API-Key ${settings.apiKey}`,
    revision: KLAVIYO_REVISION,
    accept: 'application/vnd.api+json',
  }),
  // Every request the kit sends for this destination (operations, bulk job polls, testConnection) waits for
  // room in its endpoint's budget, counted per Klaviyo account by every worker.
  rateBudgets: KLAVIYO_RATE_BUDGETS,
  testConnection: async ({ http }) => {
    await http.get(E.profiles.path, { query: { 'page[size]': 1 } });
  },
  operations: {
    upsertProfiles: {
      batchSize: KLAVIYO_LIMITS.bulkImportProfiles,
      perform: upsertProfiles,
    },
    updateAttributes: {
      batchSize: KLAVIYO_LIMITS.bulkImportProfiles,
      perform: upsertProfiles,
    },
    addToSegment: {
      batchSize: KLAVIYO_LIMITS.listRelationshipProfiles,
      perform: (items, context) => changeListMembership('POST', items, context),
    },
    removeFromSegment: {
      batchSize: KLAVIYO_LIMITS.listRelationshipProfiles,
      perform: (items, context) => changeListMembership('DELETE', items, context),
    },
    subscribe: {
      batchSize: KLAVIYO_LIMITS.subscribeProfiles,
      perform: subscribeProfiles,
    },
    unsubscribe: {
      batchSize: KLAVIYO_LIMITS.unsubscribeProfiles,
      perform: unsubscribeProfiles,
    },
    suppress: {
      batchSize: KLAVIYO_LIMITS.suppressionProfiles,
      perform: (items, context) => changeSuppression(true, items, context),
    },
    unsuppress: {
      batchSize: KLAVIYO_LIMITS.suppressionProfiles,
      perform: (items, context) => changeSuppression(false, items, context),
    },
    deleteProfiles: {
      // One deletion job per profile, so a failure never repeats the deletions before it.
      batchSize: 1,
      perform: deleteProfiles,
    },
    mergeProfiles: {
      // One GET /api/profiles finds the batch's profiles (≤ 100 ids: 50 merges); then one merge call each.
      batchSize: KLAVIYO_LIMITS.profilesPageSize / 2,
      perform: mergeProfiles,
    },
    fetchProfiles: {
      batchSize: KLAVIYO_LIMITS.profilesPageSize,
      perform: async (items, { http }) => {
        const found = await profilesByCustomerId(
          http,
          items.map((item) => item.customerId),
          { subscriptions: true },
        );
        return items.map((item) => {
          const resource = found.get(item.customerId);
          return resource === undefined
            ? { status: 'ok' }
            : { status: 'ok', externalId: resource.id, profile: toRemoteProfile(resource) };
        });
      },
    },
  },
  parseInboundUnsubscribes: parseUnsubscribeWebhook,
  pollInboundUnsubscribes: pollUnsubscribes,
});
