import type { SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import { SOAP_NAMESPACES } from '../sfmc-endpoints';
import { escapeXml } from '../soap/soap-xml';

/*
 * SFMC's answer shapes, as its docs show them: REST errors `{ message, errorcode, documentation }`, the OAuth
 * errors of `/v2/token` `{ error, error_description, error_uri }`, the REST throttle (429, Retry-After, errorcode
 * 50100) and SOAP faults (always HTTP 500).
 */

export const JSON_HEADERS = { 'content-type': 'application/json' };
export const XML_HEADERS = { 'content-type': 'text/xml; charset=utf-8' };

/** Where SFMC's REST errors point (its error-handling page). */
export const ERROR_DOCUMENTATION =
  'https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm';

export function restError(status: number, message: string, errorcode = 0): SandboxResponse {
  return { status, headers: JSON_HEADERS, body: { message, errorcode, documentation: '' } };
}

/** SFMC's throttle answer ("Rate Limiting Errors": errorcode 50100, `retryAfter` in the body and the header). */
export function rateLimited(waitMs: number): SandboxResponse {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return {
    status: 429,
    headers: { ...JSON_HEADERS, 'retry-after': String(seconds) },
    body: {
      message: 'Rate limit exceeded',
      errorcode: 50100,
      retryAfter: seconds,
      documentation: ERROR_DOCUMENTATION,
    },
  };
}

export function oauthError(status: number, error: string, description: string): SandboxResponse {
  return {
    status,
    headers: JSON_HEADERS,
    body: { error, error_description: description, error_uri: 'https://developer.salesforce.com/docs' },
  };
}

export function soapFault(code: string, message: string, namespace = ''): SandboxResponse {
  return {
    status: 500,
    headers: XML_HEADERS,
    body:
      '<?xml version="1.0" encoding="utf-8"?>' +
      `<soap:Envelope xmlns:soap="${SOAP_NAMESPACES.envelope}"><soap:Body><soap:Fault>` +
      `<faultcode${namespace === '' ? '' : ` ${namespace}`}>${code}</faultcode><faultstring>${escapeXml(message)}</faultstring>` +
      '</soap:Fault></soap:Body></soap:Envelope>',
  };
}

export function isJson(request: SandboxRequest): boolean {
  return /^application\/json\b/i.test(request.headers['content-type'] ?? '');
}

export function parseJson(rawBody: Buffer): unknown {
  try {
    return JSON.parse(rawBody.toString('utf8'));
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
