import type { SettingsIssue, SettingsSchema, SettingsValidation } from '@tessera/destination-kit';
import { SFMC_LIMITS } from './sfmc-endpoints';

export interface SfmcSettings extends Record<string, unknown> {
  /** The tenant's subdomain, the part before `.rest.marketingcloudapis.com`. */
  subdomain: string;
  /** REST host; `{subdomain}` is replaced by `resolveSfmcSettings`. */
  baseUrl: string;
  /** Auth host (token requests); `{subdomain}` is replaced. */
  authBaseUrl: string;
  /** SOAP host; `{subdomain}` is replaced. */
  soapBaseUrl: string;
  clientId: string;
  clientSecret: string;
  /** MID of the business unit the token is for (`account_id`); the integration's default one when unset. */
  accountId?: string;
  /** External key of the data extension holding one row per Tessera profile, primary key `TesseraId`. */
  dataExtensionKey: string;
  /** Tessera attribute → data extension column; unmapped attributes keep their names. */
  fieldMapping: Record<string, string>;
  /** Tessera segment → boolean data extension column; unmapped segments use a column named after the segment. */
  segmentColumns: Record<string, string>;
  /** Upserts of more rows than this go through the asynchronous API. */
  asyncRowsThreshold: number;
  /** How long an upsert waits for its asynchronous request before handing the items back for a retry, in ms. */
  asyncJobWaitMs: number;
  /** Signature key of the ENS callback (base64, as ENS returned it when the callback was created). */
  ensSignatureKey?: string;
  /** Id of the ENS callback; when set, verification requests for another callback are refused. */
  ensCallbackId?: string;
}

const SUBDOMAIN_PLACEHOLDER = '{subdomain}';

/** A data extension column name: letters, digits, underscores and spaces (SFMC's rule), not starting with a digit. */
const COLUMN_NAME = '^[A-Za-z_][A-Za-z0-9_ ]{0,127}$';

export const sfmcSettingsSchema: SettingsSchema = {
  type: 'object',
  properties: {
    subdomain: {
      type: 'string',
      // Tenant subdomains are 28 lower-case letters, digits and dashes (e.g. mc563885gzs27c5t9-63k636ttgm).
      pattern: '^[a-z0-9][a-z0-9-]{2,62}$',
      description:
        'Tenant subdomain from Setup > Installed Packages (the part before .rest.marketingcloudapis.com)',
    },
    baseUrl: {
      type: 'string',
      default: `https://${SUBDOMAIN_PLACEHOLDER}.rest.marketingcloudapis.com`,
      description: 'REST host; {subdomain} is replaced by the subdomain setting',
    },
    authBaseUrl: {
      type: 'string',
      default: `https://${SUBDOMAIN_PLACEHOLDER}.auth.marketingcloudapis.com`,
      'x-endpoint': true,
      description: 'Auth host for /v2/token; {subdomain} is replaced by the subdomain setting',
    },
    soapBaseUrl: {
      type: 'string',
      default: `https://${SUBDOMAIN_PLACEHOLDER}.soap.marketingcloudapis.com`,
      'x-endpoint': true,
      description: 'SOAP host for /Service.asmx; {subdomain} is replaced by the subdomain setting',
    },
    clientId: {
      type: 'string',
      minLength: 1,
      description: 'Client id of the server-to-server installed package',
    },
    clientSecret: {
      type: 'string',
      minLength: 1,
      'x-secret': true,
      description: 'Client secret of the installed package',
    },
    accountId: {
      type: 'string',
      pattern: '^[0-9]+$',
      description: 'MID of the business unit (sent as account_id); the package default when unset',
    },
    dataExtensionKey: {
      type: 'string',
      minLength: 1,
      description: 'External key of the data extension of Tessera profiles (primary key column TesseraId)',
    },
    fieldMapping: {
      type: 'object',
      additionalProperties: { type: 'string', pattern: COLUMN_NAME },
      default: {},
      description: 'Tessera attribute → data extension column, e.g. {"loyalty_tier": "LoyaltyTier"}',
    },
    segmentColumns: {
      type: 'object',
      additionalProperties: { type: 'string', pattern: COLUMN_NAME },
      default: {},
      description: 'Tessera segment → boolean column, e.g. {"gold-tier": "SegmentGoldTier"}',
    },
    asyncRowsThreshold: {
      type: 'integer',
      minimum: 1,
      maximum: SFMC_LIMITS.asyncRowsPerRequest,
      default: SFMC_LIMITS.defaultAsyncRowsThreshold,
      description: 'Upserts of more rows than this use the asynchronous rows API',
    },
    asyncJobWaitMs: {
      type: 'integer',
      minimum: 0,
      default: 120_000,
      description: 'How long an upsert waits for its asynchronous request before retrying later',
    },
    ensSignatureKey: {
      type: 'string',
      pattern: '^[A-Za-z0-9+/]+={0,2}$',
      'x-secret': true,
      description: 'Signature key of the ENS callback (base64)',
    },
    ensCallbackId: { type: 'string', minLength: 1, description: 'Id of the ENS callback' },
  },
  required: ['subdomain', 'clientId', 'clientSecret', 'dataExtensionKey'],
  additionalProperties: false,
};

const HOST_SETTINGS = ['baseUrl', 'authBaseUrl', 'soapBaseUrl'] as const;

/** Puts the subdomain into the three hosts and checks they are http(s) URLs and that segment columns are valid. */
export function resolveSfmcSettings(settings: SfmcSettings): SettingsValidation<SfmcSettings> {
  const resolved: SfmcSettings = { ...settings };
  const errors: SettingsIssue[] = [];
  for (const name of HOST_SETTINGS) {
    const value = settings[name].split(SUBDOMAIN_PLACEHOLDER).join(settings.subdomain);
    resolved[name] = value.replace(/\/+$/, '');
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      errors.push({ pointer: `/${name}`, message: `must be an http(s) URL (got ${JSON.stringify(value)})` });
    }
  }
  if (settings.ensSignatureKey !== undefined && Buffer.from(settings.ensSignatureKey, 'base64').length < 16) {
    errors.push({ pointer: '/ensSignatureKey', message: 'must decode to at least 16 bytes' });
  }
  return errors.length === 0 ? { ok: true, settings: resolved } : { ok: false, errors };
}

/** The boolean column of a segment: the mapped name, else the segment's own name. */
export function segmentColumn(settings: Pick<SfmcSettings, 'segmentColumns'>, segment: string): string {
  return settings.segmentColumns[segment] ?? segment;
}
