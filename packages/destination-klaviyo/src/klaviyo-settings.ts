import type { SettingsSchema } from '@tessera/destination-kit';
import { KLAVIYO_BASE_URL } from './api-revision';

export interface KlaviyoSettings extends Record<string, unknown> {
  baseUrl: string;
  /** Private API key (`pk_…`). */
  apiKey: string;
  /** Signing secret of the Klaviyo system webhook that reports unsubscribes. */
  webhookSecret?: string;
  /** Klaviyo list id per Tessera segment name. */
  listIds: Record<string, string>;
  /** List a subscription is recorded against (Klaviyo applies its opt-in settings), if any. */
  subscriptionListId?: string;
  /** Tessera attribute → Klaviyo custom property name; unmapped attributes keep their names. */
  propertyMapping: Record<string, string>;
  /** Batches of at least this many profiles go through a bulk import job; smaller ones through profile-import. */
  bulkImportMinProfiles: number;
  /**
   * How long an upsert waits for its accepted bulk import job to complete, to report its per-profile import
   * errors (ms). The items are delivered once Klaviyo accepted the job: past this wait they count as ok.
   */
  bulkJobWaitMs: number;
}

export const klaviyoSettingsSchema: SettingsSchema = {
  type: 'object',
  properties: {
    baseUrl: {
      type: 'string',
      default: KLAVIYO_BASE_URL,
      pattern: '^https?://',
      description:
        "Klaviyo's API root; point it at the sandbox (`http://localhost:8080/sandbox/klaviyo`) to try things.",
    },
    apiKey: {
      type: 'string',
      pattern: '^pk_\\S+$',
      'x-secret': true,
      description:
        'Private API key (starts with pk_), with the profiles, lists, subscriptions and data-privacy scopes.',
    },
    webhookSecret: {
      type: 'string',
      minLength: 16,
      'x-secret': true,
      description:
        'Signing secret of the system webhook sending unsubscribe events (Klaviyo requires 16+ characters).',
    },
    listIds: {
      type: 'object',
      additionalProperties: { type: 'string', minLength: 1 },
      default: {},
      description: 'Klaviyo list id per Tessera segment, e.g. {"gold-tier": "Y6nRLr"}.',
    },
    subscriptionListId: {
      type: 'string',
      minLength: 1,
      description: 'List that subscriptions are recorded against.',
    },
    propertyMapping: {
      type: 'object',
      additionalProperties: { type: 'string', minLength: 1 },
      default: {},
      description: 'Tessera attribute → Klaviyo custom property, e.g. {"loyalty_tier": "Loyalty Tier"}.',
    },
    bulkImportMinProfiles: { type: 'integer', minimum: 1, default: 20 },
    bulkJobWaitMs: {
      type: 'integer',
      minimum: 0,
      default: 30_000,
      description:
        'How long an upsert waits for its accepted bulk import job to report per-profile errors (ms); the items count as delivered once Klaviyo accepted the job.',
    },
  },
  required: ['apiKey'],
  additionalProperties: false,
};
