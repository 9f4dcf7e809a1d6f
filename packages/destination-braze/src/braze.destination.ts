import { defineDestination } from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS, BRAZE_HOSTS, BRAZE_RATE_BUDGETS } from './braze-endpoints';
import { pollEmailUnsubscribes } from './inbound/unsubscribe-poll';
import { setSubscriptions, type SubscriptionDirection } from './requests/subscription.request';
import { blocklistEmails, removeHardBounces } from './requests/email-suppression.request';
import { mergeUsers } from './requests/user-merge.request';
import { deleteUsers } from './requests/users-delete.request';
import { exportUsers } from './requests/users-export.request';
import { buildSegmentAttributes, track, upsertProfiles } from './requests/users-track.request';

/** Settings of one Braze destination instance; the JSON Schema below is what validates them. */
export type BrazeSettings = {
  /** The REST endpoint of the workspace's instance, e.g. `https://rest.iad-01.braze.com` (US-01). */
  baseUrl: string;
  /** REST API key, sent as a bearer token. */
  apiKey: string;
  /** The SMS subscription group that `subscribe` / `unsubscribe` set for sms items. */
  smsSubscriptionGroupId?: string;
  /**
   * How long a merge must stand in Tessera's identity graph before the irreversible Braze merge is sent: the
   * kit's setting of every destination that merges (default 1440), which the runner applies.
   */
  mergeCoolingOffMinutes?: number;
};

/**
 * The Braze destination.
 *
 * - `upsertProfiles` / `updateAttributes`: POST /users/track, one attribute object per profile keyed by
 *   `external_id` = Tessera customer id, ≤ 75 per request. A 2xx answer's `errors[]` rejects exactly the
 *   items at those indexes; the rest are ok. Braze bills every attribute sent: a profile with no attribute,
 *   email or phone to write sends nothing (ok), and a batch of only such profiles makes no request.
 * - `addToSegment` / `removeFromSegment`: Braze segments are filters, not lists, so membership is the custom
 *   array attribute `tessera_segments`, changed with `{ "add": [segment] }` / `{ "remove": [segment] }` in
 *   /users/track. A Braze segment filtering on "tessera_segments includes X" mirrors Tessera segment X.
 * - `subscribe` / `unsubscribe`: email via POST /email/status (`opted_in` / `unsubscribed`, ≤ 50 addresses a
 *   request); sms via POST /v2/subscription/status/set in the `smsSubscriptionGroupId` group (≤ 50 external
 *   ids a request; rejected when the setting is missing).
 * - Guests (`guest: true`, no member identity yet) are keyed by the user alias `tessera_customer_id` = their
 *   customer id, created on first /users/track with `_update_existing_only: false`.
 * - `mergeProfiles`: a guest that became a member → POST /users/identify with `merge_behavior: merge`; two
 *   members → POST /users/merge. Braze merges are irreversible: only deterministic or human-approved merges are
 *   sent, and only after the kit's `mergeCoolingOffMinutes` (until then the item is retried when the period ends).
 * - `suppress`: POST /email/blocklist (≤ 50). `unsuppress`: Braze cannot un-blocklist; the nearest correct
 *   thing is POST /email/bounce/remove (≤ 50), leaving the address unsubscribed until a grant.
 * - `fetchProfiles`: POST /users/export/ids, ≤ 50 external ids per request.
 * - `deleteProfiles`: POST /users/delete by external id, ≤ 50 per request.
 * - Inbound opt-outs: polled from GET /email/unsubscribes (Braze has no signed unsubscribe webhook).
 */
