import { defineDestination } from '@tessera/destination-kit';
import { answerListWebhookHandshake, parseListWebhook } from './inbound/list-webhook';
import { MAILCHIMP_HOSTS, MAILCHIMP_LIMITS, MAILCHIMP_PATHS } from './mailchimp-endpoints';
import {
  mailchimpAuthorization,
  mailchimpSettingsSchema,
  type MailchimpSettings,
  resolveMailchimpSettings,
} from './mailchimp-settings';
import { deleteMembers } from './requests/member-deletion.request';
import { archiveRetiredMembers } from './requests/member-archive.request';
import { fetchMembers } from './requests/member-fetch.request';
import { planProfileWrites, planStatusWrites, writeMembers } from './requests/member-write.request';
import { changeSegmentMembership } from './requests/segment-membership.request';

/** Members per `perform` call of the per-member endpoints (each call waits for one of the 10 connections). */
const PER_MEMBER_BATCH = 100;

/**
 * The Mailchimp destination: one audience (`listId`) on the Marketing API 3.0, members keyed by the MD5 of
 * their lower-cased email, HTTP basic auth.
 *
 * - `upsertProfiles` / `updateAttributes`: one member → PUT /lists/{list_id}/members/{hash} with
 *   `status_if_new: 'transactional'`; more → batch POST /lists/{list_id} (≤ 500): new members created as
 *   `transactional` (`update_existing: false`), existing ones updated without a status. A profile write never
 *   changes a subscription; consent comes from Tessera's ledger through `subscribe`.
 * - `addToSegment` / `removeFromSegment`: POST /lists/{list_id}/segments/{id} (≤ 500 emails), one call per
 *   segment: the static segment mapped in `segmentIds`, or the tag of the segment's name (a tag is a static
 *   segment; its id is found once per runner, and the tag created when missing).
 * - `subscribe` / `unsubscribe`: member `status` `subscribed` / `unsubscribed`, email only (sms items skipped).
 * - `suppress`: status `unsubscribed`, the nearest thing the API allows — Mailchimp has no suppression list
 *   in the Marketing API and `cleaned` cannot be set by API. `unsuppress` is not declared: the only way back
 *   from `unsubscribed` is a new subscription, which is `subscribe`'s job once the ledger holds a grant.
 * - `deleteProfiles`: POST …/members/{hash}/actions/delete-permanent, one per member; 404 is ok.
 * - `fetchProfiles`: GET …/members/{hash}; a member Mailchimp does not hold is ok without a profile.
 * - `mergeProfiles`: Mailchimp cannot merge members, so the retired one is archived (DELETE …/members/{hash},
 *   its hash from the sync state; 404 is ok), after the kit's `mergeCoolingOffMinutes`. See member-archive.request.
 * - Inbound: list webhooks (form-encoded, verified by `?secret=` in the URL); `unsubscribe` and `cleaned`
 *   become opt-outs. Mailchimp's GET check of the URL is answered 200.
 *
 * Limits: Mailchimp publishes no request rate, so no rate budget is declared; its one limit is 10 simultaneous
 * connections per API key, which the kit's connection gate holds per account (`accountKey`: the API key).
 */
export const mailchimpDestination = defineDestination<MailchimpSettings>({
  type: 'mailchimp',
  name: 'Mailchimp',
  hosts: MAILCHIMP_HOSTS,
  settingsSchema: mailchimpSettingsSchema,
  resolveSettings: resolveMailchimpSettings,
  maxConcurrentRequests: MAILCHIMP_LIMITS.maxConnections,
  // Mailchimp counts connections per API key: instances sharing a key (other audiences, other webhook
  // secrets) share its 10 connections.
  accountKey: (settings) => settings.apiKey,
  requestHeaders: (settings): Record<string, string> => ({
    authorization: mailchimpAuthorization(settings.apiKey),
  }),
  testConnection: async ({ http }) => {
    await http.get(MAILCHIMP_PATHS.ping);
  },
  operations: {
    upsertProfiles: {
      batchSize: MAILCHIMP_LIMITS.batchMembers,
      perform: (items, context) => writeMembers(planProfileWrites(items, context.settings), context),
    },
    updateAttributes: {
      batchSize: MAILCHIMP_LIMITS.batchMembers,
      perform: (items, context) => writeMembers(planProfileWrites(items, context.settings), context),
    },
    addToSegment: {
      batchSize: MAILCHIMP_LIMITS.segmentMembers,
      perform: (items, context) => changeSegmentMembership(items, 'add', context),
    },
    removeFromSegment: {
      batchSize: MAILCHIMP_LIMITS.segmentMembers,
      perform: (items, context) => changeSegmentMembership(items, 'remove', context),
    },
    subscribe: {
      batchSize: MAILCHIMP_LIMITS.batchMembers,
      perform: (items, context) => writeMembers(planStatusWrites(items, 'subscribed'), context),
    },
    unsubscribe: {
      batchSize: MAILCHIMP_LIMITS.batchMembers,
      perform: (items, context) => writeMembers(planStatusWrites(items, 'unsubscribed'), context),
    },
    suppress: {
      batchSize: MAILCHIMP_LIMITS.batchMembers,
      perform: (items, context) => writeMembers(planStatusWrites(items, 'unsubscribed'), context),
    },
    deleteProfiles: {
      batchSize: PER_MEMBER_BATCH,
      perform: deleteMembers,
    },
    fetchProfiles: {
      batchSize: PER_MEMBER_BATCH,
      perform: fetchMembers,
    },
    mergeProfiles: {
      batchSize: PER_MEMBER_BATCH,
      perform: archiveRetiredMembers,
    },
  },
  parseInboundUnsubscribes: parseListWebhook,
  answerInboundHandshake: answerListWebhookHandshake,
});
