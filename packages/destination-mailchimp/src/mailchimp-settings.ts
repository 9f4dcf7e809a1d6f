import type { SettingsSchema, SettingsValidation } from '@tessera/destination-kit';
import { MAILCHIMP_DEFAULT_BASE_URL } from './mailchimp-endpoints';

/** Settings of one Mailchimp destination instance (one audience); `mailchimpSettingsSchema` validates them. */
export interface MailchimpSettings extends Record<string, unknown> {
  /** Mailchimp's API root; `{dc}` is replaced by the API key's data center (`resolveMailchimpSettings`). */
  baseUrl: string;
  /** Marketing API key, `<32 hex>-<dc>`; sent as HTTP basic auth. */
  apiKey: string;
  /** The audience (list) id every operation works on. */
  listId: string;
  /** Secret carried in the webhook URL (`?secret=…`): Mailchimp signs nothing, so the URL is the proof. */
  webhookSecret?: string;
  /** Tessera segment → Mailchimp static segment id; unmapped segments become member tags. */
  segmentIds: Record<string, string>;
  /** Tessera attribute → audience merge tag, for attributes beyond the standard ones. */
  mergeFieldMapping: Record<string, string>;
}

/** A Mailchimp merge tag: up to 10 upper-case letters, digits and underscores. */
const MERGE_TAG_PATTERN = '^[A-Z][A-Z0-9_]{0,9}$';

export const mailchimpSettingsSchema: SettingsSchema = {
  type: 'object',
  properties: {
    baseUrl: {
      type: 'string',
      default: MAILCHIMP_DEFAULT_BASE_URL,
      pattern: '^https?://',
      description:
        "Mailchimp's API root; {dc} becomes the API key's data center. Point it at the sandbox (http://localhost:8080/sandbox/mailchimp) to try things.",
    },
    apiKey: {
      type: 'string',
      minLength: 1,
      'x-secret': true,
      description:
        'Marketing API key, e.g. 0123456789abcdef0123456789abcdef-us21 (the suffix is the data center).',
    },
    listId: {
      type: 'string',
      minLength: 1,
      description: 'Audience (list) id, from Audience → Settings → Audience name and defaults.',
    },
    webhookSecret: {
      type: 'string',
      minLength: 16,
      'x-secret': true,
      description: 'Secret the list webhook URL carries as ?secret=… (16+ characters).',
    },
    segmentIds: {
      type: 'object',
      additionalProperties: { type: 'string', pattern: '^[0-9]+$' },
      default: {},
      description:
        'Tessera segment → Mailchimp static segment id, e.g. {"gold-tier": "49381"}; others become tags.',
    },
    mergeFieldMapping: {
      type: 'object',
      additionalProperties: { type: 'string', pattern: MERGE_TAG_PATTERN },
      default: {},
      description:
        'Tessera attribute → audience merge tag, e.g. {"loyalty_tier": "TIER"}; unmapped ones are not sent.',
    },
  },
  required: ['apiKey', 'listId'],
  additionalProperties: false,
};

/** The data center a Mailchimp API key names in its suffix (`…-us21` → `us21`), or undefined. */
export function dataCenterOf(apiKey: string): string | undefined {
  return /-([a-z]+\d+)$/.exec(apiKey)?.[1];
}

/**
 * Puts the key's data center into `baseUrl`: every Mailchimp account lives on one data center, and its host is
 * `{dc}.api.mailchimp.com`. A base URL without `{dc}` (the sandbox) is kept as it is.
 */
export function resolveMailchimpSettings(settings: MailchimpSettings): SettingsValidation<MailchimpSettings> {
  const dc = dataCenterOf(settings.apiKey);
  if (dc === undefined) {
    return {
      ok: false,
      errors: [
        {
          pointer: '/apiKey',
          message:
            'must end with its data center, e.g. 0123456789abcdef0123456789abcdef-us21: copy the whole key from Mailchimp (Account → Extras → API keys)',
        },
      ],
    };
  }
  return { ok: true, settings: { ...settings, baseUrl: settings.baseUrl.replace('{dc}', dc) } };
}

/** HTTP basic auth as Mailchimp takes it: any user name, the API key as the password. */
export function mailchimpAuthorization(apiKey: string): string {
  return `Basic ${Buffer.from(`tessera:${apiKey}`, 'utf8').toString('base64')}`;
}