export const brazeDestination = defineDestination<BrazeSettings>({
  type: 'braze',
  name: 'Braze',
  hosts: BRAZE_HOSTS,
  // Profiles are keyed by the Tessera customer id: unchanged contact points need not travel again.
  profileKey: 'customerId',
  settingsSchema: {
    type: 'object',
    properties: {
      baseUrl: {
        type: 'string',
        default: 'https://rest.iad-01.braze.com',
        description:
          "REST endpoint of the workspace's Braze instance (e.g. https://rest.fra-01.braze.eu for EU-01)",
      },
      apiKey: {
        type: 'string',
        minLength: 1,
        'x-secret': true,
        description:
          'Braze REST API key with users.track, users.delete, email.status, email.unsubscribe and subscription.status.set',
      },
      smsSubscriptionGroupId: {
        type: 'string',
        minLength: 1,
        description: 'Braze SMS subscription group id used by subscribe / unsubscribe for the sms channel',
      },
    },
    required: ['apiKey'],
    additionalProperties: false,
  },
  // Braze counts limits per workspace; its API key identifies it (the default account key hashes baseUrl and
  // apiKey). Every request, polls and testConnection included, waits for room in its budget.
  rateBudgets: BRAZE_RATE_BUDGETS,
  requestHeaders: (settings): Record<string, string> => ({
    authorization: `Bearer ${settings.apiKey}`,
  }),
  testConnection: async ({ http, clock }) => {
    // Braze has no ping: the cheapest authenticated read is one page of today's email unsubscribes.
    const today = new Date(clock.now()).toISOString().slice(0, 10);
    const tomorrow = new Date(clock.now() + 86_400_000).toISOString().slice(0, 10);
    await http.get(BRAZE_ENDPOINTS.emailUnsubscribes.path, {
      query: { start_date: today, end_date: tomorrow, limit: 2 },
    });
  },
  operations: {
    upsertProfiles: {
      batchSize: BRAZE_ENDPOINTS.usersTrack.maxPerRequest,
      perform: (items, { http }) => upsertProfiles(http, items),
    },
    updateAttributes: {
      batchSize: BRAZE_ENDPOINTS.usersTrack.maxPerRequest,
      perform: (items, { http }) => upsertProfiles(http, items),
    },
    addToSegment: {
      batchSize: BRAZE_ENDPOINTS.usersTrack.maxPerRequest,
      perform: (items, { http }) => track(http, buildSegmentAttributes(items, 'add')),
    },
    removeFromSegment: {
      batchSize: BRAZE_ENDPOINTS.usersTrack.maxPerRequest,
      perform: (items, { http }) => track(http, buildSegmentAttributes(items, 'remove')),
    },
    subscribe: subscriptionOperation('subscribe'),
    unsubscribe: subscriptionOperation('unsubscribe'),
    suppress: {
      batchSize: BRAZE_ENDPOINTS.emailBlocklist.maxPerRequest,
      perform: (items, { http }) => blocklistEmails(http, items),
    },
    unsuppress: {
      batchSize: BRAZE_ENDPOINTS.emailBounceRemove.maxPerRequest,
      perform: (items, { http }) => removeHardBounces(http, items),
    },
    deleteProfiles: {
      batchSize: BRAZE_ENDPOINTS.usersDelete.maxPerRequest,
      perform: (items, { http }) => deleteUsers(http, items),
    },
    fetchProfiles: {
      batchSize: BRAZE_ENDPOINTS.usersExportIds.maxPerRequest,
      perform: (items, { http }) => exportUsers(http, items),
    },
    mergeProfiles: {
      // At most one /users/identify and one /users/merge per batch, each ≤ 50.
      batchSize: Math.min(
        BRAZE_ENDPOINTS.usersIdentify.maxPerRequest,
        BRAZE_ENDPOINTS.usersMerge.maxPerRequest,
      ),
      perform: (items, { http }) => mergeUsers(http, items),
    },
  },
  pollInboundUnsubscribes: (cursor, context) => pollEmailUnsubscribes(cursor, context),
});

function subscriptionOperation(direction: SubscriptionDirection) {
  return {
    // One /email/status of ≤ 50 addresses and one /v2/subscription/status/set of ≤ 50 ids per batch.
    batchSize: Math.min(
      BRAZE_ENDPOINTS.emailStatus.maxPerRequest,
      BRAZE_ENDPOINTS.subscriptionStatusSet.maxPerRequest,
    ),
    perform: (
      items: Parameters<typeof setSubscriptions>[1],
      { http, settings }: { http: Parameters<typeof setSubscriptions>[0]; settings: BrazeSettings },
    ) => setSubscriptions(http, items, direction, settings.smsSubscriptionGroupId),
  };
}
