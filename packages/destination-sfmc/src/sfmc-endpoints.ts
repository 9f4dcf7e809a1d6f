import type { RateBudget } from '@tessera/destination-kit';

/*
 * Every Salesforce Marketing Cloud Engagement endpoint this destination calls, and the limits it keeps to.
 * SFMC versions its REST API in the path (`/hub/v1`, `/data/v1`, `/contacts/v1`, `/platform/v1`, `/v2/token`)
 * and its SOAP API by WSDL namespace, so the paths and the namespace below are the version pin: moving to a
 * new version is a reviewed change to this file, the request builders, the emulator and the tests.
 */

/**
 * A tenant's three hosts, `{subdomain}.rest.`, `.auth.` and `.soap.marketingcloudapis.com` (Setup > Installed
 * Packages): the only hosts a request may go to, token requests included.
 */
export const SFMC_HOSTS = [
  '*.rest.marketingcloudapis.com',
  '*.auth.marketingcloudapis.com',
  '*.soap.marketingcloudapis.com',
] as const;

export const SFMC_ENDPOINTS = {
  /** OAuth 2.0 client credentials, on the auth host (`authBaseUrl`). */
  token: { method: 'POST', path: '/v2/token' },
  /** Synchronous upsert of data extension rows (`[{ keys, values }]`), on the REST host. */
  rowset: { method: 'POST', path: '/hub/v1/dataevents/key:{key}/rowset' },
  /** Asynchronous upsert of data extension rows (`{ items: [...] }`); PUT upserts, POST would only insert. */
  asyncRows: { method: 'PUT', path: '/data/v1/async/dataextensions/key:{key}/rows' },
  asyncStatus: { method: 'GET', path: '/data/v1/async/{requestId}/status' },
  asyncResults: { method: 'GET', path: '/data/v1/async/{requestId}/results' },
  /** Rows of a data extension, filtered with `$filter`. */
  rowQuery: { method: 'GET', path: '/data/v1/customobjectdata/key/{key}/rowset' },
  /** Contact deletion by contact key (`?type=keys`). */
  contactsDelete: { method: 'POST', path: '/contacts/v1/contacts/actions/delete' },
  /** Confirms an Event Notification Service callback with the key ENS posted to it. */
  ensVerify: { method: 'POST', path: '/platform/v1/ens-verify' },
  /** Who the token belongs to: the cheapest authenticated read, used by `testConnection`. */
  tokenContext: { method: 'GET', path: '/platform/v1/tokenContext' },
  /** The SOAP API endpoint, on the SOAP host (`soapBaseUrl`). */
  soap: { method: 'POST', path: '/Service.asmx' },
} as const;

export const SFMC_LIMITS = {
  /** Most rows in one synchronous rowset upsert: SFMC's advice for the rowset ("50 records at a time"). */
  syncRowsPerRequest: 50,
  /** Most rows in one asynchronous upsert request. */
  asyncRowsPerRequest: 32_000,
  /**
   * Largest rowset or asynchronous request body, in bytes: SFMC's "maximum payload size is 5 MB", read as the
   * smaller 5,000,000 so that either reading holds. The emulator refuses larger bodies with the same figure.
   */
  requestBytes: 5_000_000,
  /** Objects per SOAP request: SFMC's "maximum batch size of synchronous API requests" (50 objects). */
  soapObjectsPerRequest: 50,
  /** Contact keys per delete request. */
  contactDeletesPerRequest: 100,
  /** Default row count above which an upsert goes through the asynchronous API. */
  defaultAsyncRowsThreshold: 50,
  /** `expires_in` of an SFMC access token, in seconds (about 18 minutes). */
  tokenLifetimeSeconds: 1080,
} as const;

/** Every REST path prefix this destination calls: the tenant-wide REST budget counts them all. */
const REST_REQUESTS = ['* /hub/**', '* /data/**', '* /contacts/**', '* /platform/**'];

/**
 * SFMC's throttles, counted per tenant (see `sfmcAccountKey`) by every worker, and enforced by the emulator
 * from this same table. SFMC publishes no request rate: it throttles a tenant's REST calls together (429 +
 * Retry-After) and its SOAP calls (HTTP 500, Server fault) when they load the stack, and asks for one token
 * request per 20 minutes. The windows are Tessera's own pace, the same for every destination instance of a
 * tenant:
 * - `rest`: every REST call of the tenant, 20 per second and 1,000 per minute;
 * - `soap`: SOAP calls (50 subscribers each), 20 per second and 1,000 per minute;
 * - `token`: `/v2/token`, 5 per minute — a cached token is shared by every worker and lasts 18 minutes, so this
 *   only bounds refreshes after refusals.
 */
export const SFMC_RATE_BUDGETS = {
  rest: {
    windows: [
      { requests: 20, perMs: 1_000 },
      { requests: 1_000, perMs: 60_000 },
    ],
    requests: REST_REQUESTS,
  },
  soap: {
    windows: [
      { requests: 20, perMs: 1_000 },
      { requests: 1_000, perMs: 60_000 },
    ],
    requests: ['POST /Service.asmx'],
  },
  token: { windows: [{ requests: 5, perMs: 60_000 }], requests: ['POST /v2/token'] },
} satisfies Record<string, RateBudget>;

/** Namespaces of SFMC's SOAP API (the partner WSDL) and of the SOAP 1.1 envelope. */
export const SOAP_NAMESPACES = {
  envelope: 'http://schemas.xmlsoap.org/soap/envelope/',
  addressing: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  fuelOAuth: 'http://exacttarget.com',
  partnerApi: 'http://exacttarget.com/wsdl/partnerAPI',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
} as const;

/** Subscriber statuses SFMC's All Subscribers list knows (SOAP `SubscriberStatus`). */
export const SUBSCRIBER_STATUSES = ['Active', 'Bounced', 'Held', 'Unsubscribed', 'Deleted'] as const;
export type SubscriberStatus = (typeof SUBSCRIBER_STATUSES)[number];

/** Fills `{key}`-style placeholders of an endpoint path, URL-encoding each value. */
export function endpointPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = values[name];
    return value === undefined ? whole : encodeURIComponent(value);
  });
}

/** Joins a host setting and a path without doubling or dropping the slash. */
export function hostUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}
