import type { RateWindow } from '@tessera/destination-kit';

/*
 * Every Salesforce Marketing Cloud Engagement endpoint this destination calls, and the limits it keeps to.
 * SFMC versions its REST API in the path (`/hub/v1`, `/data/v1`, `/contacts/v1`, `/platform/v1`, `/v2/token`)
 * and its SOAP API by WSDL namespace, so the paths and the namespace below are the version pin: moving to a
 * new version is a reviewed change to this file, the request builders, the emulator and the tests.
 */

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
  /** Most rows in one asynchronous upsert request (SFMC's documented cap). */
  asyncRowsPerRequest: 32_000,
  /** Largest asynchronous request body Tessera sends, in bytes (SFMC refuses payloads of about 4 MB and up). */
  asyncRequestBytes: 4_000_000,
  /** Subscribers per SOAP Create call: small enough that one fault costs little, big enough to be cheap. */
  soapObjectsPerRequest: 100,
  /** Contact keys per delete request. */
  contactDeletesPerRequest: 100,
  /** Default row count above which an upsert goes through the asynchronous API. */
  defaultAsyncRowsThreshold: 50,
  /** `expires_in` of an SFMC access token, in seconds (about 18 minutes). */
  tokenLifetimeSeconds: 1080,
} as const;

/**
 * SFMC publishes no per-endpoint REST quota (it answers 429 with Retry-After when it throttles) and asks
 * integrations to keep concurrency low: Tessera paces each operation at 20 requests per second and 1,000 per
 * minute per destination instance, which the emulator enforces too.
 */
export const SFMC_RATE_LIMITS: RateWindow[] = [
  { requests: 20, perMs: 1_000 },
  { requests: 1_000, perMs: 60_000 },
];

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
