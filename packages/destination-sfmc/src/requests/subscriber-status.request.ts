import {
  AuthError,
  type BatchResult,
  isDeliveryError,
  type ItemResult,
  type OperationContext,
  RejectedError,
  RetryableError,
  ValidationError,
} from '@tessera/destination-kit';
import { hostUrl, SFMC_ENDPOINTS, SOAP_NAMESPACES, type SubscriberStatus } from '../sfmc-endpoints';
import type { SfmcSettings } from '../sfmc-settings';
import { child, children, escapeXml, parseXml, soapBody, soapFault, text } from '../soap/soap-xml';

/*
 * Subscriber status over SOAP: SFMC's REST API has no subscriber status, so `subscribe`, `unsubscribe` and
 * `suppress` send a SOAP `Create` of `Subscriber` objects with SaveAction `UpdateAdd` (create the subscriber
 * when it is new, update it otherwise) and read each object's `Results` back by `OrdinalID`.
 */

/** One subscriber object of the envelope. */
export interface SubscriberObject {
  SubscriberKey: string;
  EmailAddress: string;
  Status: SubscriberStatus;
}

/**
 * An item that can become a subscriber object, or why it cannot: a `problem` rejects the item, a `skip` marks
 * a member SFMC cannot hold as a subscriber (no email address), counted but never retried.
 */
export type SubscriberOrProblem = { subscriber: SubscriberObject } | { problem: string } | { skip: string };

export function subscriberObject(
  item: { customerId: string; email?: string; channel?: 'email' | 'sms' },
  status: SubscriberStatus,
): SubscriberOrProblem {
  if (item.channel === 'sms') {
    return { problem: 'SFMC SMS consent lives in MobileConnect, which this destination does not cover' };
  }
  if (item.email === undefined || item.email === '') {
    return { skip: 'SFMC subscribers need an email address and the member has none' };
  }
  return { subscriber: { SubscriberKey: item.customerId, EmailAddress: item.email, Status: status } };
}

/** The SOAP envelope creating or updating `subscribers` (token in the `fueloauth` header). */
export function buildSubscriberEnvelope(
  token: string,
  soapUrl: string,
  subscribers: SubscriberObject[],
): string {
  const objects = subscribers
    .map(
      (subscriber) =>
        `<Objects xsi:type="Subscriber"><SubscriberKey>${escapeXml(subscriber.SubscriberKey)}</SubscriberKey>` +
        `<EmailAddress>${escapeXml(subscriber.EmailAddress)}</EmailAddress><Status>${subscriber.Status}</Status></Objects>`,
    )
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<s:Envelope xmlns:s="${SOAP_NAMESPACES.envelope}" xmlns:a="${SOAP_NAMESPACES.addressing}">` +
    '<s:Header>' +
    '<a:Action s:mustUnderstand="1">Create</a:Action>' +
    `<a:To s:mustUnderstand="1">${escapeXml(soapUrl)}</a:To>` +
    `<fueloauth xmlns="${SOAP_NAMESPACES.fuelOAuth}">${escapeXml(token)}</fueloauth>` +
    '</s:Header>' +
    `<s:Body xmlns:xsi="${SOAP_NAMESPACES.xsi}">` +
    `<CreateRequest xmlns="${SOAP_NAMESPACES.partnerApi}">` +
    '<Options><SaveOptions><SaveOption><PropertyName>*</PropertyName><SaveAction>UpdateAdd</SaveAction></SaveOption></SaveOptions></Options>' +
    objects +
    '</CreateRequest></s:Body></s:Envelope>'
  );
}

/** One entry of a `CreateResponse`'s `Results`. */
export interface SoapResult {
  statusCode: string;
  statusMessage: string;
  ordinalId: number | undefined;
  errorCode: string | undefined;
}

/** The Results of a SOAP Create/Update response, or undefined when the XML is not such a response. */
export function parseSaveResults(xml: string): SoapResult[] | undefined {
  const body = soapBody(parseXml(xml));
  const response = child(body, 'CreateResponse') ?? child(body, 'UpdateResponse');
  if (response === undefined) return undefined;
  return children(response, 'Results').map((result) => {
    const ordinal = text(result, 'OrdinalID');
    return {
      statusCode: text(result, 'StatusCode') ?? '',
      statusMessage: text(result, 'StatusMessage') ?? '',
      ordinalId: ordinal === undefined || !/^\d+$/.test(ordinal) ? undefined : Number(ordinal),
      errorCode: text(result, 'ErrorCode'),
    };
  });
}

/** Per-subscriber results: matched by OrdinalID (position in the request), else by position in Results. */
export function subscriberResults(count: number, results: SoapResult[]): ItemResult[] {
  const byOrdinal = new Map<number, SoapResult>();
  results.forEach((result, position) => byOrdinal.set(result.ordinalId ?? position, result));
  return Array.from({ length: count }, (_, index): ItemResult => {
    const result = byOrdinal.get(index);
    if (result === undefined)
      return { status: 'rejected', reason: 'SFMC returned no result for this subscriber' };
    if (result.statusCode === 'OK') return { status: 'ok' };
    const code = result.errorCode === undefined ? '' : ` (ErrorCode ${result.errorCode})`;
    return { status: 'rejected', reason: `SFMC: ${result.statusMessage || result.statusCode}${code}` };
  });
}

/**
 * SOAP answers every fault with HTTP 500, which the kit classifies as retryable. The fault code tells them
 * apart: a security fault (bad or expired `fueloauth` token) is an AuthError, so the runner refreshes the token
 * once; a `Client` fault (the request itself is invalid) is rejected, so the kit halves the batch down to the
 * bad subscriber; `Server` faults (SFMC busy or throttling) and anything unparseable stay retryable.
 */
export function classifySoapFailure(error: unknown): unknown {
  if (!isDeliveryError(error) || error.kind !== 'retryable' || error.body === undefined) return error;
  const fault = soapFault(parseXml(error.body));
  if (fault === undefined) return error;
  const details = { ...(error.status === undefined ? {} : { status: error.status }), body: error.body };
  const code = fault.faultcode.replace(/^.*:/, '');
  if (code === 'Security' || code === 'InvalidSecurity') {
    return new AuthError(`SFMC SOAP security fault: ${fault.faultstring}`, details);
  }
  if (code === 'Client') return new RejectedError(`SFMC SOAP client fault: ${fault.faultstring}`, details);
  return error;
}

/** Sets the All Subscribers status of each email item; sms items are rejected, members without email skipped. */
export async function setSubscriberStatus(
  items: { customerId: string; email?: string; channel?: 'email' | 'sms' }[],
  status: SubscriberStatus,
  { http, settings, token }: OperationContext<SfmcSettings>,
): Promise<BatchResult> {
  // The runner always authenticates SFMC calls; no token means the definition lost its `authentication`.
  if (token === undefined) throw new ValidationError('No SFMC access token for the SOAP envelope');
  const prepared = items.map((item) => subscriberObject(item, status));
  const subscribers: SubscriberObject[] = [];
  const positions: number[] = [];
  prepared.forEach((entry, index) => {
    if ('subscriber' in entry) {
      subscribers.push(entry.subscriber);
      positions.push(index);
    }
  });
  const results: ItemResult[] = prepared.map((entry) =>
    'problem' in entry
      ? { status: 'rejected', reason: entry.problem }
      : 'skip' in entry
        ? { status: 'skipped', reason: entry.skip }
        : { status: 'ok' },
  );
  if (subscribers.length === 0) return results;
  const soapUrl = hostUrl(settings.soapBaseUrl, SFMC_ENDPOINTS.soap.path);
  let xml: string;
  try {
    const response = await http.request<string>('POST', soapUrl, {
      body: buildSubscriberEnvelope(token, soapUrl, subscribers),
      contentType: 'text/xml; charset=utf-8',
      headers: { soapaction: 'Create', accept: 'text/xml' },
    });
    xml = typeof response.body === 'string' ? response.body : '';
  } catch (error) {
    throw classifySoapFailure(error);
  }
  const saved = parseSaveResults(xml);
  // A 2xx without a CreateResponse is a broken answer, not a verdict on the subscribers: try again later.
  if (saved === undefined)
    throw new RetryableError('SFMC SOAP response has no CreateResponse', { body: xml });
  subscriberResults(subscribers.length, saved).forEach((result, index) => {
    const position = positions[index];
    if (position !== undefined) results[position] = result;
  });
  return results;
}
